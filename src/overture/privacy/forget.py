"""`forget_profile`: erase one person everywhere, or anonymise what must stay counted.

In the data plane, with one statement per table (never row by row), all in one
transaction after the addresses are suppressed:

- the profile row, and the rows of its `many` links whose `on` maps the profile's key
  (`{customer_id: customer_id}`): deleted. Links of cardinality `one` reach shared
  rows (a store) and are kept; so are `many` links joined on another column;
- saved audiences and run work tables: the key's rows deleted (audience sizes updated);
- the message log: kept for reports, anonymised: `address` erased and `profile_key`
  replaced by `pseudonym(dimension, key)`, the same for all of the person's rows, so
  counts per status and of distinct profiles stay right. Events and tracked links
  refer to message ids only and are kept;
- unsubscribes of the key: deleted;
- each normalised address of the person (profile columns and message log): put on
  the suppression list as its SHA-256 hash (`sha256:<hex>`), and its plain rows on the
  list deleted, so the address is never sent to again yet no longer stored.

The suppression comes first: if the transaction then fails, the person is still there
and blocked, and `forget` can simply be run again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from overture.data import audiences, messages, suppressions
from overture.privacy.profile import (
    Profile,
    addresses_of,
    audiences_holding,
    find_profile,
    linked,
    quote,
    run_statements,
    work_tables_holding,
)

if TYPE_CHECKING:
    from overture.data.workspace import Workspace

SOURCE = "privacy:forget"


@dataclass(frozen=True)
class Step:
    """What forgetting did to one table."""

    table: str
    action: str  # deleted | anonymised | suppressed | kept
    count: int
    what: str    # the rows, in words: "profile row", "rows (link purchases)"…

    def as_json(self) -> dict[str, Any]:
        return {"table": self.table, "action": self.action, "count": self.count,
                "what": self.what}


@dataclass
class ForgetReport:
    dimension: str
    key: str
    steps: list[Step] = field(default_factory=list)

    def count(self, table: str, action: str | None = None) -> int:
        return sum(s.count for s in self.steps
                   if s.table == table and (action is None or s.action == action))

    def as_json(self) -> dict[str, Any]:
        return {"dimension": self.dimension, "key": self.key,
                "steps": [s.as_json() for s in self.steps]}


def forget_profile(ws: Workspace, key: str, dimension: str | None = None, *,
                   at: datetime | None = None) -> ForgetReport:
    """Erase the profile `key` of `dimension` (default: the catalog's target) everywhere;
    a PrivacyError when there is no such profile."""
    profile = find_profile(ws, key, dimension)
    plane = ws.data
    report = ForgetReport(profile.dimension, profile.key_text)
    addresses = addresses_of(ws, profile)

    for channel, values in addresses.items():
        added = suppressions.add_hashed_suppressions(plane, channel, values, source=SOURCE,
                                                     at=at)
        report.steps.append(Step(suppressions.SUPPRESSIONS, "suppressed", added.added,
                                 f"{channel} addresses added as sha256 hashes "
                                 f"({added.already} hashed already)"))

    statements: list[tuple[str, list[Any]]] = []
    labels: list[Step | None] = []  # the step each statement's count goes to (None: none)
    kept: list[Step] = []

    def add(sql: str, params: list[Any], step: Step | None) -> None:
        statements.append((sql, params))
        labels.append(step)

    for item in linked(ws, profile):
        if item.rows is None:
            continue
        if item.link.cardinality == "many" and item.key_column is not None:
            add(f"DELETE FROM {quote(item.link.table)} WHERE {quote(item.key_column)} = ?",
                [profile.key], Step(item.link.table, "deleted", 0, f"rows (link {item.name})"))
        elif item.link.cardinality == "many":
            reached = int(item.rows.count().execute())
            kept.append(Step(item.link.table, "kept", reached,
                             f"rows (link {item.name} does not join on "
                             f"{profile.key_column})"))
    add(f"DELETE FROM {quote(profile.dimension)} WHERE {quote(profile.key_column)} = ?",
        [profile.key], Step(profile.dimension, "deleted", 0, "profile rows"))
    _audiences(ws, profile, add)
    for work in work_tables_holding(ws, profile):
        where = f"run {work.run}" + (f" {work.activity}.{work.port}" if work.activity else "")
        add(f"DELETE FROM {quote(work.table)} WHERE {quote(profile.key_column)} = ?",
            [profile.key], Step(work.table, "deleted", 0, f"work table rows ({where})"))
    if plane.has_table(messages.MESSAGES):
        add(f'UPDATE {quote(messages.MESSAGES)} SET "address" = NULL, "profile_key" = ? '
            'WHERE "dimension" = ? AND "profile_key" = ?',
            [profile.pseudonym, profile.dimension, profile.key_text],
            Step(messages.MESSAGES, "anonymised", 0,
                 "message log rows (address erased, profile key hashed)"))
    if plane.has_table(suppressions.UNSUBSCRIBES):
        add(f'DELETE FROM {quote(suppressions.UNSUBSCRIBES)} WHERE "dimension" = ? '
            'AND "profile_key" = ?', [profile.dimension, profile.key_text],
            Step(suppressions.UNSUBSCRIBES, "deleted", 0, "unsubscribes"))
    if addresses and plane.has_table(suppressions.SUPPRESSIONS):
        tests, values = [], []
        for channel, plain in addresses.items():
            tests.append(f'("channel" = ? AND "address" IN ({", ".join("?" for _ in plain)}))')
            values.extend([channel, *plain])
        add(f"DELETE FROM {quote(suppressions.SUPPRESSIONS)} WHERE {' OR '.join(tests)}",
            values, Step(suppressions.SUPPRESSIONS, "deleted", 0,
                         "plain addresses (now kept as hashes)"))

    counts = run_statements(plane, statements)
    for step, count in zip(labels, counts, strict=True):
        if step is not None:
            report.steps.append(Step(step.table, step.action, count, step.what))
    report.steps.extend(kept)
    return report


def _audiences(ws: Workspace, profile: Profile, add: Any) -> None:
    """Statements removing the key from every saved audience holding it."""
    for info, _rows in audiences_holding(ws.data, profile):
        table = quote(info.table_name)
        add(f"DELETE FROM {table} WHERE {quote(profile.key_column)} = ?", [profile.key],
            Step(info.table_name, "deleted", 0, f"rows of audience {info.name}"))
        add(f'UPDATE {quote(audiences.META)} SET "rows" = (SELECT COUNT(*) FROM {table}) '
            'WHERE "name" = ?', [info.name], None)
