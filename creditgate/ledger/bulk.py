"""PostgreSQL bulk inserts through ``unnest`` of one array per column.

One statement text for any number of rows, planned once; asyncpg sends each column as a
binary array. A rendered multi-row VALUES list costs far more per row (SQLAlchemy renders and
binds every value, PostgreSQL parses and plans every size anew).
"""

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import TextClause
from sqlalchemy.types import JSON, BigInteger, Boolean, DateTime, Integer, Numeric, String

from creditgate.money import Money
from creditgate.sqltypes import UTCDateTime

# Column type → (PostgreSQL array type, SQLAlchemy element type for the parameter).
_PG_TYPES: list[tuple[type, str, Any]] = [
    (Money, "numeric", Numeric(38, 18, asdecimal=True)),
    (UTCDateTime, "timestamptz", DateTime(timezone=True)),
    (JSON, "json", String()),  # sent as text, cast per row
    (BigInteger, "bigint", BigInteger()),
    (Integer, "integer", Integer()),
    (Boolean, "boolean", Boolean()),
    (String, "text", String()),
]


def _pg_type(column_type: Any) -> tuple[str, Any]:
    for kind, name, element in _PG_TYPES:
        # Our own decorators first (Money, UTCDateTime), then what a decorator wraps.
        if isinstance(column_type, kind) or isinstance(getattr(column_type, "impl", None), kind):
            return name, element
    raise TypeError(f"no array mapping for {column_type!r}")


class BulkInsert:
    def __init__(self, table: Table, columns: Sequence[str]) -> None:
        self.columns = list(columns)
        self.json_columns = {c for c in columns if isinstance(table.c[c].type, JSON)}
        names = ", ".join(columns)
        selects, params, binds = [], [], []
        for c in columns:
            pg_name, element = _pg_type(table.c[c].type)
            array_type = "text" if pg_name == "json" else pg_name
            selects.append(f"u.{c}::json" if pg_name == "json" else f"u.{c}")
            params.append(f"CAST(:{c} AS {array_type}[])")
            binds.append(bindparam(c, type_=ARRAY(element)))
        self.statement: TextClause = text(
            f"INSERT INTO {table.name} ({names}) "
            f"SELECT {', '.join(selects)} FROM unnest({', '.join(params)}) AS u({names})"
        ).bindparams(*binds)

    async def run(self, conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
        arrays: dict[str, list[Any]] = {c: [] for c in self.columns}
        for row in rows:
            for c in self.columns:
                value = row.get(c)
                if c in self.json_columns:
                    value = None if value is None else json.dumps(value)
                arrays[c].append(value)
        await conn.execute(self.statement, arrays)
