"""Rows from Python into PostgreSQL in one statement: COPY.

An Ibis memtable reaches PostgreSQL as one INSERT per row (psycopg's `executemany`):
the message log's results, the tracked links and the feedback events, appended every
few hundred rows while a campaign sends, must not. Here an Arrow table is written as
CSV by Arrow (vectorised) and streamed with `COPY … FROM STDIN`: one statement
whatever the number of rows. In CSV, an unquoted empty field is NULL and a quoted one
(`""`) is the empty string, which is how Arrow writes them.
"""

from __future__ import annotations

import io
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


#: rows per CSV chunk written to the COPY stream: memory stays flat for big tables
CHUNK = 65_536


def copy_arrow(cursor: Any, table: str, rows: pa.Table) -> None:
    """`COPY table (columns of rows) FROM STDIN` on a psycopg cursor, in its transaction."""
    if rows.num_rows == 0:
        return
    options = pacsv.WriteOptions(include_header=False, quoting_style="needed")
    columns = ", ".join(quote(name) for name in rows.column_names)
    with cursor.copy(f"COPY {quote(table)} ({columns}) FROM STDIN WITH (FORMAT csv)") as copy:
        for batch in rows.to_batches(max_chunksize=CHUNK):
            buffer = io.BytesIO()
            pacsv.write_csv(batch, buffer, options)
            copy.write(buffer.getvalue())
