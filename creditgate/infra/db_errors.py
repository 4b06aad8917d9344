"""Database errors that running the same statement again cannot fix."""

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError

# SQLSTATE classes: 22 is a data exception (NUL in text, a value too long or out of range),
# 23 an integrity constraint violation.
_REFUSED_DATA_CLASSES = ("22", "23")


def refused_data(err: BaseException) -> bool:
    """The database refused the values themselves: not an outage, a lock or a lost
    connection, so a retry fails the same way. (asyncpg's errors reach SQLAlchemy as plain
    ``DBAPIError``; their SQLSTATE tells them apart.)"""
    if not isinstance(err, DBAPIError) or err.connection_invalidated:
        return False
    if isinstance(err, DataError | IntegrityError):
        return True
    code = getattr(err.orig, "sqlstate", None) or getattr(err.orig, "pgcode", None)
    return isinstance(code, str) and code[:2] in _REFUSED_DATA_CLASSES
