"""Run a ledger transaction again when its connection turned out to be dead.

The pool does not ping connections before use (a round trip per request on the hot path);
a connection the server closed fails at its first statement, before anything was written,
so running the whole transaction once more is safe. A connection lost at COMMIT may have
committed: every ledger transaction is idempotent (event ids, grant references, hold
idempotency keys), so running it again finds what the first run wrote.
"""

from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError

T = TypeVar("T")


def lost_connection(err: BaseException) -> bool:
    return isinstance(err, DBAPIError) and err.connection_invalidated


async def on_dead_connection(transaction: Callable[[], Awaitable[T]]) -> T:
    try:
        return await transaction()
    except DBAPIError as err:
        if not err.connection_invalidated:
            raise
    return await transaction()
