"""schemathesis against the running server's OpenAPI schema: no answer is a 5xx.

Every operation of `/api/openapi.json` is called with requests schemathesis generates
from the schema, valid ones (positive) and invalid ones (negative), a bounded number of
each, derandomized, as an admin so that every operation is exercised past its role
check; the only check is `not_a_server_error`. Half the generated requests name real
resources (campaigns in several statuses, a finished run and one waiting at a
breakpoint, their activities and ports...) instead of random ones, so that the
handlers behind the 404s are fuzzed too. The server is this module's own: the fuzzer
adds users and campaigns, disables users and archives campaigns.

The schema is read from the running server; `create_app(...).openapi()` gives the same
one at collection time, to make one pytest test per operation and generation mode.
(schemathesis's own `@schema.parametrize()` gives its items one node id on pytest 9,
so that xdist would run only one of them.)
"""

from __future__ import annotations

import itertools
from types import SimpleNamespace
from typing import Any, cast

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig

from overture.server.app import create_app
from server.conftest import Api, small_document

pytestmark = pytest.mark.xdist_group("server_schemathesis")

MAX_EXAMPLES = 25
SEED = 2027
OPENAPI = create_app(cast(Any, SimpleNamespace(tracker=None, ws=None))).openapi()
OPERATIONS = sorted((method.upper(), path) for path, methods in OPENAPI["paths"].items()
                    for method in methods)
#: the operations that take something a request can get wrong beyond its path (a string
#: in a path is never invalid): a body or query parameters
WITH_INPUT = {(method.upper(), path) for path, methods in OPENAPI["paths"].items()
              for method, spec in methods.items()
              if "requestBody" in spec
              or any(p["in"] == "query" for p in spec.get("parameters", []))}
CASES = [pytest.param(method, path, mode, id=f"{method} {path} {mode.value}")
         for method, path in OPERATIONS for mode in GenerationMode
         if mode == GenerationMode.POSITIVE or (method, path) in WITH_INPUT]
CONFIG = SchemathesisConfig.from_dict({
    "seed": SEED,
    "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True},
})


@pytest.fixture(scope="module")
def api_schema(api: Api) -> Any:
    """The running server's schema, loaded with an admin's token."""
    return schemathesis.openapi.from_url(
        f"{api.server.url}/api/openapi.json", config=CONFIG, timeout=30,
        headers={"Authorization": f"Bearer {api.server.token}"})


@pytest.fixture(scope="module")
def real(api: Api) -> dict[str, list[Any]]:
    """Real values of path parameters: campaigns in several statuses, a finished run and
    one waiting at a breakpoint, their activities and ports, users, a token."""
    spring = api.document("spring-sale")
    api.ok("POST", "/api/campaigns", {"document": spring}, status=201)
    done = api.ok("POST", "/api/campaigns/spring-sale/test-runs", {}, status=202)["run"]
    waiting = api.ok("POST", "/api/campaigns/spring-sale/test-runs",
                     {"breakpoints": ["tiers"]}, status=202)["run"]
    api.wait_run(done)
    api.wait_run(waiting, "waiting")
    api.ok("POST", "/api/campaigns", {"document": small_document("signalled")}, status=201)
    api.ok("POST", "/api/campaigns/signalled/publish")
    api.ok("POST", "/api/campaigns", {"document": small_document("draft")}, status=201)
    token = api.ok("POST", "/api/me/tokens", {"name": "fuzzed"}, status=201)["token"]["id"]
    return {
        "name": ["spring-sale", "signalled", "draft"],
        "run_id": [done, waiting],
        # the live stream of a waiting run lasts until it is done: fuzzed on finished runs
        "finished_run_id": [done],
        "activity_id": ["buyers", "tiers", "vip_mail"],
        "port": ["out", "vip", "complement"],
        "number": [1, 2],
        "table": ["customers", "purchases", "stores"],
        "column": ["country", "store_id"],
        "username": ["viewer-user", "manager-user"],
        "token_id": [token],
    }


def cases(operation: Any, mode: GenerationMode, real: dict[str, list[Any]]) -> Any:
    """Generated requests; half of them with real path parameters when there are some."""
    generated = operation.as_strategy(generation_mode=mode)
    names = [p.name for p in operation.path_parameters]
    if not names or not all(name in real for name in names):
        return generated
    pools = {name: real[name] for name in names}
    if operation.path.endswith("/events"):
        pools["run_id"] = real["finished_run_id"]
    combinations = [dict(zip(names, values, strict=True))
                    for values in itertools.product(*pools.values())]
    with_real = st.one_of([operation.as_strategy(generation_mode=mode, path_parameters=values)
                           for values in combinations])
    return st.one_of(generated, with_real)


def test_running_server_serves_this_schema(api: Api) -> None:
    answer = api.call("GET", "/api/openapi.json")
    assert answer.status == 200
    assert answer.body == OPENAPI
    assert len(OPERATIONS) > 40


@pytest.mark.parametrize("method,path,mode", CASES)
def test_no_server_error(api: Api, api_schema: Any, real: dict[str, list[Any]], method: str,
                         path: str, mode: GenerationMode) -> None:
    operation = api_schema[path][method]
    headers = {"Authorization": f"Bearer {api.server.token}"}

    @given(case=cases(operation, mode, real))
    @settings(max_examples=MAX_EXAMPLES, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def call(case: Any) -> None:
        case.call_and_validate(base_url=api.server.url, headers=headers,
                               checks=[not_a_server_error], timeout=60)

    call()


# ---- what schemathesis found, kept as regular tests ----

@pytest.mark.parametrize("endpoint", ["/api/rules/count", "/api/rules/sql"])
def test_rules_of_a_document_with_problems_are_refused_with_them(api: Api,
                                                                 endpoint: str) -> None:
    """Was a 500 (`InvalidDocument` reached the catch-all handler)."""
    answer = api.call("POST", endpoint, {"document": {}, "activity": "0" * 400})
    assert answer.status == 422, answer.body
    assert answer.body["error"]["code"] == "invalid"
    assert answer.body["error"]["problems"]
    broken = small_document("broken")
    broken["activities"][0]["rule"]["field"] = "no_such_field"
    answer = api.call("POST", endpoint, {"document": broken, "activity": "french"})
    assert answer.status == 422, answer.body
    assert [p["path"] for p in answer.body["error"]["problems"]] == ["french.rule.field"]
