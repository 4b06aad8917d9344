"""Operator activities: the customer workflow's operator updates change the ledger through
the same functions as the API routes (``creditgate.ledger.operators``) and record who did it.

A change the ledger refuses (``LedgerError``: unknown grant, already paused, the credit limit)
is a non-retryable ``ApplicationError`` of the error's type, which fails the update and
changes nothing.
"""

from decimal import Decimal

from temporalio import activity
from temporalio.exceptions import ApplicationError

from creditgate.access import audit
from creditgate.infra.db import Database
from creditgate.ledger import operators
from creditgate.ledger.customers import get_customer
from creditgate.ledger.errors import Conflict, LedgerError
from messages.operator import AuditRecord, OperatorChange, OperatorResult


class OperatorActivities:
    def __init__(self, db: Database) -> None:
        self.db = db

    @activity.defn
    async def apply_operator_change(self, change: OperatorChange) -> OperatorResult:
        try:
            return await self._apply(change)
        except LedgerError as err:
            retried = isinstance(err, Conflict) and change.action in ("pause", "resume")
            if retried and (done := await self._done(change)) is not None:
                return done  # an earlier attempt of this activity made the change
            raise ApplicationError(err.message, type=err.type, non_retryable=True) from None

    async def _apply(self, change: OperatorChange) -> OperatorResult:
        who = change.external_id
        if change.action == "pause":
            moved = await operators.pause(self.db, who, change.reason or "")
        elif change.action == "resume":
            moved = await operators.resume(self.db, who)
        elif change.action == "adjust":
            assert change.amount is not None
            adjusted = await operators.adjust(
                self.db, who, change.amount, change.reason or "", change.reference
            )
            return await self._result(change, amount=adjusted.amount)
        else:
            assert change.grant_id is not None
            voided = await operators.void_grant(self.db, change.grant_id, change.reason or "")
            return await self._result(change, amount=-voided.forfeited)
        return OperatorResult(
            action=change.action,
            status=moved.status,
            balance=moved.balance,
            entitled=moved.entitled,
        )

    async def _done(self, change: OperatorChange) -> OperatorResult | None:
        result = await self._result(change)
        paused = result.status == "paused"
        return result if paused == (change.action == "pause") else None

    async def _result(
        self, change: OperatorChange, amount: Decimal | None = None
    ) -> OperatorResult:
        async with self.db.session() as session:
            found = await get_customer(session, change.external_id)
        assert found is not None
        return OperatorResult(
            action=change.action,
            status=found.customer.status,
            balance=found.wallet.balance,
            entitled=found.wallet.entitled,
            amount=amount,
            grant_id=change.grant_id,
        )

    @activity.defn
    async def record_audit(self, entry: AuditRecord) -> None:
        await audit.record(
            self.db,
            actor=entry.actor,
            action=entry.action,
            target=entry.target,
            status=200,
            request_id=entry.request_id,
            details=entry.details,
        )
