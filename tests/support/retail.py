"""A workspace holding the generated sample retail data (examples/generate.py) and the
sample campaigns, for end-to-end tests at realistic sizes.

Tests compute their expectations from the generated tables with their own code (SQL
or Python they write), never from what the engine reports.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
from pathlib import Path
from types import ModuleType
from typing import Any

import duckdb

from overture.data.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
#: the email check of spec §5 as the docs state it, written again here
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("overture_examples_generate",
                                                  EXAMPLES / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def retail_workspace(root: Path, customers: int, *, config: str = "",
                     purchases_per_customer: float = 1.0) -> Path:
    """A new workspace at `root` with `customers` generated customers, the sample
    schema, campaigns and filters; `config` is appended to overture.toml."""
    Workspace.init(root)
    shutil.copyfile(EXAMPLES / "schema.yaml", root / "schema.yaml")
    shutil.rmtree(root / "campaigns")
    shutil.copytree(EXAMPLES / "campaigns", root / "campaigns")
    shutil.rmtree(root / "filters")
    shutil.copytree(EXAMPLES / "filters", root / "filters")
    con = duckdb.connect(str(root / ".overture" / "data.duckdb"))
    try:
        generator().create_tables(con, customers, purchases_per_customer=purchases_per_customer)
        con.execute("CHECKPOINT")
    finally:
        con.close()
    if config:
        path = root / "overture.toml"
        text = path.read_text(encoding="utf-8")
        if "[tracking]" in config:  # replaces the default section
            text = re.sub(r"\[tracking\]\nbase_url = .*\n", "", text)
        path.write_text(text + "\n" + config, encoding="utf-8")
    return root


def customers(root: Path) -> list[dict[str, Any]]:
    """Every generated customer, read with DuckDB directly (no Overture code)."""
    con = duckdb.connect(str(root / ".overture" / "data.duckdb"), read_only=True)
    try:
        cursor = con.execute("SELECT * FROM customers ORDER BY customer_id")
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        con.close()


def emailable(rows: list[dict[str, Any]]) -> dict[int, str]:
    """customer_id -> trimmed address of those with a valid address and consent."""
    out: dict[int, str] = {}
    for row in rows:
        address = (row["email"] or "").strip()
        if address and EMAIL_RE.match(address) and row["email_optin"] is True:
            out[row["customer_id"]] = address
    return out
