"""`like` means the same on every engine: only % and _ are wildcards, `\\` is itself."""

from __future__ import annotations

from pathlib import Path

from overture.rules.compiler import RULE_ADAPTER, Compiler, RuleContext
from overture.rules.resolve import Resolver
from support.workspace import CLOCK, ROWS, make_workspace


def _rows() -> dict:
    rows = {name: [dict(r) for r in table] for name, table in ROWS.items()}
    rows["customers"][0]["first_name"] = "back\\slash"   # customer 1: one backslash
    rows["customers"][1]["first_name"] = "backslash"     # customer 2: none
    return rows


def test_a_backslash_in_like_matches_itself(tmp_path: Path, data_url: str | None) -> None:
    ws = make_workspace(tmp_path / "ws", data_url=data_url, rows=_rows())
    try:
        compiler = Compiler(RuleContext(plane=ws.data,
                                        resolver=Resolver(ws.catalog, ws.data.columns_of()),
                                        clock=CLOCK))
        for pattern, expected in (("back\\slash", {1}), ("back\\%", {1}), ("back%", {1, 2}),
                                  ("back_slash", {1}), ("backs%", {2})):
            rule = RULE_ADAPTER.validate_python(
                {"field": "first_name", "op": "like", "value": pattern})
            got = set(compiler.filter("customers", rule).execute()["customer_id"])
            assert got == expected, pattern
    finally:
        ws.close()
