"""Ledger activities: what the customer workflow's timers do to the ledger."""

from sqlmodel import col, select
from temporalio import activity

from creditgate.infra.db import Database
from creditgate.ledger import service
from creditgate.models import Customer, Grant
from creditgate.values.money import normalize
from messages.customer import ExpiredGrant, ExpireGrantsInput, ExpireGrantsResult


class LedgerActivities:
    def __init__(self, db: Database) -> None:
        self.db = db

    @activity.defn
    async def expire_grants(self, input: ExpireGrantsInput) -> ExpireGrantsResult:
        """Expire the customer's due grants (and holds) in one ledger transaction.

        Idempotent: a retry finds the grants it asked about already expired and reports
        them again; the workflow records each expiry once.
        """
        expired = {
            g.id: ExpiredGrant(
                grant_id=g.id, amount=normalize(g.expired_amount), expires_at=g.expires_at
            )
            for g in await service.expire(self.db, input.external_id)
        }
        pending: list[int] = []
        asked = [i for i in input.grant_ids if i not in expired]
        if asked:
            async with self.db.session() as session:
                rows = await session.exec(
                    select(Grant)
                    .join(Customer, col(Customer.id) == col(Grant.customer_id))
                    .where(Customer.external_id == input.external_id, col(Grant.id).in_(asked))
                )
                for grant in rows.all():
                    assert grant.id is not None
                    if grant.status == "expired":
                        expired[grant.id] = ExpiredGrant(
                            grant_id=grant.id,
                            amount=normalize(grant.expired_amount),
                            expires_at=grant.expires_at,
                        )
                    elif grant.status == "active":
                        pending.append(grant.id)
        return ExpireGrantsResult(
            expired=[expired[gid] for gid in sorted(expired)], pending=sorted(pending)
        )
