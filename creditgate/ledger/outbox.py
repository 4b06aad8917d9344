"""Dead-lettered outbox rows: what ``creditgate check`` reports and ``creditgate outbox retry``
puts back for the relay (``worker/relay.py`` dead-letters a row whose workflow is missing)."""

from sqlmodel import col, select, update

from creditgate.infra.db import Database
from creditgate.models import OutboxMessage


async def dead_letters(db: Database) -> list[OutboxMessage]:
    async with db.session() as session:
        rows = await session.exec(
            select(OutboxMessage)
            .where(col(OutboxMessage.dead_at).is_not(None), col(OutboxMessage.sent_at).is_(None))
            .order_by(col(OutboxMessage.id))
        )
        return list(rows.all())


async def retry(db: Database, row_id: int | None = None) -> int:
    """Give dead rows (one, or all when ``row_id`` is None) a fresh set of attempts; returns
    how many were put back."""
    query = update(OutboxMessage).where(
        col(OutboxMessage.dead_at).is_not(None), col(OutboxMessage.sent_at).is_(None)
    )
    if row_id is not None:
        query = query.where(col(OutboxMessage.id) == row_id)
    async with db.transaction() as session:
        result = await session.exec(query.values(dead_at=None, attempts=0))
    return int(result.rowcount or 0)
