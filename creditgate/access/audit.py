"""The audit log: who changed what, when, under which request id."""

from datetime import datetime
from typing import Any

from sqlmodel import col, select

from creditgate.infra.db import Database
from creditgate.models import AuditEntry


async def record(
    db: Database,
    *,
    actor: str,
    action: str,
    target: str,
    status: int,
    request_id: str,
    details: dict[str, Any] | None = None,
) -> None:
    async with db.transaction() as session:
        session.add(
            AuditEntry(
                actor=actor,
                action=action,
                target=target,
                status=status,
                request_id=request_id,
                details=details or {},
            )
        )


async def entries(
    db: Database,
    *,
    before_id: int | None = None,
    limit: int = 50,
    actor: str | None = None,
    action: str | None = None,
    target: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[AuditEntry]:
    """Newest first; ``before_id`` continues a page."""
    query = select(AuditEntry).order_by(col(AuditEntry.id).desc()).limit(limit)
    if before_id is not None:
        query = query.where(col(AuditEntry.id) < before_id)
    if actor is not None:
        query = query.where(AuditEntry.actor == actor)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    if target is not None:
        query = query.where(col(AuditEntry.target).startswith(target))
    if since is not None:
        query = query.where(col(AuditEntry.at) >= since)
    if until is not None:
        query = query.where(col(AuditEntry.at) < until)
    async with db.session() as session:
        return list((await session.exec(query)).all())
