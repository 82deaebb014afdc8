"""`overture preview`: one person's message ("simulate content") and proofs, through the CLI.

Expectations come from ROWS by hand (plus a `language` column written here: the shared
workspace has none). Most commands run in-process (CliRunner); the first test runs the
real command line in a new process, on a workspace of its own.
"""

from __future__ import annotations

import hashlib
import json
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ibis
import pytest
from typer.testing import CliRunner

from engine.kit import CLOCK, CUSTOMERS, Harness, cli_json
from overture.channels.outbox import OutboxReader, outbox_directory
from overture.cli import common
from overture.cli.main import app
from overture.data.messages import message_log
from overture.data.workspace import Workspace
from overture.engine.api import run_campaign_file
from support.workspace import TYPES

CLOCK_ARG = CLOCK.isoformat()
#: the language column this file adds to the customers (None: no language)
LANGUAGES = {1: "fr", 2: "es", 3: None, 5: "FR_ca", 12: "fr-BE"}

DOC = """\
name: spring
variables:
  tier: {type: string, default: gold}
activities:
  - {id: buyers, type: build_audience,
     rule: {field: loyalty_tier, op: eq, value: "${vars.tier}"}}
  - id: more
    type: enrich
    inputs: [buyers]
    aggregates:
      - {name: spent, link: purchases, fn: sum, field: amount}
  - id: tiers
    type: split
    inputs: [more]
    subsets:
      - {id: fr, rule: {field: country, op: eq, value: FR}}
    complement: true
  - id: mail
    type: email
    inputs: [tiers.fr]
    from: "Shop <news@shop.example>"
    subject: "{{ first_name }}, your {{ loyalty_tier }} offer"
    html: "<p>Hello {{ first_name }}, you spent {{ spent }}.</p>"
    variants:
      - {id: short, weight: 1, subject: "{{ first_name }}: -10 %"}
      - {id: long, weight: 3}
    languages:
      fr: {subject: "{{ first_name }}, votre offre",
           html: "<p>Bonjour {{ first_name }}, vous avez dépensé {{ spent }}.</p>"}
      fr-CA: {subject: "{{ first_name }}, votre offre d'ici"}
      en: {}
    fallback_language: en
  - id: sms_age
    type: sms
    enabled: false
    inputs: [tiers.fr]
    body: "{{ first_name }}: {{ 100 // age }}"
  - id: mail_smtp
    type: email
    inputs: [tiers.fr]
    provider: broken
    from: "Shop <news@shop.example>"
    subject: "Hi {{ first_name }}"
    text: "Hello"
"""


def spent(cid: int) -> float:
    from engine.kit import PURCHASES

    return float(sum(p["amount"] for p in PURCHASES if p["customer_id"] == cid))


def variant_of(activity: str, key: int) -> str:
    """docs/content.md: fixed by a hash of (activity, person), weights honoured (1:3)."""
    digest = hashlib.sha256(f"{activity}\x00{key}".encode()).digest()
    unit = int.from_bytes(digest[:8], "big") / 2**64
    return "short" if unit * 4 < 1 else "long"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_shop(root: Path) -> tuple[Harness, Path]:
    """The test workspace with a language column, a `broken` SMTP provider (nothing
    listens on its port) and the campaign file."""
    h = Harness(root)
    rows = [{**r, "language": LANGUAGES.get(r["customer_id"])} for r in CUSTOMERS]
    schema = ibis.schema({**TYPES["customers"], "language": "string"})
    h.ws.data.con.create_table("customers", ibis.memtable(rows, schema=schema),
                               overwrite=True)
    ws_root = h.ws.root
    h.close()
    yaml_path = ws_root / "schema.yaml"
    yaml_path.write_text(yaml_path.read_text().replace(
        "    timezone: timezone\n", "    timezone: timezone\n    language: language\n"))
    toml = ws_root / "overture.toml"
    toml.write_text(toml.read_text() + (
        f'\n[providers.broken]\ntype = "smtp"\nhost = "127.0.0.1"\nport = {free_port()}\n'
        'security = "none"\ntimeout = 5\n'))
    h.ws = Workspace.open(ws_root)
    return h, h.write(DOC, "spring.yaml")


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One workspace and three test runs of the campaign (tier gold, platinum, bronze)."""
    h, path = make_shop(tmp_path_factory.mktemp("preview"))
    runs = {tier: run_campaign_file(h.ws, path, clock=CLOCK, variables={"tier": tier})["run"]
            for tier in ("gold", "platinum", "bronze")}
    h.close()
    yield {"ws": h.ws.root, "doc": path, "runs": runs}


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(common.console, "width", 200)  # no wrapped lines in what tests read


def invoke(shop: dict[str, Any], *args: str) -> Any:
    result = CliRunner().invoke(app, ["--workspace", str(shop["ws"]), *args])
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        repr(result.exception)
    return result


def preview(shop: dict[str, Any], *args: str, run: str | None = None, ok: bool = True) -> Any:
    extra = ["--run", shop["runs"][run]] if run else []
    result = invoke(shop, "preview", str(shop["doc"]), *args, *extra)
    assert result.exit_code == (0 if ok else 1), (result.stdout, result.stderr)
    if not ok:
        assert result.stderr.startswith("error: "), result.stderr
        return " ".join(result.stderr.split())
    return json.loads(result.stdout) if "--json" in args else result.stdout


# ---- the message ----

def test_preview_renders_what_live_sending_would_send(tmp_path: Path) -> None:
    """The real command line, no --run: a test run is made and named; Ana (gold, FR,
    language fr) gets the fr content, her enrich column filled in, the text derived."""
    h, path = make_shop(tmp_path)
    h.close()
    got = cli_json(h.ws.root, "preview", str(path), "mail", "--profile", "1", "--json",
                   "--clock", CLOCK_ARG)
    assert set(got) == {"run", "run_mode", "made_for_preview", "campaign", "activity",
                        "channel", "category", "dimension", "key", "profile", "address",
                        "excluded", "deferred_until", "variant", "language", "message",
                        "warnings"}
    assert (got["run_mode"], got["made_for_preview"], got["campaign"]) == ("test", True,
                                                                           "spring")
    assert (got["activity"], got["channel"], got["category"]) == ("mail", "email", "marketing")
    assert (got["dimension"], got["key"], got["profile"]) == ("customers", "customer_id", "1")
    assert (got["address"], got["excluded"], got["deferred_until"]) == ("ana@example.com",
                                                                        None, None)
    assert (got["variant"], got["language"]) == (variant_of("mail", 1), "fr")
    assert got["warnings"] == []
    message = got["message"]
    assert set(message) == {"subject", "html", "text", "text_derived", "headers"}
    assert spent(1) == 120.0
    assert message["subject"] == "Ana, votre offre"
    # as sent: marketing email carries the open pixel after the content
    html, pixel = message["html"].split("<img", 1)
    assert html == "<p>Bonjour Ana, vous avez dépensé 120.0.</p>"
    assert pixel.startswith(' src="http://127.0.0.1:8000/o/') and ".gif" in pixel
    assert (message["text"], message["text_derived"]) == (
        "Bonjour Ana, vous avez dépensé 120.0.\n", True)
    headers = message["headers"]
    assert headers["From"] == "Shop <news@shop.example>"
    assert headers["To"] == "ana@example.com"
    assert headers["Subject"] == "Ana, votre offre"
    assert headers["Message-ID"].endswith("@shop.example>")
    assert headers["List-Unsubscribe"].startswith("<http://127.0.0.1:8000/")
    ws = Workspace.open(h.ws.root)
    try:
        run = ws.control.get_run(got["run"])  # the test run made for the preview, recorded
        assert (run.campaign, run.mode, run.status.value) == ("spring", "test", "done")
    finally:
        ws.close()


def test_language_then_variant_then_activity(shop: dict[str, Any]) -> None:
    """docs/content.md: exact tag, then main language, then the fallback; a field the
    language leaves out comes from the variant, then from the activity."""
    lou = preview(shop, "mail", "--profile", "12", "--json", run="gold")
    assert (lou["language"], lou["variant"]) == ("fr", variant_of("mail", 12))  # fr-BE -> fr
    assert lou["message"]["subject"] == "Lou, votre offre"
    assert lou["message"]["text"] == f"Bonjour Lou, vous avez dépensé {spent(12)}.\n"

    chloe = preview(shop, "mail", "--profile", "3", "--json", run="bronze")
    assert variant_of("mail", 3) == "short"
    assert (chloe["language"], chloe["variant"]) == ("en", "short")  # no language: fallback
    assert chloe["message"]["subject"] == "Chloé: -10 %"               # from the variant
    assert chloe["message"]["html"].split("<img")[0] == \
        "<p>Hello Chloé, you spent 0.0.</p>"  # the activity's
    # Chloé reaches the activity but has not opted in: rendered, with the reason
    assert (chloe["excluded"], chloe["address"]) == ("no_consent", "ANA@example.com")


def test_run_gives_the_rows(shop: dict[str, Any]) -> None:
    """Eve is platinum: she reaches `mail` only in the run made with tier=platinum, and
    her `spent` (320.0, computed by `enrich` in that run) is in the message."""
    out = preview(shop, "mail", "--profile", "5", run="platinum")
    run = shop["runs"]["platinum"]
    assert f"Run {run} (test run given with --run)" in out
    assert "mail · email · customer_id 5" in out
    assert "Eve, votre offre d'ici" in out                        # FR_ca -> fr-CA
    assert "Hello Eve, you spent 320.0." in out                   # fr-CA has no html
    assert "Variant           long" in out and "Language          fr-CA" in out
    assert "text part (derived from the HTML):" in out
    assert "<p>" not in out and spent(5) == 320.0

    out = preview(shop, "mail", "--profile", "5", "--html", run="platinum")
    assert "<p>Hello Eve, you spent 320.0.</p>" in out and "text part" not in out


def test_a_profile_filtered_out_upstream_says_where(shop: dict[str, Any]) -> None:
    run = shop["runs"]["gold"]
    dan = preview(shop, "mail", "--profile", "4", run="gold", ok=False)  # gold, DE
    assert dan == (f"error: customer_id 4 does not reach mail in run {run}: dropped by tiers "
                   "(split): it leaves on port complement, not on fr")
    ben = preview(shop, "mail", "--profile", "2", run="gold", ok=False)  # silver
    assert ben == (f"error: customer_id 2 does not reach mail in run {run}: buyers "
                   "(build_audience) does not select it")


# ---- proofs ----

def test_proofs_go_through_the_outbox_never_the_message_log(shop: dict[str, Any]) -> None:
    out = preview(shop, "mail", "--profile", "3", "--proof", "qa@x.example, boss@y.example",
                  run="bronze")
    assert "Excluded          no_consent: live sending would not send this message" in out
    assert "Proofs" in out and out.count("sent (") == 2

    listed = json.loads(invoke(shop, "outbox", "list", "--json").stdout)
    proofs = [m for m in listed if m["summary"].startswith("[PROOF] ")]
    assert sorted(m["to"] for m in proofs) == ["boss@y.example", "qa@x.example"]
    assert {m["summary"] for m in proofs} == {"[PROOF] Chloé: -10 %"}
    assert {(m["campaign"], m["activity_id"], m["run_id"]) for m in proofs} == {
        ("spring", "mail", None)}
    ids = {m["message_id"] for m in proofs}
    assert len(ids) == 2 and all(uuid.UUID(i).version == 4 for i in ids)  # fresh, random

    reader = OutboxReader(outbox_directory(shop["ws"] / ".overture"))
    for entry in reader.messages(channel="email"):
        if entry.message_id in ids:
            email = entry.email()
            assert email["X-Overture-Proof"] == "yes"
            assert email["Subject"] == "[PROOF] Chloé: -10 %"

    sms = preview(shop, "sms_age", "--profile", "1", "--json", "--proof", "+33 6 11 22 33 44",
                  run="gold")
    assert sms["message"] == {"body": f"Ana: {100 // 34}"}
    assert sms["address"] == "+33600000001"
    assert sms["warnings"] == ["sms_age is disabled: live runs skip it"]
    [answer] = sms["proofs"]
    assert (answer["to"], answer["ok"], answer["provider"]) == ("+33 6 11 22 33 44", True,
                                                                "outbox")
    lines = (shop["ws"] / ".overture" / "outbox" / "sms.jsonl").read_text().splitlines()
    stored = [json.loads(line) for line in lines]
    assert [r["payload"] for r in stored if r["message_id"] == answer["message_id"]] == [
        {"body": f"[PROOF] Ana: {100 // 34}"}]

    ws = Workspace.open(shop["ws"])
    try:
        log = message_log(ws.data)
        assert log is None or log.count().execute() == 0
    finally:
        ws.close()


def test_a_provider_failure_is_an_error_not_a_traceback(shop: dict[str, Any]) -> None:
    said = preview(shop, "mail_smtp", "--profile", "1", "--proof", "qa@x.example",
                   run="gold", ok=False)
    assert said.startswith("error: 1 of 1 proofs not sent: qa@x.example: ")


# ---- errors ----

@pytest.mark.parametrize(("args", "run", "message"), [
    (["tiers", "--profile", "1"], "gold",
     "tiers is a split activity, not a channel (email, sms, push); the campaign's channel "
     "activities: mail, sms_age, mail_smtp"),
    (["nope", "--profile", "1"], "gold",
     "campaign 'spring' has no activity 'nope'; its channel activities: mail, sms_age, "
     "mail_smtp"),
    (["mail", "--profile", "99"], "gold", "no profile customer_id = '99' in customers"),
    (["mail", "--profile", "1", "--run", "zzzz"], None, "no run 'zzzz'"),
    (["sms_age", "--profile", "5"], "platinum",  # Eve's age is NULL
     "customer_id 5: sms_age.body: cannot render (TypeError): "),
    (["mail", "--profile", "1", "--proof", "qa@x.example,not-an-address"], "gold",
     "proof address 'not-an-address' is not an email address (for email proofs)"),
    (["sms_age", "--profile", "1", "--proof", "qa@x.example"], "gold",
     "proof address 'qa@x.example' is not a phone number (for sms proofs)"),
])
def test_errors_are_precise(shop: dict[str, Any], args: list[str], run: str | None,
                            message: str) -> None:
    said = preview(shop, *args, run=run, ok=False)
    assert said.startswith(f"error: {message}"), said
