"""The Spark data plane's settings, its defaults between processes, and its clear errors.

The suites that run on Spark (rules, activities, live sends, feedback, reports, the
sample campaigns) do so through `data_backend`; here are what they do not cover: the
`pyspark://` URL, the Hive catalog that keeps a local workspace's tables between two
commands, and what Spark refuses, each in one line.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import pytest

from engine.kit import cli
from overture.data.plane import DataPlane, DataPlaneError
from overture.data.spark import DEFAULT_DATABASE, jdbc_of, parse_url
from overture.data.workspace import Workspace

LOG = "postgresql://overture@db.internal:5432/marketing"


def test_a_local_master_writes_under_the_workspace(tmp_path: Path) -> None:
    settings = parse_url("pyspark://local[2]", log_url=LOG, state_dir=tmp_path)
    assert settings.master == "local[2]"
    assert settings.database == DEFAULT_DATABASE
    assert settings.warehouse == str(tmp_path / "spark-warehouse")
    assert settings.catalog == "hive"
    assert settings.log_url == LOG


@pytest.mark.parametrize(("url", "master"), [
    ("pyspark://spark-master.internal:7077", "spark://spark-master.internal:7077"),
    ("pyspark://yarn", "yarn"),
    ("pyspark://k8s://https://kube.internal:6443", "k8s://https://kube.internal:6443"),
    ("pyspark://local[*]", "local[*]"),
])
def test_cluster_masters_keep_the_clusters_warehouse(tmp_path: Path, url: str,
                                                     master: str) -> None:
    settings = parse_url(url, log_url=LOG, state_dir=tmp_path)
    assert settings.master == master
    assert settings.warehouse is None or master.startswith("local")


def test_url_settings_and_the_log_url_in_the_url() -> None:
    url = (f"pyspark://local[1]?database=crm&warehouse=/data/wh&catalog=in-memory"
           f"&log_url={quote(LOG, safe='')}")
    settings = parse_url(url, conf={"spark.executor.memory": "8g"})
    assert (settings.database, settings.warehouse, settings.catalog) == (
        "crm", "/data/wh", "in-memory")
    assert settings.log_url == LOG
    assert settings.conf == {"spark.executor.memory": "8g"}


@pytest.mark.parametrize(("url", "log", "message"), [
    ("pyspark://local[2]", None, "set \\[data\\] log_url"),
    ("pyspark://local[2]", "duckdb:///x.duckdb", "must be a PostgreSQL URL"),
    ("pyspark://", LOG, "no Spark master"),
    ("pyspark://my cluster", LOG, "is not a Spark master"),
    ("pyspark://local[2]?databse=x", LOG, "unknown setting 'databse'"),
    ("pyspark://local[2]?database=1st", LOG, "not a valid name"),
    ("pyspark://local[2]?catalog=glue", LOG, "use hive or in-memory"),
])
def test_wrong_settings_are_one_line_each(url: str, log: str | None, message: str) -> None:
    with pytest.raises(DataPlaneError, match=message):
        DataPlane.connect(url, log_url=log)


def test_jdbc_url_and_credentials_of_the_log_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PGPASSWORD", raising=False)
    jdbc = jdbc_of("postgresql://ann:s%40cret@db.internal:6432/shop?options=-csearch_path%3Dx")
    assert (jdbc.url, jdbc.user, jdbc.password) == (
        "jdbc:postgresql://db.internal:6432/shop", "ann", "s@cret")
    monkeypatch.setenv("PGPASSWORD", "from-env")
    assert jdbc_of("postgresql://bob@127.0.0.1/test").password == "from-env"


@pytest.mark.spark
def test_a_local_workspace_keeps_its_tables_between_commands(tmp_path: Path,
                                                             postgres_url: str) -> None:
    """The default catalog (Hive, an embedded Derby metastore under .overture/): a table
    loaded by one command is there for the next, each a Spark application of its own."""
    root = tmp_path / "shop"
    Workspace.init(root)
    config = root / "overture.toml"
    config.write_text(config.read_text().replace(
        'url = "duckdb:///.overture/data.duckdb"',
        f'url = "pyspark://local[1]"\nlog_url = "{postgres_url}"'))
    data = tmp_path / "customers.csv"
    data.write_text("customer_id,email,email_optin\nC1,ann@example.com,true\n"
                    "C2,bob@example.com,false\n")
    loaded = cli(root, "data", "load", "customers", str(data), "--key", "customer_id")
    assert loaded.returncode == 0, loaded.stderr
    assert "Traceback" not in loaded.stderr
    assert (root / ".overture" / "spark-warehouse").is_dir()
    assert (root / ".overture" / "spark-metastore").is_dir()
    listed = cli(root, "data", "tables", "--json")
    assert listed.returncode == 0, listed.stderr
    tables = {row["table"]: row for row in json.loads(listed.stdout)}
    assert tables["customers"]["rows"] == 2
    assert tables["customers"]["key"] == "customer_id"


@pytest.mark.spark
def test_what_spark_cannot_do_is_said_in_one_line(
        tmp_path: Path, spark_session: Callable[[], tuple[str, Callable[[], None]]]) -> None:
    from overture.privacy.profile import PrivacyError, run_statements

    url, drop = spark_session()
    plane = DataPlane.connect(url)
    try:
        with pytest.raises(DataPlaneError, match="not supported on pyspark: this needs DuckDB "
                                                 "or PostgreSQL"):
            plane.execute([("UPDATE customers SET email = NULL", [])])
        with pytest.raises(PrivacyError, match="not supported on pyspark"):
            run_statements(plane, [("DELETE FROM customers", [])])
        with pytest.raises(DataPlaneError, match="one Spark application per process"):
            DataPlane.connect(url.replace("local[2]", "local[1]"))
    finally:
        plane.close()
        drop()
