"""The canvas editor in a real browser: adding an activity by dragging it from the
palette, connecting two by dragging from a port to an activity, inserting on a
transition, deleting, copy and paste, undo and redo, Tidy up, YAML export and import,
two people saving the same draft, and the problems of a saved draft.

Every test works on a campaign of its own (the server is shared by the session) and
checks what the server saved (GET /api/campaigns/NAME) and what the page shows; each
step leaves a screenshot in test-artifacts/web/<test>/.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from web.harness import (
    ADMIN,
    TIMEOUT_MS,
    Shots,
    WebApp,
    create_campaign,
    draft,
    expect,
    log_in,
    open_editor,
    save_draft,
    saved_state,
)

if TYPE_CHECKING:  # importable without Playwright: the plugin then deselects these tests
    from playwright.sync_api import Browser, Locator, Page, Position

pytestmark = [pytest.mark.web, pytest.mark.xdist_group("web")]

UNSAVED = re.compile("^Unsaved changes$")


# ---- campaigns of these tests ----

def chain(name: str) -> dict[str, Any]:
    """buyers -> mail -> done, valid, every activity placed left to right."""
    return {
        "name": name,
        "label": f"Editor test {name}",
        "target": "customers",
        "activities": [
            {"id": "buyers", "type": "build_audience", "label": "French customers",
             "rule": {"field": "country", "op": "eq", "value": "FR"}},
            {"id": "mail", "type": "email", "inputs": ["buyers"],
             "from": "Overture Shop <news@shop.example>",
             "subject": "Hello {{ first_name }}", "html": "<p>Hello</p>"},
            {"id": "done", "type": "end", "inputs": ["mail"]},
        ],
        "canvas": {"positions": {"buyers": {"x": 0, "y": 0}, "mail": {"x": 300, "y": 0},
                                 "done": {"x": 600, "y": 0}}},
    }


def by_id(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {a["id"]: a for a in document["activities"]}


# ---- the page ----

def button(scope: Page | Locator, name: str) -> Locator:
    return scope.get_by_role("button", name=name, exact=True)


def palette_item(page: Page, name: str) -> Locator:
    return button(page.get_by_label("Palette", exact=True), name)


def properties(page: Page) -> Locator:
    return page.get_by_label("Properties", exact=True)


def node(page: Page, activity: str) -> Locator:
    return page.get_by_test_id(f"node-{activity}")


def edge(page: Page, source: str, port: str, target: str) -> Locator:
    return page.get_by_test_id(f"edge-{source}.{port}->{target}")


def shown_ids(page: Page) -> set[str]:
    return {(n.get_attribute("data-testid") or "").removeprefix("node-")
            for n in page.locator(".react-flow__node").all()}


def selected_in_panel(page: Page, activity: str) -> None:
    expect(properties(page).get_by_label("ID", exact=True).first).to_have_value(activity)


def unsaved(page: Page) -> None:
    expect(page.get_by_role("status").filter(has_text=UNSAVED)).to_be_visible()


@pytest.fixture
def second_page(browser: Browser, web_app: WebApp) -> Iterator[Page]:
    """Another person's page: a context of its own (its own session), logged in."""
    context = browser.new_context(viewport={"width": 1280, "height": 800},
                                  base_url=web_app.url)
    context.set_default_timeout(TIMEOUT_MS)
    other = context.new_page()
    errors: list[str] = []
    other.on("pageerror", lambda error: errors.append(str(error)))
    try:
        log_in(other, web_app, ADMIN)
        yield other
    finally:
        context.close()
    assert not errors, f"uncaught exceptions in the second page: {errors}"


# ---- the tests ----

def test_drag_an_activity_from_the_palette_and_connect_it_by_dragging_a_port(
        logged_in_page: Page, web_app: WebApp, shot: Shots) -> None:
    page = logged_in_page
    name = "editor-drag-connect"
    document = chain(name)
    document["activities"] = document["activities"][:1]
    document["canvas"]["positions"] = {"buyers": {"x": 0, "y": 0}}
    create_campaign(web_app, document)
    open_editor(page, name)
    shot(page, "one activity")

    # HTML5 drag and drop from the palette onto an empty spot of the canvas
    pane = page.locator(".react-flow__pane")
    box = pane.bounding_box()
    assert box is not None
    buyers_box = node(page, "buyers").bounding_box()
    assert buyers_box is not None
    # below buyers, on the left, away from the minimap (bottom right)
    drop: Position = {"x": buyers_box["x"] - box["x"],
            "y": buyers_box["y"] - box["y"] + buyers_box["height"] + 120}
    palette_item(page, "Email").drag_to(pane, target_position=drop)
    added = node(page, "email_1")
    expect(added).to_be_visible()
    unsaved(page)
    selected_in_panel(page, "email_1")  # the new activity is selected, its panel open
    added_box = added.bounding_box()
    assert added_box is not None
    at = (box["x"] + drop["x"], box["y"] + drop["y"])  # where the mouse let go
    assert added_box["x"] <= at[0] <= added_box["x"] + added_box["width"], (added_box, at)
    assert added_box["y"] <= at[1] <= added_box["y"] + added_box["height"], (added_box, at)
    shot(page, "email dropped")

    # drag from the buyers' output port to the email's input
    expect(edge(page, "buyers", "out", "email_1")).to_have_count(0)
    page.get_by_test_id("port-buyers.out").drag_to(page.get_by_test_id("input-email_1"))
    expect(edge(page, "buyers", "out", "email_1")).to_be_visible()
    inputs = properties(page).get_by_role("group", name="Inputs", exact=True)
    expect(inputs.get_by_label("buyers.out", exact=True)).to_be_checked()
    shot(page, "connected")
    save_draft(page)

    saved = draft(web_app, name)
    assert by_id(saved) == {
        "buyers": document["activities"][0],
        "email_1": {"id": "email_1", "type": "email", "inputs": ["buyers"],
                    "subject": "", "html": ""},
    }
    assert set(saved["canvas"]["positions"]) == {"buyers", "email_1"}
    assert saved["canvas"]["positions"]["buyers"] == {"x": 0, "y": 0}
    # where it was dropped: below buyers on the canvas too
    assert saved["canvas"]["positions"]["email_1"]["y"] > 80


def test_the_plus_on_a_transition_inserts_an_activity_between_its_ends(
        logged_in_page: Page, web_app: WebApp, shot: Shots) -> None:
    page = logged_in_page
    name = "editor-insert"
    document = chain(name)
    create_campaign(web_app, document)
    open_editor(page, name)

    page.get_by_role("button", name="Insert an activity between buyers.out and mail",
                     exact=True).click()
    hint = page.get_by_label("Palette", exact=True).get_by_role("status")
    expect(hint).to_contain_text("insert between buyers and mail")
    # a source takes no input: it cannot go on a transition
    expect(palette_item(page, "Build audience")).to_be_disabled()
    shot(page, "choosing what to insert")
    palette_item(page, "Wait").click()

    expect(node(page, "wait_1")).to_be_visible()
    expect(edge(page, "buyers", "out", "wait_1")).to_be_visible()
    expect(edge(page, "wait_1", "out", "mail")).to_be_visible()
    expect(edge(page, "buyers", "out", "mail")).to_have_count(0)
    expect(hint).to_have_count(0)
    selected_in_panel(page, "wait_1")
    shot(page, "inserted")
    save_draft(page)

    saved = by_id(draft(web_app, name))
    before = by_id(document)
    assert saved["wait_1"] == {"id": "wait_1", "type": "wait", "inputs": ["buyers"],
                               "duration": "1 day"}
    assert saved["mail"] == {**before["mail"], "inputs": ["wait_1"]}
    assert saved["buyers"] == before["buyers"]
    assert saved["done"] == before["done"]


def test_the_delete_key_deletes_the_selected_activity_and_its_transitions(
        logged_in_page: Page, web_app: WebApp, shot: Shots) -> None:
    page = logged_in_page
    name = "editor-delete"
    document = chain(name)
    create_campaign(web_app, document)
    open_editor(page, name)

    node(page, "mail").click()
    selected_in_panel(page, "mail")
    # typing in a field: Delete and Backspace edit the text, not the canvas
    ident = properties(page).get_by_label("ID", exact=True).first
    ident.press("End")
    ident.press("Backspace")
    expect(ident).to_have_value("mai")
    ident.press("Escape")  # the id is given back, nothing renamed
    expect(ident).to_have_value("mail")
    expect(node(page, "mail")).to_be_visible()

    node(page, "mail").click()
    expect(node(page, "mail")).to_be_focused()
    page.keyboard.press("Delete")
    expect(node(page, "mail")).to_have_count(0)
    expect(edge(page, "buyers", "out", "mail")).to_have_count(0)
    expect(edge(page, "mail", "out", "done")).to_have_count(0)
    assert shown_ids(page) == {"buyers", "done"}
    unsaved(page)
    shot(page, "deleted")
    save_draft(page)

    saved = draft(web_app, name)
    before = by_id(document)
    assert by_id(saved) == {"buyers": before["buyers"], "done": {**before["done"], "inputs": []}}
    assert set(saved["canvas"]["positions"]) == {"buyers", "done"}


def test_copy_and_paste_give_fresh_ids_and_keep_the_transitions_between_the_copies(
        logged_in_page: Page, web_app: WebApp, shot: Shots) -> None:
    page = logged_in_page
    name = "editor-copy-paste"
    document = chain(name)
    create_campaign(web_app, document)
    open_editor(page, name)

    node(page, "mail").click()
    node(page, "done").click(modifiers=["Control"])  # xyflow's multi-selection key
    expect(properties(page)).to_contain_text("2 activities selected")
    shot(page, "two selected")
    page.keyboard.press("Control+c")
    page.keyboard.press("Control+v")

    expect(node(page, "mail_1")).to_be_visible()
    expect(node(page, "done_1")).to_be_visible()
    expect(edge(page, "mail_1", "out", "done_1")).to_be_visible()  # the internal edge
    expect(edge(page, "buyers", "out", "mail_1")).to_have_count(0)  # from outside: dropped
    expect(properties(page)).to_contain_text("2 activities selected")  # the copies
    expect(properties(page)).to_contain_text("mail_1, done_1")
    shot(page, "pasted")
    save_draft(page)

    saved = draft(web_app, name)
    before = by_id(document)
    mail_copy = {k: v for k, v in before["mail"].items() if k != "inputs"}
    assert by_id(saved) == {**before, "mail_1": {**mail_copy, "id": "mail_1"},
                            "done_1": {"id": "done_1", "type": "end", "inputs": ["mail_1"]}}
    positions = saved["canvas"]["positions"]
    for original in ("mail", "done"):  # moved by the paste offset, beside the originals
        was = document["canvas"]["positions"][original]
        assert positions[f"{original}_1"] == {"x": was["x"] + 40, "y": was["y"] + 40}


def test_undo_and_redo_step_through_the_edits_and_each_state_saves_as_it_was(
        logged_in_page: Page, web_app: WebApp, shot: Shots) -> None:
    page = logged_in_page
    name = "editor-undo-redo"
    create_campaign(web_app, chain(name))
    open_editor(page, name)
    states = [draft(web_app, name)]
    undo, redo = button(page, "Undo"), button(page, "Redo")
    expect(undo).to_be_disabled()

    palette_item(page, "End").click()  # edit 1: an activity added
    expect(node(page, "end_1")).to_be_visible()
    save_draft(page)
    states.append(draft(web_app, name))
    node(page, "mail").click()  # edit 2: one deleted
    page.keyboard.press("Delete")
    expect(node(page, "mail")).to_have_count(0)
    save_draft(page)
    states.append(draft(web_app, name))
    assert {a["id"] for a in states[1]["activities"]} == {"buyers", "mail", "done", "end_1"}
    assert {a["id"] for a in states[2]["activities"]} == {"buyers", "done", "end_1"}
    shot(page, "after two edits")

    undo.click()
    expect(node(page, "mail")).to_be_visible()
    unsaved(page)
    save_draft(page)
    assert draft(web_app, name) == states[1]
    page.keyboard.press("Control+z")
    expect(node(page, "end_1")).to_have_count(0)
    expect(undo).to_be_disabled()
    save_draft(page)
    assert draft(web_app, name) == states[0]
    shot(page, "undone twice")

    page.keyboard.press("Control+Shift+z")
    expect(node(page, "end_1")).to_be_visible()
    save_draft(page)
    assert draft(web_app, name) == states[1]
    page.keyboard.press("Control+y")
    expect(node(page, "mail")).to_have_count(0)
    expect(redo).to_be_disabled()
    save_draft(page)
    assert draft(web_app, name) == states[2]
    shot(page, "redone twice")


def test_tidy_up_lays_the_graph_out_left_to_right_and_changes_only_positions(
        logged_in_page: Page, web_app: WebApp, shot: Shots) -> None:
    page = logged_in_page
    name = "editor-tidy"
    document = chain(name)
    # a mess: right to left, one on top of another
    document["canvas"]["positions"] = {"buyers": {"x": 500, "y": 40}, "mail": {"x": 480, "y": 60},
                                       "done": {"x": 0, "y": 0}}
    create_campaign(web_app, document)
    open_editor(page, name)
    shot(page, "messy")

    button(page, "Tidy up").click()
    unsaved(page)
    save_draft(page)
    shot(page, "tidied")

    saved = draft(web_app, name)
    assert saved["activities"] == document["activities"]
    assert {k: v for k, v in saved.items() if k != "canvas"} == \
        {k: v for k, v in document.items() if k != "canvas"}
    positions = saved["canvas"]["positions"]
    assert set(positions) == {"buyers", "mail", "done"}
    assert positions != document["canvas"]["positions"]
    assert positions["buyers"]["x"] < positions["mail"]["x"] < positions["done"]["x"]
    # and the page draws what was saved: the nodes in that order, the edges kept
    xs = {}
    for activity in ("buyers", "mail", "done"):
        box = node(page, activity).bounding_box()
        assert box is not None
        xs[activity] = box["x"]
    assert xs["buyers"] < xs["mail"] < xs["done"]
    expect(edge(page, "buyers", "out", "mail")).to_be_visible()
    expect(edge(page, "mail", "out", "done")).to_be_visible()


def test_export_yaml_downloads_the_draft(logged_in_page: Page, web_app: WebApp,
                                         shot: Shots) -> None:
    page = logged_in_page
    name = "editor-export"
    create_campaign(web_app, chain(name))
    open_editor(page, name)

    with page.expect_download() as download:
        button(page, "Export YAML").click()
    assert download.value.suggested_filename == f"{name}.yaml"
    exported = yaml.safe_load(Path(download.value.path()).read_text(encoding="utf-8"))
    assert exported == draft(web_app, name)
    shot(page, "exported")


def test_import_yaml_replaces_the_document_and_refuses_another_campaigns(
        logged_in_page: Page, web_app: WebApp, shot: Shots, tmp_path: Path) -> None:
    page = logged_in_page
    name = "editor-import"
    create_campaign(web_app, chain(name))
    open_editor(page, name)
    before = draft(web_app, name)

    changed = copy.deepcopy(before)
    changed["label"] = "Imported label"
    mail = by_id(changed)["mail"]
    mail["subject"] = "Imported subject"
    changed["activities"].insert(2, {"id": "pause", "type": "wait", "inputs": ["mail"],
                                     "duration": "2 days"})
    by_id(changed)["done"]["inputs"] = ["pause"]
    changed["canvas"]["positions"]["pause"] = {"x": 600, "y": 0}
    changed["canvas"]["positions"]["done"] = {"x": 900, "y": 0}
    file = tmp_path / "changed.yaml"
    file.write_text(yaml.safe_dump(changed, sort_keys=False), encoding="utf-8")

    page.get_by_label("Import YAML").set_input_files(file)
    expect(page.get_by_role("status").filter(has_text="Imported changed.yaml")).to_be_visible()
    expect(node(page, "pause")).to_be_visible()
    expect(edge(page, "pause", "out", "done")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Imported label")
    unsaved(page)
    shot(page, "imported")
    save_draft(page)
    assert draft(web_app, name) == changed

    # a document of another campaign is refused, and nothing changes
    other = {**copy.deepcopy(changed), "name": "someone-else"}
    other["activities"] = other["activities"][:1]
    other_file = tmp_path / "other.yaml"
    other_file.write_text(yaml.safe_dump(other, sort_keys=False), encoding="utf-8")
    page.get_by_label("Import YAML").set_input_files(other_file)
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text(
        f'This file is the campaign "someone-else", not "{name}"')
    shot(page, "refused")
    expect(saved_state(page)).to_be_visible()
    assert shown_ids(page) == {"buyers", "mail", "pause", "done"}
    assert draft(web_app, name) == changed


def test_two_pages_saving_the_same_draft_the_second_is_refused_and_loses_nothing(
        logged_in_page: Page, second_page: Page, web_app: WebApp, shot: Shots) -> None:
    first, second = logged_in_page, second_page
    name = "editor-conflict"
    document = chain(name)
    create_campaign(web_app, document)
    open_editor(first, name)
    open_editor(second, name)

    # the first deletes `done` and saves
    node(first, "done").click()
    first.keyboard.press("Delete")
    expect(node(first, "done")).to_have_count(0)
    save_draft(first)
    theirs = draft(web_app, name)
    assert "done" not in by_id(theirs)

    # the second, opened before that save, adds an activity and saves: refused
    palette_item(second, "Alert").click()
    expect(node(second, "alert_1")).to_be_visible()
    with second.expect_response(lambda r: r.request.method == "PUT") as answer:
        button(second, "Save").click()
    assert answer.value.status == 412
    alert = second.get_by_role("alert").filter(has_text="The draft changed since you opened it")
    expect(alert).to_be_visible()
    unsaved(second)
    shot(second, "conflict")
    assert draft(web_app, name) == theirs  # the first save stands

    # "Export my version": the second page's document, with its change
    with second.expect_download() as download:
        button(alert, "Export my version").click()
    mine = yaml.safe_load(Path(download.value.path()).read_text(encoding="utf-8"))
    assert by_id(mine) == {**by_id(document),
                           "alert_1": {"id": "alert_1", "type": "alert", "title": "Alert",
                                       "message": ""}}
    assert set(mine["canvas"]["positions"]) == {"buyers", "mail", "done", "alert_1"}

    # Reload: the first's draft; importing the exported file and saving keeps both
    button(alert, "Reload").click()
    expect(saved_state(second)).to_be_visible()
    expect(node(second, "done")).to_have_count(0)
    expect(node(second, "alert_1")).to_have_count(0)
    shot(second, "reloaded")
    kept = Path(download.value.path())
    second.get_by_label("Import YAML").set_input_files(kept)
    expect(node(second, "alert_1")).to_be_visible()
    save_draft(second)
    assert draft(web_app, name) == mine
    shot(second, "my version saved after reloading")


def test_problems_show_as_badges_and_in_the_list_and_a_click_selects_the_activity(
        logged_in_page: Page, web_app: WebApp, shot: Shots) -> None:
    page = logged_in_page
    name = "editor-problems"
    create_campaign(web_app, chain(name))
    open_editor(page, name)
    problems = page.get_by_label("Problems", exact=True)
    expect(problems).to_contain_text("No problems")
    expect(page.locator(".ov-node-badge")).to_have_count(0)

    # a new email, empty and unconnected, saved: the server finds what is wrong
    palette_item(page, "Email").click()
    expect(node(page, "email_1")).to_be_visible()
    save_draft(page)
    found = web_app.ok("GET", f"/api/campaigns/{name}")["problems"]
    assert found and all(p["activity"] == "email_1" for p in found), found
    shot(page, "problems")

    badge = node(page, "email_1").locator(".ov-node-badge")
    expect(badge).to_have_text(str(len(found)))
    expect(node(page, "email_1")).to_have_attribute(
        "aria-label", re.compile(rf", {len(found)} problems?$"))
    expect(page.locator(".ov-node-badge")).to_have_count(1)  # the others have none
    items = problems.get_by_role("button")
    expect(items).to_have_count(len(found))
    for item, problem in zip(items.all(), found, strict=True):
        expect(item).to_contain_text("email_1: ")
        expect(item).to_contain_text(problem["message"])

    node(page, "buyers").click()  # another selected; the problem goes back to email_1
    selected_in_panel(page, "buyers")
    items.first.click()
    selected_in_panel(page, "email_1")
    expect(node(page, "email_1")).to_have_class(re.compile(r"\bselected\b"))
    expect(node(page, "buyers")).not_to_have_class(re.compile(r"\bselected\b"))
    shot(page, "selected from the list")
