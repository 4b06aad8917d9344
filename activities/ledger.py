"""Ledger activities: what the customer workflow's timers do to the ledger."""

from sqlmodel import col, select
from temporalio import activity

from activities.models import ExpiredGrant, ExpireGrantsInput, ExpireGrantsResult
from creditgate.db import Database
from creditgate.ledger import service
from creditgate.ledger.tables import GrantRow
from creditgate.models import Customer, Grant
from creditgate.money import normalize


class LedgerActivities:
    def __init__(self, db: Database) -> None:
        self.db = db

    @activity.defn
    async def expire_grants(self, input: ExpireGrantsInput) -> ExpireGrantsResult:
        """Expire the customer's due grants (and holds) in one ledger transaction.

        Idempotent: a retry finds the grants it asked about already expired and reports
        them again; the workflow records each expiry once.
        """
        expired: dict[int, Grant | GrantRow] = {
            _id(g): g for g in await service.expire(self.db, input.external_id)
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
                    if grant.status == "expired":
                        expired[_id(grant)] = grant
                    elif grant.status == "active":
                        pending.append(_id(grant))
        return ExpireGrantsResult(
            expired=[
                ExpiredGrant(
                    grant_id=gid, amount=normalize(g.expired_amount), expires_at=g.expires_at
                )
                for gid, g in sorted(expired.items())
            ],
            pending=sorted(pending),
        )


def _id(grant: Grant | GrantRow) -> int:
    assert grant.id is not None
    return grant.id
