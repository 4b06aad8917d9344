"""Run a ledger transaction again when its connection turned out to be dead.

The pool does not ping connections before use (a round trip per request on the hot path);
a connection the server closed fails at its first statement, before anything was written,
so running the whole transaction once more is safe. A connection lost at COMMIT may have
committed: every ledger transaction is idempotent (event ids, grant references, hold
idempotency keys), so running it again finds what the first run wrote.

A lock wait that ran out (PostgreSQL's ``lock_timeout``) is raised as ``Busy``: a 503 the
client may retry.
"""

from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError

from creditgate.ledger.errors import Busy

T = TypeVar("T")
_LOCK_NOT_AVAILABLE = "55P03"


def lost_connection(err: BaseException) -> bool:
    return isinstance(err, DBAPIError) and err.connection_invalidated


def lock_timed_out(err: BaseException) -> bool:
    """PostgreSQL's LockNotAvailable, raised by asyncpg directly or through SQLAlchemy."""
    cause = err.orig if isinstance(err, DBAPIError) else err
    return _LOCK_NOT_AVAILABLE in (getattr(cause, "sqlstate", None), getattr(cause, "pgcode", None))


async def on_dead_connection(transaction: Callable[[], Awaitable[T]]) -> T:
    try:
        try:
            return await transaction()
        except DBAPIError as err:
            if not err.connection_invalidated:
                raise
        return await transaction()
    except Exception as err:
        if lock_timed_out(err):
            raise Busy() from err
        raise
