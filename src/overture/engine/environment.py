"""The validation Environment of a workspace: its catalog, loaded columns, files, audiences."""

from __future__ import annotations

from pathlib import Path

from overture.activities.files import file_columns
from overture.data import audiences
from overture.data.workspace import Workspace
from overture.definition.validation import Environment


def environment_for(ws: Workspace, base_dir: Path | None) -> Environment:
    plane = ws.data

    def audience(name: str) -> tuple[str, dict[str, str]] | None:
        info = audiences.lookup(plane, name)
        if info is None:
            return None
        return info.dimension, audiences.columns(plane, info)

    return Environment(
        catalog=ws.catalog,
        columns_of=plane.columns_of(),
        filters_dir=ws.filters_dir,
        base_dir=base_dir,
        audience=audience,
        file_columns=file_columns,
    )
