"""The hand-countable campaign every report test counts.

`news` is one live run of an email with two tracked links over the 12 customers of
`support.workspace.ROWS`. By hand from ROWS: 1, 2, 5, 8, 11 and 12 have a valid address
and consent; 3 and 7 lack consent, 4 and 10 have no address, 6 and 9 invalid ones. The
provider refuses Lou (12): 5 sent, 1 error. The message log's instants are pinned (the
engine writes the wall clock) and a known set of events is appended:

- 1 Ana: delivered 03-01 08:01 (and a second receipt at 08:02), opens 03-01 09:00 and
  03-02 08:00, clicks on link 0 03-01 09:05 and 03-02 08:05, on link 1 03-01 09:06;
- 2 Ben: delivered 08:01, a machine open 08:01, an open 03-02 09:00, a click on link 0
  03-02 09:01, unsubscribed 03-02 09:10;
- 5 Eve: delivered 08:03, a machine open and a machine click on link 1 at 08:03, a
  complaint 03-01 10:00;
- 8 Hal: a soft bounce 03-01 08:05; 11 Kim: a hard bounce 03-01 08:05.

`NOW` is 2027-03-02 09:30, so the last 24 hours start 2027-03-01 09:30. `EXPECTED`
holds every figure, counted from the list above.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

from engine.kit import BY_ID, Harness
from overture.channels.identity import message_id
from overture.channels.providers import OutgoingMessage, ProviderSettings, SendResult, register
from overture.data import events
from overture.data.messages import MESSAGES
from support.workspace import ROWS

CAMPAIGN = "news"
LINK_A = "https://shop.example/a"
LINK_B = "https://shop.example/b"
MAIL = f"""
- {{id: all, type: build_audience}}
- {{id: mail, type: email, inputs: [all], from: "Shop <news@shop.example>",
   subject: "Hi {{{{ first_name }}}}",
   html: '<p>Hello <a href="{LINK_A}">A</a> and <a href="{LINK_B}">B</a></p>'}}
"""
SENT = (1, 2, 5, 8, 11)
FAILED = 12
#: when the plan was written, and when each message was sent (minutes after T0)
T0 = datetime(2027, 3, 1, 8, 0)
PLANNED = T0 - timedelta(minutes=1)
NOW = datetime(2027, 3, 2, 9, 30, tzinfo=UTC)


def at(day: int, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2027, 3, day, hour, minute, second)


#: (event type, customer, instant, extra fields)
EVENTS: list[tuple[str, int, datetime, dict[str, Any]]] = [
    ("delivered", 1, at(1, 8, 1), {}),
    ("delivered", 1, at(1, 8, 2), {}),  # a second receipt of the same message
    ("delivered", 2, at(1, 8, 1), {}),
    ("delivered", 5, at(1, 8, 3), {}),
    ("bounce", 8, at(1, 8, 5), {"bounce_type": "soft"}),
    ("bounce", 11, at(1, 8, 5), {"bounce_type": "hard"}),
    ("open", 1, at(1, 9, 0), {}),
    ("open", 1, at(2, 8, 0), {}),
    ("open", 2, at(1, 8, 1, 1), {"machine": True}),
    ("open", 2, at(2, 9, 0), {}),
    ("open", 5, at(1, 8, 3, 1), {"machine": True}),
    ("click", 1, at(1, 9, 5), {"link": 0, "url": LINK_A}),
    ("click", 1, at(2, 8, 5), {"link": 0, "url": LINK_A}),
    ("click", 1, at(1, 9, 6), {"link": 1, "url": LINK_B}),
    ("click", 2, at(2, 9, 1), {"link": 0, "url": LINK_A}),
    ("click", 5, at(1, 8, 3, 2), {"link": 1, "url": LINK_B, "machine": True}),
    ("unsubscribe", 2, at(2, 9, 10), {}),
    ("complaint", 5, at(1, 10, 0), {}),
]

EXCLUDED = {"no_address": 2, "invalid_address": 2, "no_consent": 2}
#: the figures of the activity (and of the campaign: it has one), all time
EXPECTED: dict[str, Any] = {
    "targeted": 12, "excluded": EXCLUDED, "pending": 0, "sent": 5, "delivered": 3,
    "bounces": {"hard": 1, "soft": 1}, "errors": 1,
    "opens": {"total": 3, "unique": 2, "machine": 2},
    "clicks": {"total": 4, "unique": 2, "machine": 1},
    "unsubscribes": 1, "complaints": 1,
    "ctr": round(2 / 3, 4), "ctr_basis": "delivered", "ctor": 1.0,
}
#: from 03-01 09:30 to 03-02 09:30: the plan, the sends and the receipts are older
EXPECTED_24H: dict[str, Any] = {
    "targeted": 0, "excluded": {}, "pending": 0, "sent": 0, "delivered": 0,
    "bounces": {"hard": 0, "soft": 0}, "errors": 0,
    "opens": {"total": 2, "unique": 2, "machine": 0},
    "clicks": {"total": 2, "unique": 2, "machine": 0},
    "unsubscribes": 1, "complaints": 1,  # 03-01 10:00 is in the window
    "ctr": None, "ctr_basis": "delivered", "ctor": 1.0,  # nothing delivered in the window
}
EXPECTED_LINKS = [
    {"link": 0, "url": LINK_A, "clicks": 3, "unique": 2, "machine": 0},
    {"link": 1, "url": LINK_B, "clicks": 1, "unique": 1, "machine": 1},
]
_ZEROS = {"sent": 0, "delivered": 0, "bounced": 0, "opens": 0, "clicks": 0,
          "unsubscribes": 0, "complaints": 0}
EXPECTED_DOMAINS = [
    # 1, 2, 3 ("ANA@example.com "), 5, 7, 8, 11 ("kim_100%@example.com"), 12
    {"domain": "example.com", "targeted": 8, "sent": 5, "delivered": 3, "bounced": 2,
     "opens": 2, "clicks": 2, "unsubscribes": 1, "complaints": 1},
    {"domain": "(none)", "targeted": 3, **_ZEROS},  # 4 (null), 9 (no @), 10 (empty)
    {"domain": "example", "targeted": 1, **_ZEROS},  # 6: fay@example
]


def _bucket(day: int, hour: int, sent: int, opens: int, clicks: int) -> dict[str, Any]:
    return {"at": f"2027-03-{day:02d}T{hour:02d}:00:00+00:00", "sent": sent, "opens": opens,
            "clicks": clicks}


EXPECTED_HOURLY = [_bucket(1, 8, 5, 0, 0), _bucket(1, 9, 0, 1, 2), _bucket(2, 8, 0, 1, 1),
                   _bucket(2, 9, 0, 1, 1)]
EXPECTED_DAILY = [_bucket(1, 0, 5, 1, 2), _bucket(2, 0, 0, 2, 2)]


@register("reports-recorder")
class Refusing:
    """Sends everything except to the addresses of `fail_to` (a permanent failure)."""

    channels = frozenset({"email", "sms", "push"})
    rate = None
    concurrency = 1
    sent: ClassVar[list[str]] = []

    def __init__(self, name: str, settings: ProviderSettings) -> None:
        self.name = name
        self.fail_to = set(settings.get("fail_to", []))
        self.lock = threading.Lock()

    @classmethod
    def from_config(cls, name: str, settings: ProviderSettings) -> Refusing:
        return cls(name, settings)

    def send(self, message: OutgoingMessage) -> SendResult:
        if message.to in self.fail_to:
            return SendResult.failed("550 5.1.1 no such user")
        with self.lock:
            Refusing.sent.append(str(message.to))
        return SendResult.sent(provider_id=f"p-{str(message.message_id)[:8]}")

    def close(self) -> None:
        pass


@dataclass
class Scenario:
    h: Harness
    run: str
    ids: dict[int, str]  # customer id -> message id

    @property
    def root(self) -> Path:
        return self.h.ws.root


def use_refusing_provider(h: Harness) -> None:
    h.ws.config = {**h.ws.config, "channels": {"email": "refusing"},
                   "providers": {"refusing": {"type": "reports-recorder",
                                              "fail_to": [BY_ID[FAILED]["email"]]}}}


def pin_times(h: Harness, run: str, ids: dict[int, str]) -> None:
    """The plan written at PLANNED, customer k's message sent (or failed) k minutes
    after T0 (all within the 08:00 hour)."""
    statements: list[tuple[str, list[Any]]] = [
        (f"UPDATE {MESSAGES} SET created_at = ? WHERE run_id = ?", [PLANNED, run])]
    for key in (*SENT, FAILED):
        statements.append((f"UPDATE {MESSAGES} SET sent_at = ? WHERE message_id = ?",
                           [T0 + timedelta(minutes=key % 60), ids[key]]))
    h.ws.data.log.execute(statements)  # the log: PostgreSQL beside Spark


def event_rows(ids: dict[int, str]) -> list[dict[str, Any]]:
    rows = []
    for n, (kind, key, when, extra) in enumerate(EVENTS):
        rows.append({"event_id": f"report-test-{n}", "message_id": ids[key], "type": kind,
                     "at": when, "machine": bool(extra.get("machine", False)),
                     "link": extra.get("link"), "url": extra.get("url"),
                     "bounce_type": extra.get("bounce_type"), "source": "manual"})
    return rows


def build(root: Path, **workspace: Any) -> Scenario:
    """The `news` scenario in a new workspace at `root` (the harness stays open)."""
    h = Harness(root, **workspace)
    use_refusing_provider(h)
    result = h.run(MAIL, mode="live", name=CAMPAIGN)
    assert result["status"] == "done", result
    run = result["run"]
    ids = {r["customer_id"]: str(message_id(run, "mail", r["customer_id"]))
           for r in ROWS["customers"]}
    pin_times(h, run, ids)
    stored = events.append(h.ws.data, event_rows(ids))
    assert (stored.stored, stored.duplicates, stored.unknown) == (len(EVENTS), 0, [])
    return Scenario(h=h, run=run, ids=ids)


def all_time(figures: dict[str, Any]) -> dict[str, Any]:
    """The spec §9 figures of a block, without its window and breakdowns."""
    return {k: figures[k] for k in EXPECTED}
