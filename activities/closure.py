"""Account closure activities (``workflows/customer_closure.py``): each step is a ledger
transaction that can run again, or a Stripe call made once by a business key.

A refund is decided in the ledger first (``take_back`` writes the ``pending`` refund row with
the amount, keyed by the purchase), then sent to Stripe with the idempotency key
``refund-close-{purchase_id}``: a worker killed anywhere in between refunds the same amount,
once, when the activity runs again.
"""

from decimal import Decimal

from temporalio import activity
from temporalio.exceptions import ApplicationError

from creditgate.infra.db import Database
from creditgate.ledger import closure
from creditgate.ledger.errors import LedgerError
from creditgate.models import ClosureRefund
from creditgate.payments.stripe_gateway import PaymentDeclined, StripeGateway
from creditgate.pricing.currency import minor_unit_exponent
from creditgate.values.money import to_str
from messages.closure import (
    BeginClosureInput,
    ClosureFinished,
    ClosureRefundInput,
    ClosureRefundView,
    DetachCardInput,
    FinishClosureInput,
    HoldsLeft,
    SettleHoldsInput,
)


def _view(row: ClosureRefund) -> ClosureRefundView:
    return ClosureRefundView.model_validate(row.model_dump())


class ClosureActivities:
    def __init__(self, db: Database, stripe: StripeGateway) -> None:
        self.db = db
        self.stripe = stripe

    @activity.defn
    async def begin_closure(self, input: BeginClosureInput) -> None:
        try:
            await closure.begin(self.db, input.external_id, input.reason)
        except LedgerError as err:
            raise ApplicationError(err.message, type=err.type, non_retryable=True) from None

    @activity.defn
    async def settle_holds(self, input: SettleHoldsInput) -> HoldsLeft:
        left = await closure.settle_holds(self.db, input.external_id, release=input.release)
        return HoldsLeft(count=left.count, latest_expiry=left.latest_expiry)

    @activity.defn
    async def refundable_purchases(self, external_id: str) -> list[str]:
        return await closure.refundable(self.db, external_id)

    @activity.defn
    async def refund_unspent(self, input: ClosureRefundInput) -> ClosureRefundView:
        row = await closure.take_back(self.db, input.purchase_id)
        if row.status != "pending":
            return _view(row)
        minor = int(row.amount.scaleb(minor_unit_exponent(row.currency)))
        try:
            refund_id = await self.stripe.refund(
                payment_intent=row.payment_intent,
                amount=minor,
                idempotency_key=f"refund-close-{row.purchase_id}",
                metadata={
                    "creditgate_purchase": row.purchase_id,
                    "creditgate_external_id": input.external_id,
                    "creditgate_reason": "account closure",
                },
            )
        except PaymentDeclined as err:
            activity.logger.warning(
                "refund of %s %s for %s refused: %s",
                to_str(row.amount),
                row.currency,
                row.purchase_id,
                err.reason,
            )
            await closure.refund_done(
                self.db, row.purchase_id, stripe_refund_id=None, failure=err.reason
            )
            return _view(row).model_copy(update={"status": "failed", "failure": err.reason})
        await closure.refund_done(
            self.db, row.purchase_id, stripe_refund_id=refund_id, failure=None
        )
        return _view(row).model_copy(update={"status": "succeeded", "stripe_refund_id": refund_id})

    @activity.defn
    async def forfeit_credits(self, external_id: str) -> Decimal:
        return await closure.forfeit(self.db, external_id)

    @activity.defn
    async def detach_cards(self, input: DetachCardInput) -> list[str]:
        """Detach the saved card and every other card on the Stripe customer."""
        cards = await self.stripe.customer_cards(input.stripe_customer_id)
        if input.payment_method is not None and input.payment_method not in cards:
            cards.append(input.payment_method)
        for payment_method in cards:
            await self.stripe.detach_payment_method(payment_method)
        return cards

    @activity.defn
    async def finish_closure(self, input: FinishClosureInput) -> ClosureFinished:
        done = await closure.finish(self.db, input.external_id, input.forfeited)
        return ClosureFinished(closed_at=done.closed_at, balance=done.balance)
