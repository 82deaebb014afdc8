"""The campaign document of spec §2 and its YAML/JSON input and output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from overture.definition import yamlio
from overture.definition.activities import AnyActivity

SLUG = r"^[a-z0-9][a-z0-9_-]*$"


class VariableSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["string", "integer", "number", "boolean", "date", "datetime"] = "string"
    default: Any = None
    test_value: Any = None
    description: str | None = None


class ErrorPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    on_error: Literal["suspend", "ignore", "abort"] = "suspend"
    max_consecutive: int | None = Field(default=None, ge=1)


class Campaign(BaseModel):
    """A whole campaign document. `canvas` is kept as is and never read by the engine."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=SLUG, max_length=100)
    label: str | None = None
    description: str | None = None
    target: str | None = None
    timezone: str = "UTC"
    schedule: dict[str, Any] | None = None
    variables: dict[str, VariableSpec] = Field(default_factory=dict)
    error_policy: ErrorPolicy = Field(default_factory=ErrorPolicy)
    activities: list[AnyActivity] = Field(min_length=1)
    canvas: dict[str, Any] | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone such as Europe/Paris") from None
        return value

    def activity(self, activity_id: str) -> Any:
        for activity in self.activities:
            if activity.id == activity_id:
                return activity
        raise KeyError(activity_id)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_defaults=True)


class DocumentError(Exception):
    """A document that cannot even be read as YAML or JSON."""


def read_document(path: Path) -> dict[str, Any]:
    """Read a YAML or JSON file as a mapping, with a readable error when it is not one."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DocumentError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DocumentError(f"{path}: cannot read: {exc}") from None
    return parse_document(text, str(path))


def parse_document(text: str, origin: str = "document") -> dict[str, Any]:
    try:
        if origin.endswith(".json"):
            data = json.loads(text)
        else:
            data = yamlio.load(text)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise DocumentError(f"{origin}: not valid YAML{where}: {problem}") from None
    if not isinstance(data, dict):
        raise DocumentError(f"{origin}: a campaign document must be a mapping at the top level")
    return data


def campaign_json_schema() -> dict[str, Any]:
    return Campaign.model_json_schema(by_alias=True)
