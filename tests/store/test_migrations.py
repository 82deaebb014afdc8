"""Migrations match the models, run on open, and survive being run twice or at once."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from overture.store.db import ControlStoreError, alembic_config, engine_url
from overture.store.models import Base
from overture.store.repository import ControlStore

HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()
TABLES = {"alembic_version", "runs", "activity_runs", "run_log", "campaigns",
          "campaign_versions", "campaign_history", "users", "api_tokens",
          "sessions", "send_batches", "rate_slots"}


def _versions(store: ControlStore) -> list[str]:
    with store._engine.connect() as conn:
        return list(conn.scalars(text("SELECT version_num FROM alembic_version")))


def test_migrated_schema_matches_the_models(store: ControlStore):
    with store._engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
        assert set(inspect(conn).get_table_names()) == TABLES


def test_open_twice_keeps_data_and_one_version(control_url: str):
    first = ControlStore(control_url)
    first.create_run(run_id="run1", campaign="c", mode="test", document={}, variables={},
                     clock=datetime.now(UTC))  # fmt: skip
    first.close()
    second = ControlStore(control_url)
    try:
        assert second.get_run("run1").campaign == "c"
        assert _versions(second) == [HEAD]
    finally:
        second.close()


def test_downgrade_then_upgrade_again(store: ControlStore):
    config = alembic_config()
    with store._engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
        assert set(inspect(conn).get_table_names()) == {"alembic_version"}
    store.close()
    reopened = ControlStore(store.url)
    try:
        assert _versions(reopened) == [HEAD]
        assert reopened.list_runs() == []
    finally:
        reopened.close()


OPEN_ON_GO = """
import sys
from overture.store.repository import ControlStore

print("ready", flush=True)
sys.stdin.readline()  # all children open at the same moment, imports done
ControlStore(sys.argv[1]).close()
"""


def test_processes_opening_a_new_database_at_once_all_succeed(control_url: str):
    command = [sys.executable, "-c", OPEN_ON_GO, control_url]
    pipe = subprocess.PIPE
    children = [
        subprocess.Popen(command, stdin=pipe, stdout=pipe, stderr=pipe, text=True) for _ in range(3)
    ]
    assert [child.stdout.readline() for child in children if child.stdout] == ["ready\n"] * 3
    for child in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    errors = [child.communicate(timeout=120)[1] for child in children]
    assert [child.returncode for child in children] == [0] * 3, errors
    store = ControlStore(control_url)
    try:
        assert _versions(store) == [HEAD]
    finally:
        store.close()


def test_sqlite_settings(tmp_path):
    store = ControlStore(f"sqlite:///{tmp_path / 'deeper' / 'control.db'}")  # creates the folder
    try:
        with store._engine.connect() as conn:
            pragmas = {
                name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "busy_timeout", "foreign_keys", "synchronous")
            }
        assert pragmas == {
            "journal_mode": "wal", "busy_timeout": 30000, "foreign_keys": 1, "synchronous": 2,
        }  # fmt: skip
    finally:
        store.close()


@pytest.mark.parametrize(
    ("given", "driver"),
    [
        ("postgresql://u@h/db", "postgresql+psycopg"),
        ("postgres://u@h/db", "postgresql+psycopg"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg"),
        ("sqlite:///x/control.db", "sqlite"),
    ],
)
def test_engine_url_drivers(given: str, driver: str):
    assert engine_url(given).drivername == driver


def test_engine_url_keeps_the_search_path_option():
    url = engine_url("postgresql://u@h/db?options=-csearch_path%3Dt_1")
    assert url.query == {"options": "-csearch_path=t_1"}


@pytest.mark.parametrize("bad", ["mysql://u@h/db", "duckdb:///x.duckdb", "not a url"])
def test_engine_url_refuses_other_databases(bad: str):
    with pytest.raises(ControlStoreError, match="control url"):
        engine_url(bad)


def test_a_newer_schema_is_refused_with_a_clear_message(store: ControlStore):
    with store._engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(ControlStoreError, match="revision '9999', newer than"):
        ControlStore(store.url)


def test_an_unreachable_database_is_a_clear_error(tmp_path):
    with pytest.raises(ControlStoreError, match="cannot open the control plane postgresql") as e:
        ControlStore("postgresql://nobody:secret@127.0.0.1:1/none?connect_timeout=2")
    assert "secret" not in str(e.value) and "nobody:***@" in str(e.value)
    (tmp_path / "dir.db").mkdir()
    with pytest.raises(ControlStoreError, match="cannot open the control plane sqlite"):
        ControlStore(f"sqlite:///{tmp_path / 'dir.db'}")
