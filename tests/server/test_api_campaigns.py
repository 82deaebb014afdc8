"""Campaigns through HTTP: drafts, problems, publication, signals, the lifecycle of
spec §6, versions and history, and the JSON error shape."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from overture.auth import Role
from server.conftest import Api, error, header, small_document, username

pytestmark = pytest.mark.xdist_group("server_campaigns")

MANAGER, APPROVER = Role.MANAGER, Role.APPROVER


def create(api: Api, document: dict[str, Any], role: Role = MANAGER) -> dict[str, Any]:
    body: dict[str, Any] = api.ok("POST", "/api/campaigns", {"document": document},
                                  status=201, role=role)
    return body


def invalid_document(name: str) -> dict[str, Any]:
    document = small_document(name)
    document["activities"][0]["rule"] = {"field": "no_such_field", "op": "eq", "value": 1}
    document["activities"].append({"id": "halves", "type": "split", "inputs": ["french"]})
    return document


def test_create_get_update_validate_a_draft(api: Api) -> None:
    spring = api.document("spring-sale")
    created = create(api, spring)
    assert created["name"] == "spring-sale"
    assert created["status"] == "draft"
    assert created["draft"] == spring
    assert created["versions"] == [] and created["latest_version"] is None
    assert created["problems"] == []
    assert created["created_by"] == username(MANAGER)

    got = api.ok("GET", "/api/campaigns/spring-sale", role=Role.VIEWER)
    assert got["draft"] == spring and got["problems"] == []
    names = [c["name"] for c in api.ok("GET", "/api/campaigns", role=Role.VIEWER)["campaigns"]]
    assert "spring-sale" in names
    assert api.ok("POST", "/api/campaigns/spring-sale/validate", role=Role.VIEWER) == {
        "valid": True, "problems": []}

    edited = copy.deepcopy(spring)
    edited["label"] = "Spring sale, edited"
    edited["activities"][0]["rule"]["all"][0]["value"] = ["FR"]
    updated = api.ok("PUT", "/api/campaigns/spring-sale/draft", {"document": edited},
                     role=MANAGER)
    assert updated["draft"]["label"] == "Spring sale, edited"
    assert updated["status"] == "draft" and updated["problems"] == []
    assert api.ok("GET", "/api/campaigns/spring-sale")["draft"] == edited

    # the name is the campaign's key: renaming goes through duplicate
    renamed = dict(edited, name="spring-sale-2")
    error(api.call("PUT", "/api/campaigns/spring-sale/draft", {"document": renamed},
                   role=MANAGER), 422, "invalid")
    # an existing name cannot be created twice
    error(api.call("POST", "/api/campaigns", {"document": spring}, role=MANAGER), 409,
          "conflict")


def test_a_draft_with_problems(api: Api) -> None:
    created = create(api, invalid_document("broken"))
    assert created["status"] == "draft"
    paths = {p["path"] for p in created["problems"]}
    assert "french.rule.field" in paths
    assert "halves.subsets" in paths
    for problem in created["problems"]:
        assert set(problem) == {"activity", "path", "message"} and problem["message"]

    got = api.ok("GET", "/api/campaigns/broken", role=Role.VIEWER)
    assert {p["path"] for p in got["problems"]} == paths
    validation = api.ok("POST", "/api/campaigns/broken/validate", role=Role.VIEWER)
    assert validation["valid"] is False
    assert {p["path"] for p in validation["problems"]} == paths

    refused = error(api.call("POST", "/api/campaigns/broken/publish", role=APPROVER), 422,
                    "invalid")
    assert {p["path"] for p in refused["problems"]} == paths
    assert "no_such_field" in str(refused["problems"])
    after = api.ok("GET", "/api/campaigns/broken")
    assert after["status"] == "draft" and after["versions"] == []

    # fixing the draft makes it publishable
    api.ok("PUT", "/api/campaigns/broken/draft", {"document": small_document("broken")},
           role=MANAGER)
    assert api.ok("POST", "/api/campaigns/broken/validate")["valid"] is True
    assert api.ok("POST", "/api/campaigns/broken/publish", role=APPROVER)["published"] == 1


def test_duplicate_and_delete(api: Api) -> None:
    create(api, small_document("original"))
    copied = api.ok("POST", "/api/campaigns/original/duplicate", {"name": "original-copy"},
                    status=201, role=MANAGER)
    assert copied["name"] == "original-copy"
    assert copied["status"] == "draft"
    assert copied["draft"] == {**small_document("original"), "name": "original-copy"}
    history = api.ok("GET", "/api/campaigns/original-copy/history")["history"]
    assert [(h["action"], h["detail"]) for h in history][-1] == ("duplicate",
                                                                   {"from": "original"})
    error(api.call("POST", "/api/campaigns/original/duplicate", {"name": "Not A Name"},
                   role=MANAGER), 422, "invalid_request")
    error(api.call("POST", "/api/campaigns/original/duplicate", {"name": "original-copy"},
                   role=MANAGER), 409, "conflict")

    deleted = api.call("DELETE", "/api/campaigns/original-copy", role=MANAGER)
    assert deleted.status == 204, deleted.body
    assert deleted.body is None
    error(api.call("GET", "/api/campaigns/original-copy"), 404, "not_found")
    error(api.call("DELETE", "/api/campaigns/original-copy", role=MANAGER), 404, "not_found")

    api.ok("POST", "/api/campaigns/original/publish", role=APPROVER)
    refused = error(api.call("DELETE", "/api/campaigns/original", role=MANAGER), 409,
                    "conflict")
    assert "live" in refused["message"]
    assert api.ok("GET", "/api/campaigns/original")["status"] == "live"

    # a published campaign is duplicated from its draft, as a new draft
    again = api.ok("POST", "/api/campaigns/original/duplicate", {"name": "original-2"},
                   status=201, role=MANAGER)
    assert again["status"] == "draft" and again["versions"] == []


def test_signal_twice_inside_min_interval(api: Api) -> None:
    create(api, small_document("signalled"))
    published = api.ok("POST", "/api/campaigns/signalled/publish", role=APPROVER)
    assert published["status"] == "live"  # a signal campaign waits for signals, no run yet
    assert api.ok("GET", "/api/runs?campaign=signalled")["runs"] == []

    first = api.call("POST", "/api/campaigns/signalled/signal",
                     {"variables": {}}, role=APPROVER)
    assert first.status == 202, first.body
    run_id = first.body["run"]
    assert isinstance(run_id, str) and run_id

    second = api.call("POST", "/api/campaigns/signalled/signal", {}, role=APPROVER)
    refused = error(second, 429, "too_soon")
    retry_after = header(second, "Retry-After")
    assert retry_after is not None and retry_after.isdigit(), second.headers
    assert 0 < int(retry_after) <= 3600
    assert refused["retry_after"] == int(retry_after)

    summary = api.wait_run(run_id)
    assert summary["mode"] == "live" and summary["trigger"] == "signal"
    assert summary["started_by"] == username(APPROVER)
    assert summary["version"] == 1
    runs = api.ok("GET", "/api/runs?campaign=signalled")["runs"]
    assert [r["id"] for r in runs] == [run_id]  # the refused signal started nothing

    # only signal campaigns take signals
    create(api, small_document("unsignalled", schedule={"weekly": {"days": ["mon"],
                                                                   "at": "06:00"}}))
    api.ok("POST", "/api/campaigns/unsignalled/publish", role=APPROVER)
    message = error(api.call("POST", "/api/campaigns/unsignalled/signal", {},
                             role=APPROVER), 409, "conflict")["message"]
    assert "signal" in message
    error(api.call("POST", "/api/campaigns/no-such/signal", {}, role=APPROVER), 404,
          "not_found")


def test_lifecycle_transitions(api: Api) -> None:
    create(api, small_document("seasons"))
    api.ok("POST", "/api/campaigns/seasons/publish", role=APPROVER)
    run_id = api.ok("POST", "/api/campaigns/seasons/signal", {}, status=202,
                    role=APPROVER)["run"]
    api.wait_run(run_id)
    assert api.ok("GET", "/api/campaigns/seasons")["status"] == "live"

    assert api.ok("POST", "/api/campaigns/seasons/pause", role=APPROVER)["status"] == "paused"
    refused = error(api.call("POST", "/api/campaigns/seasons/pause", role=APPROVER), 409,
                    "conflict")
    assert "paused" in refused["message"]
    # a paused campaign takes no signal
    error(api.call("POST", "/api/campaigns/seasons/signal", {}, role=APPROVER), 409,
          "conflict")
    assert api.ok("POST", "/api/campaigns/seasons/resume", role=APPROVER)["status"] == "live"
    refused = error(api.call("POST", "/api/campaigns/seasons/resume", role=APPROVER), 409,
                    "conflict")
    assert "it is live" in refused["message"]
    # closing with no run going on completes the campaign
    assert api.ok("POST", "/api/campaigns/seasons/close",
                  role=APPROVER)["status"] == "completed"
    refused = error(api.call("POST", "/api/campaigns/seasons/stop", role=APPROVER), 409,
                    "conflict")
    assert "completed" in refused["message"]
    assert api.ok("POST", "/api/campaigns/seasons/archive",
                  role=APPROVER)["status"] == "archived"
    refused = error(api.call("POST", "/api/campaigns/seasons/resume", role=APPROVER), 409,
                    "conflict")
    assert "archived" in refused["message"]
    error(api.call("PUT", "/api/campaigns/seasons/draft",
                   {"document": small_document("seasons")}, role=MANAGER), 409, "conflict")
    error(api.call("POST", "/api/campaigns/seasons/test-runs", {}, role=MANAGER), 409,
          "conflict")

    actions = [(h["actor"], h["action"])
               for h in api.ok("GET", "/api/campaigns/seasons/history")["history"]]
    assert actions[0] == (username(MANAGER), "create")
    assert (username(APPROVER), "publish") in actions
    assert [a for _, a in actions if a in {"pause", "resume", "close", "archive"}] == [
        "pause", "resume", "close", "archive"]
    assert all(actor == username(APPROVER)
               for actor, action in actions if action in {"pause", "resume", "archive"})

    # stop: from live, then only archive
    create(api, small_document("stopped"))
    api.ok("POST", "/api/campaigns/stopped/publish", role=APPROVER)
    assert api.ok("POST", "/api/campaigns/stopped/stop", role=APPROVER)["status"] == "stopped"
    refused = error(api.call("POST", "/api/campaigns/stopped/resume", role=APPROVER), 409,
                    "conflict")
    assert "stopped" in refused["message"]
    assert api.ok("POST", "/api/campaigns/stopped/archive",
                  role=APPROVER)["status"] == "archived"

    # a draft can be archived, not paused
    create(api, small_document("never"))
    refused = error(api.call("POST", "/api/campaigns/never/pause", role=APPROVER), 409,
                    "conflict")
    assert "draft" in refused["message"]
    assert api.ok("POST", "/api/campaigns/never/archive",
                  role=APPROVER)["status"] == "archived"


def test_versions_unpublish_and_schedule(api: Api) -> None:
    weekly = small_document("weekly", timezone="Europe/Paris",
                            schedule={"weekly": {"days": ["mon"], "at": "06:00"}})
    create(api, weekly)
    assert api.ok("GET", "/api/campaigns/weekly/versions")["versions"] == []
    published = api.ok("POST", "/api/campaigns/weekly/publish", role=APPROVER)
    assert published["published"] == 1 and published["status"] == "scheduled"

    starts = api.ok("GET", "/api/campaigns/weekly/schedule?count=3", role=Role.VIEWER)
    assert starts["kind"] == "weekly" and starts["timezone"] == "Europe/Paris"
    # 2027-03-01 is a Monday, 09:00 in Paris: the next starts are the following Mondays
    assert starts["starts"] == ["2027-03-08T06:00:00+01:00", "2027-03-15T06:00:00+01:00",
                                "2027-03-22T06:00:00+01:00"]

    # a version that never ran goes back to draft
    back = api.ok("POST", "/api/campaigns/weekly/unpublish", role=APPROVER)
    assert back["status"] == "draft" and back["versions"] == []
    error(api.call("POST", "/api/campaigns/weekly/unpublish", role=APPROVER), 409, "conflict")

    api.ok("POST", "/api/campaigns/weekly/publish", role=APPROVER)
    second = copy.deepcopy(weekly)
    second["label"] = "Weekly, second version"
    api.ok("PUT", "/api/campaigns/weekly/draft", {"document": second}, role=MANAGER)
    assert api.ok("POST", "/api/campaigns/weekly/publish", role=Role.ADMIN)["published"] == 2

    versions = api.ok("GET", "/api/campaigns/weekly/versions", role=Role.VIEWER)["versions"]
    assert [v["number"] for v in versions] == [1, 2]
    assert all("document" not in v for v in versions)
    assert [v["published_by"] for v in versions] == [username(APPROVER),
                                                     username(Role.ADMIN)]
    first = api.ok("GET", "/api/campaigns/weekly/versions/1", role=Role.VIEWER)
    assert first["number"] == 1 and first["document"]["label"] == weekly["label"]
    latest = api.ok("GET", "/api/campaigns/weekly/versions/2")
    assert latest["document"]["label"] == "Weekly, second version"
    assert api.ok("GET", "/api/campaigns/weekly")["latest_version"] == 2
    error(api.call("GET", "/api/campaigns/weekly/versions/3"), 404, "not_found")
    error(api.call("GET", "/api/campaigns/nothing/versions/1"), 404, "not_found")
    error(api.call("GET", "/api/campaigns/weekly/versions/first"), 422, "invalid_request")

    history = api.ok("GET", "/api/campaigns/weekly/history", role=Role.VIEWER)["history"]
    actions = [(h["actor"], h["action"]) for h in history]
    assert actions == [(username(MANAGER), "create"), (username(APPROVER), "publish"),
                       (username(APPROVER), "unpublish"), (username(APPROVER), "publish"),
                       (username(MANAGER), "edit"), (username(Role.ADMIN), "publish")]
    assert all(h["at"] for h in history)


def test_json_errors(api: Api) -> None:
    missing = error(api.call("GET", "/api/campaigns/no-such-campaign"), 404, "not_found")
    assert "no-such-campaign" in missing["message"]
    error(api.call("GET", "/api/no/such/route"), 404, "not_found")
    error(api.call("DELETE", "/api/campaigns"), 405, "method_not_allowed")

    details = error(api.call("POST", "/api/campaigns", {}, role=MANAGER), 422,
                    "invalid_request")["details"]
    assert {"path": "body.document", "message": "Field required"} in details
    error(api.call("POST", "/api/campaigns", {"document": "not a mapping"}, role=MANAGER),
          422, "invalid_request")
    error(api.call("POST", "/api/campaigns", {"document": {"name": "Bad Name!"}},
                   role=MANAGER), 422, "invalid")
    error(api.call("GET", "/api/campaigns/x/schedule?count=0"), 422, "invalid_request")
    # a body that is not JSON at all
    answer = api.server.call("POST", "/api/campaigns", None, token=api.tokens[MANAGER],
                             headers={"Content-Type": "application/json"})
    error(answer, 422, "invalid_request")


# ---- the list: label, draft problems, last execution ----

def listed(api: Api) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in api.ok("GET", "/api/campaigns", role=Role.VIEWER)["campaigns"]}


def test_the_list_carries_label_problem_count_and_last_run(api: Api) -> None:
    create(api, small_document("listed-good"))
    create(api, invalid_document("listed-broken"))
    unlabelled = small_document("listed-plain")
    del unlabelled["label"]
    create(api, unlabelled)

    campaigns = listed(api)
    good, broken, plain = (campaigns[n] for n in ("listed-good", "listed-broken",
                                                   "listed-plain"))
    assert good["label"] == "Campaign listed-good" and plain["label"] is None
    assert good["problem_count"] == 0
    detail = api.ok("GET", "/api/campaigns/listed-broken")
    assert broken["problem_count"] == len(detail["problems"]) >= 2
    assert good["last_run"] is None and broken["last_run"] is None
    # the fields the list had before are all there
    for field in ("name", "status", "draft", "latest_version", "last_slot", "next_start",
                  "consecutive_errors", "created_at", "created_by", "updated_at",
                  "updated_by"):
        assert field in good, field
    assert good["draft"] == small_document("listed-good")

    # a finished test run is the last execution; then a newer live run replaces it
    test_run = api.ok("POST", "/api/campaigns/listed-good/test-runs", {}, status=202,
                      role=MANAGER)["run"]
    api.wait_run(test_run)
    stored = api.ok("GET", f"/api/runs/{test_run}")
    last = listed(api)["listed-good"]["last_run"]
    assert last == {"id": test_run, "status": "done", "mode": "test", "trigger": "manual",
                    "started_at": last["started_at"], "finished_at": stored["finished_at"]}
    assert last["started_at"] and last["finished_at"]
    api.ok("POST", "/api/campaigns/listed-good/publish", role=APPROVER)
    live_run = api.ok("POST", "/api/campaigns/listed-good/signal", {}, status=202,
                      role=APPROVER)["run"]
    api.wait_run(live_run)
    campaigns = listed(api)
    assert campaigns["listed-good"]["last_run"]["id"] == live_run
    assert campaigns["listed-good"]["last_run"]["mode"] == "live"
    assert campaigns["listed-good"]["status"] == "live"
    assert campaigns["listed-broken"]["last_run"] is None  # runs are per campaign

    # fixing the draft clears its problems in the list
    api.ok("PUT", "/api/campaigns/listed-broken/draft",
           {"document": small_document("listed-broken")}, role=MANAGER)
    assert listed(api)["listed-broken"]["problem_count"] == 0


# ---- optimistic concurrency on drafts ----

def etag_of(answer: Any) -> str:
    tag = header(answer, "ETag")
    assert tag and tag.startswith('"') and tag.endswith('"'), answer.headers
    return tag


def put_draft(api: Api, name: str, document: dict[str, Any], if_match: str | None,
              role: Role = MANAGER) -> Any:
    headers = {} if if_match is None else {"If-Match": if_match}
    return api.server.call("PUT", f"/api/campaigns/{name}/draft", {"document": document},
                           token=api.tokens[role], headers=headers)


def test_a_stale_etag_cannot_overwrite_the_draft(api: Api) -> None:
    created = api.call("POST", "/api/campaigns", {"document": small_document("shared")},
                       role=MANAGER)
    assert created.status == 201
    # two editors open the campaign: same draft, same revision
    first = api.call("GET", "/api/campaigns/shared", role=MANAGER)
    second = api.call("GET", "/api/campaigns/shared", role=Role.ADMIN)
    opened = etag_of(first)
    assert etag_of(second) == opened == etag_of(created)

    mine = small_document("shared", label="Saved by the first editor")
    saved = put_draft(api, "shared", mine, opened)
    assert saved.status == 200, saved.body
    assert saved.body["draft"] == mine
    newer = etag_of(saved)
    assert newer != opened
    assert etag_of(api.call("GET", "/api/campaigns/shared")) == newer

    theirs = small_document("shared", label="Saved by the second editor")
    refused = put_draft(api, "shared", theirs, opened, role=Role.ADMIN)
    problem = error(refused, 412, "conflict_edit")
    assert problem["message"].startswith("the draft changed since you opened it (saved by "
                                         f"{username(MANAGER)} at ")
    assert problem["message"].endswith("): reload it")
    assert problem["etag"] == newer and problem["saved_by"] == username(MANAGER)
    # nothing lost, nothing written
    after = api.call("GET", "/api/campaigns/shared")
    assert after.body["draft"] == mine and etag_of(after) == newer
    edits = [h for h in api.ok("GET", "/api/campaigns/shared/history")["history"]
             if h["action"] == "edit"]
    assert [h["actor"] for h in edits] == [username(MANAGER)]

    # the second editor reloads and saves on the current revision
    again = put_draft(api, "shared", theirs, etag_of(after), role=Role.ADMIN)
    assert again.status == 200 and again.body["draft"] == theirs
    # several tags, weak ones and `*` match as HTTP says
    third = small_document("shared", label="Third")
    assert put_draft(api, "shared", third,
                     f'"draft-nope", W/{etag_of(again)}').status == 200
    assert put_draft(api, "shared", small_document("shared"), "*").status == 200
    # without If-Match (scripts) a save goes through as before
    assert put_draft(api, "shared", mine, None).status == 200
    assert api.ok("GET", "/api/campaigns/shared")["draft"] == mine
    error(put_draft(api, "no-such-campaign", mine, opened), 404, "not_found")


def test_the_etag_follows_the_drafts_content_only(api: Api) -> None:
    """Every answer holding the campaign carries the ETag; saving the same document,
    or publishing, pausing... (which leave the draft alone) keep it."""
    document = small_document("tagged")
    tag = etag_of(api.call("POST", "/api/campaigns", {"document": document}, role=MANAGER))
    assert etag_of(put_draft(api, "tagged", document, tag)) == tag
    published = api.call("POST", "/api/campaigns/tagged/publish", role=APPROVER)
    assert published.status == 200 and etag_of(published) == tag
    paused = api.call("POST", "/api/campaigns/tagged/pause", role=APPROVER)
    assert paused.status == 200 and etag_of(paused) == tag
    assert put_draft(api, "tagged", small_document("tagged", label="v2"), tag).status == 200
    copied = api.call("POST", "/api/campaigns/tagged/duplicate", {"name": "tagged-copy"},
                      role=MANAGER)
    assert copied.status == 201 and copied.body["name"] == "tagged-copy"
    assert etag_of(copied) == etag_of(api.call("GET", "/api/campaigns/tagged-copy"))
    assert etag_of(copied) != tag
