"""JSON errors: `{"error": {"code", "message", ...}}` for every failure, never a traceback."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from overture.auth import AuthError
from overture.definition.campaign import DocumentError
from overture.definition.errors import InvalidDocument
from overture.errors import OvertureError
from overture.service.lifecycle import LifecycleError

logger = logging.getLogger("overture.server")

STATUS = {"not_found": 404, "conflict": 409, "invalid": 422, "too_soon": 429,
          "unauthorized": 401, "forbidden": 403}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: Any):
        self.status, self.code, self.message, self.extra = status, code, message, extra


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None,
                   **extra: Any) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, **extra}},
                        status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api(_: Request, exc: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return error_response(exc.status, exc.code, exc.message, headers, **exc.extra)

    @app.exception_handler(LifecycleError)
    async def _lifecycle(_: Request, exc: LifecycleError) -> JSONResponse:
        status = STATUS.get(exc.code, 400)
        extra: dict[str, Any] = {}
        headers = None
        if exc.problems:
            extra["problems"] = [p.to_dict() for p in exc.problems]
        if exc.retry_after is not None:
            headers = {"Retry-After": str(exc.retry_after)}
            extra["retry_after"] = exc.retry_after
        return error_response(status, exc.code, str(exc), headers, **extra)

    @app.exception_handler(AuthError)
    async def _auth(_: Request, exc: AuthError) -> JSONResponse:
        return error_response(422, "invalid", str(exc))

    @app.exception_handler(InvalidDocument)
    async def _invalid_document(_: Request, exc: InvalidDocument) -> JSONResponse:
        return error_response(422, "invalid", f"the document has {len(exc.problems)} "
                                              "problem(s)",
                              problems=[p.to_dict() for p in exc.problems])

    @app.exception_handler(DocumentError)
    async def _document(_: Request, exc: DocumentError) -> JSONResponse:
        return error_response(422, "invalid", str(exc))

    @app.exception_handler(OvertureError)
    async def _overture(_: Request, exc: OvertureError) -> JSONResponse:
        return error_response(400, "bad_request", str(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [{"path": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg")}
                   for e in exc.errors()]
        return error_response(422, "invalid_request", "the request is not valid",
                              details=details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail))

    @app.exception_handler(Exception)
    async def _internal(_: Request, exc: Exception) -> JSONResponse:
        logger.exception("internal error")
        return error_response(500, "internal", f"internal error: {type(exc).__name__}")
