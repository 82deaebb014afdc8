"""The data model of `schema.yaml`: tables, keys, links and channels.

The catalog is checked against the tables actually loaded in the data plane, so a
link to a missing column is reported by name before any query is built.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from overture.definition import yamlio
from overture.definition.errors import Problem, format_pydantic_errors


class Link(BaseModel):
    model_config = ConfigDict(extra="forbid")

    table: str
    on: dict[str, str] = Field(min_length=1)  # {this table's column: other table's column}
    cardinality: Literal["one", "many"]


class ChannelColumns(BaseModel):
    model_config = ConfigDict(extra="forbid")

    address: str
    consent: str | None = None


class TableSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str
    channels: dict[Literal["email", "sms", "push", "direct_mail"], ChannelColumns] = Field(
        default_factory=dict
    )
    timezone: str | None = None
    language: str | None = None
    links: dict[str, Link] = Field(default_factory=dict)


class Catalog(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target: str | None = None
    tables: dict[str, TableSpec] = Field(default_factory=dict)

    def table(self, name: str) -> TableSpec:
        return self.tables[name]

    def link(self, table: str, name: str) -> Link:
        return self.tables[table].links[name]

    def problems(self, columns_of: dict[str, dict[str, str]]) -> list[Problem]:
        """What in the catalog does not match the loaded tables (`{table: {column: type}}`)."""
        problems: list[Problem] = []
        if self.target and self.target not in self.tables:
            problems.append(Problem("target", f"target {self.target!r} is not a declared table"))
        for name, spec in self.tables.items():
            where = f"tables.{name}"
            if name not in columns_of:
                problems.append(Problem(where, f"table {name!r} is not loaded in the data plane"))
                continue

            def need(path: str, column: str | None, table: str = name) -> None:
                if column and column not in columns_of.get(table, {}):
                    problems.append(Problem(path, f"column {column!r} not found in table "
                                                  f"{table!r}"))

            need(f"{where}.key", spec.key)
            need(f"{where}.timezone", spec.timezone)
            need(f"{where}.language", spec.language)
            for channel, chan in spec.channels.items():
                need(f"{where}.channels.{channel}.address", chan.address)
                need(f"{where}.channels.{channel}.consent", chan.consent)
            for link_name, link in spec.links.items():
                lpath = f"{where}.links.{link_name}"
                if link.table not in self.tables:
                    problems.append(Problem(lpath, f"links to undeclared table {link.table!r}"))
                    continue
                for mine, theirs in link.on.items():
                    need(f"{lpath}.on", mine)
                    if link.table in columns_of:
                        need(f"{lpath}.on", theirs, link.table)
        return problems


class CatalogError(Exception):
    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


def load_catalog(path: Path) -> Catalog:
    if not path.exists():
        return Catalog()
    try:
        data = yamlio.load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise CatalogError([Problem(path.name, f"not valid YAML: {exc}")]) from None
    try:
        return Catalog.model_validate(data)
    except ValidationError as exc:
        raise CatalogError(format_pydantic_errors(exc)) from None
