"""A workspace: a folder with `overture.toml`, `schema.yaml`, `filters/` and `.overture/`.

The workspace is the one object the CLI, the engine and (later) the server hold: it
opens the data plane and the control plane lazily, so commands that need only one
of them never touch the other.
"""

from __future__ import annotations

import contextlib
import os
import threading
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from overture.data.catalog import Catalog, load_catalog

if TYPE_CHECKING:
    from overture.data.plane import DataPlane
    from overture.store.repository import ControlStore

CONFIG_NAME = "overture.toml"
SCHEMA_NAME = "schema.yaml"
STATE_DIR = ".overture"

DEFAULT_CONFIG = """\
# Overture workspace. Secrets come from the environment, never from this file.
[data]                      # profiles, related tables, work tables of runs, audiences
url = "duckdb:///.overture/data.duckdb"     # or postgresql://user@host/db, or pyspark://local[2]
# log_url = "postgresql://user@host/db"     # Spark only: where the message log and events live

[control]                   # campaigns, runs, activity runs, logs
url = "sqlite:///.overture/control.db"      # or postgresql://user@host/db

[tracking]
base_url = "http://127.0.0.1:8000"
"""

DEFAULT_SCHEMA = """\
# The data model: which table holds the profiles, how tables link, which columns
# address a profile on each channel. `overture data load` fills the tables.
target: customers                 # the default targeting dimension
tables:
  customers:
    key: customer_id
    channels:
      email: {address: email, consent: email_optin}
    # timezone: timezone          # a column holding an IANA zone
    # language: language          # a column holding a language tag
    links: {}
      # purchases: {table: purchases, on: {customer_id: customer_id}, cardinality: many}
"""


class WorkspaceError(Exception):
    """A workspace that cannot be found or read: the message says what to do."""


@dataclass
class Workspace:
    root: Path
    config: dict[str, Any] = field(default_factory=dict)

    # ---- finding and creating ----
    @classmethod
    def init(cls, root: Path) -> Workspace:
        root.mkdir(parents=True, exist_ok=True)
        config = root / CONFIG_NAME
        if config.exists():
            raise WorkspaceError(f"{config} already exists: this folder is a workspace already")
        config.write_text(DEFAULT_CONFIG, encoding="utf-8")
        schema = root / SCHEMA_NAME
        if not schema.exists():
            schema.write_text(DEFAULT_SCHEMA, encoding="utf-8")
        (root / STATE_DIR).mkdir(exist_ok=True)
        (root / "filters").mkdir(exist_ok=True)
        (root / "campaigns").mkdir(exist_ok=True)
        return cls.open(root)

    @classmethod
    def open(cls, root: Path) -> Workspace:
        path = root / CONFIG_NAME
        if not path.exists():
            raise WorkspaceError(
                f"{root} is not an Overture workspace (no {CONFIG_NAME}); "
                "run `overture init DIR` or pass --workspace"
            )
        try:
            config = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise WorkspaceError(f"{path}: not valid TOML: {exc}") from None
        (root / STATE_DIR).mkdir(exist_ok=True)
        return cls(root=root.resolve(), config=config)

    @classmethod
    def find(cls, start: Path | None = None) -> Workspace:
        """The workspace of `$OVERTURE_WORKSPACE`, or the nearest folder up with overture.toml."""
        env = os.environ.get("OVERTURE_WORKSPACE")
        if start is None and env:
            return cls.open(Path(env))
        here = (start or Path.cwd()).resolve()
        for folder in (here, *here.parents):
            if (folder / CONFIG_NAME).exists():
                return cls.open(folder)
        raise WorkspaceError(
            f"no {CONFIG_NAME} in {here} or its parents; run `overture init DIR`, "
            "or pass --workspace DIR"
        )

    # ---- settings ----
    def _url(self, section: str, default: str) -> str:
        url = str(self.config.get(section, {}).get("url", default))
        return expand_relative_url(url, self.root)

    @property
    def data_url(self) -> str:
        return self._url("data", "duckdb:///.overture/data.duckdb")

    @property
    def log_url(self) -> str | None:
        """`[data] log_url`: beside Spark, the PostgreSQL of the message log and events."""
        url = self.config.get("data", {}).get("log_url")
        return str(url) if url else None

    @property
    def spark_conf(self) -> dict[str, Any]:
        """`[data.spark]`: Spark settings (`"spark.executor.memory" = "8g"`, …)."""
        conf = self.config.get("data", {}).get("spark", {})
        if not isinstance(conf, dict):
            raise WorkspaceError("[data.spark] must be a table of Spark settings")
        return conf

    def connect_data(self) -> DataPlane:
        from overture.data.plane import DataPlane

        return DataPlane.connect(self.data_url, log_url=self.log_url, state_dir=self.state_dir,
                                 spark_conf=self.spark_conf)

    @property
    def control_url(self) -> str:
        return self._url("control", "sqlite:///.overture/control.db")

    @property
    def schema_path(self) -> Path:
        return self.root / SCHEMA_NAME

    @property
    def filters_dir(self) -> Path:
        return self.root / "filters"

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR

    # ---- the two planes, opened on first use ----
    @cached_property
    def catalog(self) -> Catalog:
        return load_catalog(self.schema_path)

    @cached_property
    def data(self) -> DataPlane:
        return self.connect_data()

    @cached_property
    def control(self) -> ControlStore:
        from overture.store.repository import ControlStore

        lease = self.config.get("workers", {}).get("lease_seconds")
        return ControlStore(self.control_url, lease=float(lease) if lease else None)

    def reload_catalog(self) -> Catalog:
        self.__dict__.pop("catalog", None)
        return self.catalog

    def reconnect_data(self) -> None:
        """Drop the data plane's connection (lost, say); the next use opens a new one."""
        plane = self.__dict__.pop("data", None)
        if plane is not None:
            with contextlib.suppress(Exception):  # it is broken already
                plane.close()

    def close(self) -> None:
        if "data" in self.__dict__:
            self.data.close()
            del self.__dict__["data"]
        if "control" in self.__dict__:
            self.control.close()
            del self.__dict__["control"]


def expand_relative_url(url: str, root: Path) -> str:
    """`duckdb:///.overture/x.duckdb` and `sqlite:///rel.db` are relative to the workspace."""
    for scheme in ("duckdb:///", "sqlite:///"):
        if url.startswith(scheme):
            rest = url[len(scheme):]
            if rest and not rest.startswith("/") and rest != ":memory:":
                return scheme + str((root / rest).resolve())
    return url


class SharedWorkspace(Workspace):
    """A workspace that a server's threads share: each thread reads and writes the data
    plane through its own connection (a DuckDB cursor of the one the process holds)."""

    _root_plane: DataPlane | None = None
    _local: threading.local | None = None

    @classmethod
    def hold(cls, root: Path) -> SharedWorkspace:
        ws = cls.open(root)
        assert isinstance(ws, SharedWorkspace)
        return ws

    @property
    def data(self) -> DataPlane:
        if self._root_plane is None:
            self._root_plane = self.connect_data()
            self._local = threading.local()
        assert self._local is not None
        plane = getattr(self._local, "plane", None)
        if plane is None:
            plane = self._root_plane.for_thread()
            self._local.plane = plane
        return plane

    def close(self) -> None:
        if self._root_plane is not None:
            self._root_plane.close()
            self._root_plane = None
        super().close()
