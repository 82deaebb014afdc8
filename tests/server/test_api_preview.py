"""Simulate content through HTTP: `POST /api/campaigns/NAME/preview` renders the message
one profile would get, as `overture preview` does; the test runs it makes are marked
`preview`, are not the campaign's last execution, and only the newest are kept.

Expectations come from the generated customers, read with DuckDB directly
(`support.retail.customers`), and from the rows the API shows behind a transition.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from overture.auth import Role
from overture.server.routes_preview import PREVIEW_RUNS_KEPT
from server.conftest import Api, error, username
from support.retail import customers, emailable

pytestmark = pytest.mark.xdist_group("server_preview")

MANAGER = Role.MANAGER
PATH = "/api/campaigns/spring-sale/preview"


@pytest.fixture(scope="module")
def spring(api: Api) -> dict[str, Any]:
    """spring-sale as a draft, a finished test run of it, and who reaches its VIP mail:
    those it would send to and those it would exclude."""
    api.ok("POST", "/api/campaigns", {"document": api.document("spring-sale")}, status=201,
           role=MANAGER)
    run = api.ok("POST", "/api/campaigns/spring-sale/test-runs", {}, status=202,
                 role=MANAGER)["run"]
    api.wait_run(run)
    rows = api.ok("GET", f"/api/runs/{run}/activities/tiers/ports/vip/rows?limit=500")["rows"]
    vip = sorted(row["customer_id"] for row in rows)
    people = {row["customer_id"]: row for row in customers(api.pristine)}
    reachable = emailable(list(people.values()))
    sent = [key for key in vip if key in reachable]
    excluded = [key for key in vip if key not in reachable]
    assert sent, "the sample data must reach the VIP mail"
    outside = next(key for key, row in sorted(people.items()) if row["country"] == "DE")
    return {"run": run, "people": people, "sent": sent, "excluded": excluded,
            "outside": outside}


def preview(api: Api, body: dict[str, Any], role: Role = MANAGER) -> Any:
    return api.call("POST", PATH, body, role=role)


def test_the_message_of_one_profile(api: Api, spring: dict[str, Any]) -> None:
    key = spring["sent"][0]
    person = spring["people"][key]
    answer = preview(api, {"activity": "vip_mail", "profile": str(key)})
    assert answer.status == 200, answer.body
    shown = answer.body
    assert shown["made_for_preview"] is True and shown["run_mode"] == "test"
    assert shown["campaign"] == "spring-sale" and shown["activity"] == "vip_mail"
    assert shown["channel"] == "email" and shown["dimension"] == "customers"
    assert shown["key"] == "customer_id" and shown["profile"] == str(key)
    assert shown["address"] == person["email"].strip()
    assert shown["excluded"] is None
    message = shown["message"]
    assert message["subject"] == f"{person['first_name']}, your VIP preview of the spring sale"
    assert f"Hello {person['first_name']}," in message["html"]
    assert f"{person['loyalty_tier']} customers" in message["html"]
    assert f"See you soon in {person['city']}!" in message["text"]
    assert message["text_derived"] is True
    assert message["headers"]["Subject"] == message["subject"]
    assert message["headers"]["From"] == "Overture Shop <news@shop.example>"

    # the run it made: a test run marked as a preview's, by the manager
    run = api.ok("GET", f"/api/runs/{shown['run']}")
    assert run["mode"] == "test" and run["status"] == "done"
    assert run["trigger"] == "preview" and run["started_by"] == username(MANAGER)
    # ... which is not the campaign's last execution: the earlier test run still is
    listed = {c["name"]: c for c in api.ok("GET", "/api/campaigns")["campaigns"]}
    assert listed["spring-sale"]["last_run"]["id"] == spring["run"]

    # another profile from that run at once: no new run
    other = spring["sent"][-1]
    again = preview(api, {"activity": "vip_mail", "profile": str(other),
                          "run": shown["run"]}).body
    assert again["made_for_preview"] is False and again["run"] == shown["run"]
    assert again["message"]["subject"].startswith(spring["people"][other]["first_name"])
    # a profile the email activity excludes is shown with the reason
    if spring["excluded"]:
        left = preview(api, {"activity": "vip_mail", "profile": str(spring["excluded"][0]),
                             "run": spring["run"]}).body
        assert left["excluded"] in {"no_address", "invalid_address", "no_consent"}


def test_an_unsaved_document_is_previewed_as_sent(api: Api, spring: dict[str, Any]) -> None:
    key = spring["sent"][0]
    edited = copy.deepcopy(api.document("spring-sale"))
    mail = next(a for a in edited["activities"] if a["id"] == "vip_mail")
    mail["subject"] = "{{ first_name }}: {{ vars.coupon }} opens the sale early"
    shown = preview(api, {"document": edited, "activity": "vip_mail", "profile": str(key),
                          "variables": {"coupon": "EARLY5"}}).body
    assert shown["message"]["subject"] == \
        f"{spring['people'][key]['first_name']}: EARLY5 opens the sale early"
    # the stored draft is untouched
    assert api.ok("GET", "/api/campaigns/spring-sale")["draft"] == api.document("spring-sale")
    # without variables, the test value of `coupon` (TEST10)
    plain = preview(api, {"document": edited, "activity": "vip_mail",
                          "profile": str(key)}).body
    assert "TEST10 opens the sale early" in plain["message"]["subject"]


def test_previews_that_cannot_be_made_say_why(api: Api, spring: dict[str, Any]) -> None:
    key = str(spring["sent"][0])
    run = spring["run"]
    unknown = error(preview(api, {"activity": "nope", "profile": key, "run": run}), 422,
                    "invalid")
    assert "has no activity 'nope'" in unknown["message"]
    assert "vip_mail" in unknown["message"]  # the channel activities are listed
    not_channel = error(preview(api, {"activity": "tiers", "profile": key, "run": run}), 422,
                        "invalid")
    assert "not a channel" in not_channel["message"]
    nobody = error(preview(api, {"activity": "vip_mail", "profile": "999999", "run": run}),
                   422, "invalid")
    assert "no profile customer_id = '999999'" in nobody["message"]
    outside = str(spring["outside"])
    dropped = error(preview(api, {"activity": "vip_mail", "profile": outside, "run": run}),
                    422, "not_reached")
    assert f"customer_id {outside} does not reach vip_mail" in dropped["message"]
    assert dropped["drops"][0]["activity"] == "buyers"
    assert set(dropped["drops"][0]) == {"activity", "type", "why"}

    broken = api.document("spring-sale")
    broken["activities"][0]["rule"] = {"field": "no_such_field", "op": "eq", "value": 1}
    invalid = error(preview(api, {"document": broken, "activity": "vip_mail",
                                  "profile": key}), 422, "invalid")
    assert [p["path"] for p in invalid["problems"]] == ["buyers.rule.field"]
    renamed = dict(api.document("spring-sale"), name="autumn-sale")
    error(preview(api, {"document": renamed, "activity": "vip_mail", "profile": key}), 422,
          "invalid")
    error(preview(api, {"activity": "vip_mail", "profile": key, "run": "0000000000ff"}), 404,
          "not_found")
    error(api.call("POST", "/api/campaigns/no-such/preview",
                   {"activity": "vip_mail", "profile": key}), 404, "not_found")
    error(preview(api, {"activity": "vip_mail"}), 422, "invalid_request")
    assert preview(api, {"activity": "vip_mail", "profile": key}, role=Role.VIEWER).status \
        == 403


def test_only_the_newest_preview_runs_are_kept(api: Api, spring: dict[str, Any]) -> None:
    key = str(spring["sent"][0])
    made = [preview(api, {"activity": "vip_mail", "profile": key}).body["run"]
            for _ in range(PREVIEW_RUNS_KEPT + 2)]
    runs = {r["id"]: r for r in api.ok("GET", "/api/runs?campaign=spring-sale&limit=500")[
        "runs"]}
    previews = sorted((r for r in runs.values() if r["trigger"] == "preview"),
                      key=lambda r: (r["created_at"], r["id"]), reverse=True)
    kept = [r["id"] for r in previews if r["pruned_at"] is None]
    assert kept == made[::-1][:PREVIEW_RUNS_KEPT]
    assert len(previews) > PREVIEW_RUNS_KEPT  # the older ones stay listed, pruned
    oldest = made[0]
    assert runs[oldest]["pruned_at"] is not None
    gone = api.call("GET", f"/api/runs/{oldest}/activities/tiers/ports/vip/rows")
    error(gone, 410, "gone")
    refused = error(preview(api, {"activity": "vip_mail", "profile": key, "run": oldest}),
                    422, "invalid")
    assert "pruned" in refused["message"]
    # the campaign's own test run is never pruned by previews
    assert runs[spring["run"]]["pruned_at"] is None
    assert api.ok("GET", f"/api/runs/{spring['run']}/activities/tiers/ports/vip/rows")[
        "total"] > 0
