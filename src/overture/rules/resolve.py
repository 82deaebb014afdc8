"""Static name resolution shared by validation and the compiler.

A field name resolves, in order (spec §3): to a column of the input work table, to
a column of the target dimension joined by key, then through one-cardinality links
(`store.region`). `work.NAME` and `TABLE.NAME` say which side is meant when a name
is in both.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from overture.data.catalog import Catalog, Link


class ResolveError(Exception):
    """A name that does not resolve; the message is for the user."""


def type_family(dtype: str) -> str:
    """`numeric`, `string`, `date`, `timestamp`, `boolean` or `other` for an Ibis type name."""
    d = dtype.lower().lstrip("!")
    if d.startswith(("int", "uint", "float", "decimal")):
        return "numeric"
    if d.startswith("string"):
        return "string"
    if d.startswith("date"):
        return "date"
    if d.startswith("timestamp"):
        return "timestamp"
    if d.startswith("bool"):
        return "boolean"
    return "other"


@dataclass(frozen=True)
class PortSchema:
    """What a work table holds: the dimension's key plus added columns, with their types.

    `dimension` is None for file rows (load_file), whose key is `_line`.
    """

    dimension: str | None
    key: str
    columns: dict[str, str] = field(default_factory=dict)

    def with_columns(self, extra: dict[str, str]) -> PortSchema:
        return PortSchema(self.dimension, self.key, {**self.columns, **extra})


@dataclass(frozen=True)
class Resolved:
    """Where a field lives: `work`, `dim`, or a chain of one-links from the dimension."""

    side: str  # "work" | "dim" | "link"
    column: str
    dtype: str
    links: tuple[str, ...] = ()

    @property
    def alias(self) -> str:
        """The column name enrichment gives it: `store.region` -> `store_region`."""
        return "_".join((*self.links, self.column))


@dataclass
class Resolver:
    catalog: Catalog
    columns_of: dict[str, dict[str, str]]

    def table_columns(self, table: str) -> dict[str, str]:
        if table not in self.columns_of:
            raise ResolveError(f"table {table!r} is not loaded in the data plane")
        return self.columns_of[table]

    def key_of(self, table: str) -> str:
        if table not in self.catalog.tables:
            raise ResolveError(f"table {table!r} is not declared in schema.yaml")
        return self.catalog.tables[table].key

    def link(self, table: str, name: str) -> Link:
        spec = self.catalog.tables.get(table)
        if spec is None:
            raise ResolveError(f"table {table!r} is not declared in schema.yaml")
        if name not in spec.links:
            known = ", ".join(sorted(spec.links)) or "none"
            raise ResolveError(f"unknown link {name!r} of {table!r} (links: {known})")
        return spec.links[name]

    def many_link(self, table: str, name: str) -> Link:
        link = self.link(table, name)
        if link.cardinality != "many":
            raise ResolveError(
                f"link {name!r} of {table!r} is one-to-one: compare its fields as "
                f"{name}.FIELD instead of exists/aggregate"
            )
        return link

    def resolve(self, name: str, dimension: str, work: PortSchema | None = None) -> Resolved:
        work_cols = dict(work.columns) if work else {}
        dim_cols = self.table_columns(dimension)
        key = self.key_of(dimension)
        if "." in name:
            head, rest = name.split(".", 1)
            if head == "work":
                if rest not in work_cols:
                    raise ResolveError(f"work table has no column {rest!r}")
                return Resolved("work", rest, work_cols[rest])
            if head == dimension and "." not in rest:
                if rest not in dim_cols:
                    raise ResolveError(f"unknown field {rest!r} of {dimension!r}")
                return Resolved("dim", rest, dim_cols[rest])
            return self._through_links(name, dimension)
        in_work = name in work_cols and name != key
        in_dim = name in dim_cols
        if in_work and in_dim:
            raise ResolveError(
                f"{name!r} is both a work-table column and a column of {dimension!r}: "
                f"write work.{name} or {dimension}.{name}"
            )
        if in_work or (name == key and name in work_cols):
            return Resolved("work", name, work_cols[name])
        if in_dim:
            return Resolved("dim", name, dim_cols[name])
        raise ResolveError(f"unknown field {name!r} of {dimension!r}")

    def _through_links(self, name: str, dimension: str) -> Resolved:
        parts = name.split(".")
        table = dimension
        for link_name in parts[:-1]:
            link = self.link(table, link_name)
            if link.cardinality != "one":
                raise ResolveError(
                    f"link {link_name!r} of {table!r} leads to many rows: use exists or "
                    "aggregate to test them"
                )
            table = link.table
        column = parts[-1]
        cols = self.table_columns(table)
        if column not in cols:
            raise ResolveError(f"unknown field {column!r} of {table!r} (in {name!r})")
        return Resolved("link", column, cols[column], tuple(parts[:-1]))

    def link_path_tables(self, dimension: str, links: tuple[str, ...]) -> list[tuple[str, Link]]:
        """The (from-table, link) steps of a one-link chain."""
        steps = []
        table = dimension
        for link_name in links:
            link = self.link(table, link_name)
            steps.append((table, link))
            table = link.table
        return steps
