"""SQL text for PostgreSQL bulk writes through ``unnest`` of one array per column.

One statement text for any number of rows, planned once; asyncpg sends each column as a
binary array. A rendered multi-row VALUES list costs far more per row (every value rendered
and bound, every size parsed and planned anew).
"""

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.types import JSON, BigInteger, Boolean, Integer, String

from creditgate.money import Money
from creditgate.sqltypes import UTCDateTime

# Column type → PostgreSQL array element type.
_PG_TYPES: list[tuple[type, str]] = [
    (Money, "numeric"),
    (UTCDateTime, "timestamptz"),
    (JSON, "json"),  # sent as text, cast per row
    (BigInteger, "bigint"),
    (Integer, "integer"),
    (Boolean, "boolean"),
    (String, "text"),
]


def _pg_type(column_type: Any) -> str:
    for kind, name in _PG_TYPES:
        # Our own decorators first (Money, UTCDateTime), then what a decorator wraps.
        if isinstance(column_type, kind) or isinstance(getattr(column_type, "impl", None), kind):
            return name
    raise TypeError(f"no array mapping for {column_type!r}")


class Unnest:
    """``unnest($n::type[], ...) AS u(columns)`` for some columns of ``table``, its
    parameters numbered from ``first``; ``values`` turns rows (dicts) into the arrays."""

    def __init__(self, table: Table, columns: Sequence[str], first: int) -> None:
        self.table = table
        self.columns = list(columns)
        self.next = first + len(self.columns)  # the first parameter after these
        types = [_pg_type(table.c[c].type) for c in columns]
        self.json_columns = {c for c, kind in zip(columns, types, strict=True) if kind == "json"}
        arrays = ", ".join(
            f"${first + i}::{'text' if kind == 'json' else kind}[]" for i, kind in enumerate(types)
        )
        self.source = f"unnest({arrays}) AS u({', '.join(columns)})"
        # What to select from ``u`` for each column (JSON parsed from its text).
        self.selects = ", ".join(
            f"u.{c}::json" if c in self.json_columns else f"u.{c}" for c in columns
        )

    def insert(self) -> str:
        names = ", ".join(self.columns)
        return f"INSERT INTO {self.table.name} ({names}) SELECT {self.selects} FROM {self.source}"

    def values(self, rows: Sequence[dict[str, Any]]) -> list[list[Any]]:
        arrays: list[list[Any]] = [[] for _ in self.columns]
        for row in rows:
            for array, c in zip(arrays, self.columns, strict=True):
                value = row.get(c)
                if c in self.json_columns and value is not None:
                    value = json.dumps(value)
                array.append(value)
        return arrays
