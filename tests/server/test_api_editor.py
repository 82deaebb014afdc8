"""What the web canvas's editors read beside campaigns, through HTTP: the campaign
document's JSON Schema, previews of unsaved schedules, the saved filters, and the
template files content may name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from overture.auth import Role
from overture.definition.campaign import campaign_json_schema
from server.conftest import Api, error, header, small_document

pytestmark = pytest.mark.xdist_group("server_editor")

VIEWER = Role.VIEWER


# ---- the JSON Schema ----

def test_the_campaign_schema_is_the_models_schema_with_an_etag(api: Api) -> None:
    answer = api.call("GET", "/api/schema/campaign", role=VIEWER)
    assert answer.status == 200, answer.body
    assert answer.body == campaign_json_schema()
    assert "activities" in answer.body["properties"]
    etag = header(answer, "ETag")
    assert etag and etag.startswith('"') and etag.endswith('"')
    # the same again (computed once), and a 304 for a client holding it
    assert api.call("GET", "/api/schema/campaign").body == answer.body
    assert header(api.call("GET", "/api/schema/campaign"), "ETag") == etag
    again = api.server.call("GET", "/api/schema/campaign", token=api.tokens[VIEWER],
                            headers={"If-None-Match": etag})
    assert again.status == 304 and not again.body
    other = api.server.call("GET", "/api/schema/campaign", token=api.tokens[VIEWER],
                            headers={"If-None-Match": '"something-else"'})
    assert other.status == 200 and other.body == answer.body


# ---- schedule previews ----

MONDAYS = ["2027-03-08T06:00:00+01:00", "2027-03-15T06:00:00+01:00",
           "2027-03-22T06:00:00+01:00"]


def preview(api: Api, body: dict[str, Any], role: Role = VIEWER) -> Any:
    return api.call("POST", "/api/schedules/preview", body, role=role)


def test_schedule_preview_lists_the_next_starts(api: Api) -> None:
    weekly = {"weekly": {"days": ["mon"], "at": "06:00"}}
    answer = preview(api, {"schedule": weekly, "timezone": "Europe/Paris",
                           "after": "2027-03-01T09:00:00+01:00", "count": 3})
    assert answer.status == 200, answer.body
    assert answer.body == {"kind": "weekly", "timezone": "Europe/Paris", "starts": MONDAYS}
    # `after` defaults to the server's clock (2027-03-01 09:00 in Paris, a Monday)
    assert preview(api, {"schedule": weekly, "timezone": "Europe/Paris",
                         "count": 3}).body["starts"] == MONDAYS
    # an `after` without offset is read in the zone: 06:00 itself is not after 06:00
    naive = preview(api, {"schedule": weekly, "timezone": "Europe/Paris",
                          "after": "2027-03-08T06:00:00", "count": 1}).body
    assert naive["starts"] == MONDAYS[1:2]
    # ten by default; the zone defaults to UTC
    daily = preview(api, {"schedule": {"daily": {"at": "09:00"}},
                          "after": "2027-01-01T00:00:00Z"}).body
    assert daily["timezone"] == "UTC" and len(daily["starts"]) == 10
    assert daily["starts"][0] == "2027-01-01T09:00:00+00:00"
    assert daily["starts"][9] == "2027-01-10T09:00:00+00:00"


def test_schedule_preview_follows_spec_7_on_clock_changes(api: Api) -> None:
    """02:30 does not exist in Paris on 2027-03-28: the start moves to 03:30 (+02:00);
    it exists twice on 2027-10-31: one start, at the first (+02:00)."""
    spring = preview(api, {"schedule": {"daily": {"at": "02:30"}}, "timezone": "Europe/Paris",
                           "after": "2027-03-27T12:00:00+01:00", "count": 2}).body
    assert spring["starts"] == ["2027-03-28T03:30:00+02:00", "2027-03-29T02:30:00+02:00"]
    autumn = preview(api, {"schedule": {"hourly": {"hours": [2], "minute": 30}},
                           "timezone": "Europe/Paris",
                           "after": "2027-10-30T12:00:00+02:00", "count": 2}).body
    assert autumn["kind"] == "hourly"
    assert autumn["starts"] == ["2027-10-31T02:30:00+02:00", "2027-11-01T02:30:00+01:00"]
    cron = preview(api, {"schedule": {"cron": "15 9 * * 1-5"}, "timezone": "Europe/Paris",
                         "after": "2027-03-05T10:00:00+01:00", "count": 2}).body
    assert cron["starts"] == ["2027-03-08T09:15:00+01:00", "2027-03-09T09:15:00+01:00"]
    # a signal schedule never starts by itself; a `once` in the past has no next start
    assert preview(api, {"schedule": {"signal": {"min_interval": "1h"}}}).body == {
        "kind": "signal", "timezone": "UTC", "starts": []}
    assert preview(api, {"schedule": {"once": "2027-02-01T09:00"}}).body["starts"] == []


def test_schedule_preview_refuses_with_the_parsers_sentence(api: Api) -> None:
    bad = error(preview(api, {"schedule": {"weekly": {"days": ["mon", "xx"], "at": "25:00"}},
                              "timezone": "Europe/Paris"}), 422, "invalid")
    assert "unknown day 'xx'" in bad["message"] and "'25:00' is not a time" in bad["message"]
    assert "Traceback" not in bad["message"]
    assert [p["path"] for p in bad["problems"]] == ["schedule.weekly.days[1]",
                                                     "schedule.weekly.at"]
    none = error(preview(api, {"schedule": {}}), 422, "invalid")
    assert "no kind of schedule" in none["message"]
    zone = error(preview(api, {"schedule": {"daily": {"at": "09:00"}},
                               "timezone": "Mars/Olympus"}), 422, "invalid")
    assert "'Mars/Olympus' is not an IANA time zone" in zone["message"]
    error(preview(api, {"schedule": {"daily": {"at": "09:00"}}, "count": 0}), 422,
          "invalid_request")
    error(preview(api, {"schedule": {"daily": {"at": "09:00"}}, "count": 101}), 422,
          "invalid_request")
    error(preview(api, {"schedule": "daily"}), 422, "invalid_request")
    assert api.call("POST", "/api/schedules/preview", {"schedule": {}}, role=None).status == 401


def test_a_campaigns_schedule_is_read_the_same_way(api: Api) -> None:
    """GET /api/campaigns/NAME/schedule and the preview share one implementation."""
    weekly = {"weekly": {"days": ["mon"], "at": "06:00"}}
    api.ok("POST", "/api/campaigns", {"document": small_document(
        "editor-weekly", timezone="Europe/Paris", schedule=weekly)}, status=201)
    stored = api.ok("GET", "/api/campaigns/editor-weekly/schedule?count=3", role=VIEWER)
    assert stored == {"kind": "weekly", "timezone": "Europe/Paris", "starts": MONDAYS}
    # a draft naming an unknown zone was a 500; now the same 422 as the preview
    api.ok("POST", "/api/campaigns", {"document": small_document(
        "editor-mars", timezone="Mars/Olympus", schedule=weekly)}, status=201)
    refused = error(api.call("GET", "/api/campaigns/editor-mars/schedule"), 422, "invalid")
    assert "not an IANA time zone" in refused["message"]


# ---- saved filters ----

def test_filters_lists_the_workspaces_saved_filters(api: Api) -> None:
    folder = api.root / "filters"
    (folder / "vip.yaml").write_text(
        "label: VIP\ndescription: Gold and platinum customers\n"
        "rule: {field: loyalty_tier, op: in, value: [gold, platinum]}\n", encoding="utf-8")
    (folder / "french.yaml").write_text("{field: country, op: eq, value: FR}\n",
                                        encoding="utf-8")
    (folder / "broken.yaml").write_text("rule: {field: country, op: sounds_like}\n",
                                        encoding="utf-8")
    (folder / "notes.txt").write_text("not a filter", encoding="utf-8")
    listed = api.ok("GET", "/api/filters", role=VIEWER)["filters"]
    assert [f["name"] for f in listed] == ["broken", "french", "recent_buyers", "vip"]
    by_name = {f["name"]: f for f in listed}
    assert by_name["recent_buyers"] == {"name": "recent_buyers", "label": "Recent buyers"}
    assert by_name["vip"] == {"name": "vip", "label": "VIP",
                              "description": "Gold and platinum customers"}
    assert by_name["french"] == {"name": "french"}
    assert "not a valid rule" in by_name["broken"]["error"]
    # what is listed is what a rule can name: counting `{filter: vip}` works
    document = small_document("editor-filters")
    document["activities"][0]["rule"] = {"filter": "vip"}
    counted = api.ok("POST", "/api/rules/count", {"document": document, "activity": "french"})
    document["activities"][0]["rule"] = {"field": "loyalty_tier", "op": "in",
                                         "value": ["gold", "platinum"]}
    assert counted == api.ok("POST", "/api/rules/count",
                             {"document": document, "activity": "french"})


# ---- content files ----

def _touch(path: Path, text: str = "x") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_content_files_lists_templates_under_the_campaigns_folder(api: Api) -> None:
    base = api.root / "campaigns"  # where `{file: PATH}` of stored documents is read
    _touch(base / "mail" / "deep" / "welcome.MJML")
    _touch(base / "mail" / "sms.txt")
    _touch(base / "mail" / "notes.md")
    _touch(base / "mail" / "logo.png")
    _touch(base / ".hidden" / "secret.html")
    _touch(base / "mail" / ".draft.html")
    listed = api.ok("GET", "/api/content/files", role=VIEWER)
    assert listed == {"files": ["mail/deep/welcome.MJML", "mail/notes.md", "mail/sms.txt",
                                "templates/newsletter.html", "templates/newsletter_fr.html",
                                "templates/vip.html"],
                      "truncated": False}
    # a listed path is one a document can name: the spring sale's template
    spring = api.document("spring-sale")
    assert spring["activities"][5]["html"] == {"file": "templates/vip.html"}


def test_content_files_stop_at_500(api: Api) -> None:
    base = api.root / "campaigns"
    folder = base / "many"
    for index in range(520):
        _touch(folder / f"t{index:04d}.html")
    try:
        listed = api.ok("GET", "/api/content/files")
        every = sorted(path.relative_to(base).as_posix() for path in base.rglob("*")
                       if path.is_file()
                       and path.suffix.lower() in {".html", ".htm", ".mjml", ".txt", ".md"}
                       and not any(part.startswith(".")
                                   for part in path.relative_to(base).parts))
        assert len(every) > 520
        assert listed == {"files": every[:500], "truncated": True}
    finally:
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()
