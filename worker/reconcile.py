"""Reconciliation against Stripe: every succeeded PaymentIntent of ours ends in a grant.

Webhooks get lost and a purchase's workflow stops waiting at its timeout (a PaymentIntent
still ``processing`` then cannot be cancelled, and may succeed later). About every
``interval`` seconds the worker asks Stripe about each purchase of the last ``window`` that
has a PaymentIntent and is not granted (failed, or pending for longer than ``pending_grace``:
a workflow is still on the newer ones) and starts ``LatePaymentWorkflow`` for those Stripe
reports succeeded. The same pass purges purchase idempotency keys past their keeping time.
"""

import asyncio
import logging
from dataclasses import KW_ONLY, dataclass
from datetime import UTC, datetime, timedelta

from sqlmodel import col, or_, select
from temporalio.client import Client

from creditgate.infra.db import Database
from creditgate.models import Purchase
from creditgate.payments import idempotency, late
from creditgate.payments.stripe_gateway import StripeGateway
from worker.loop import repeat

log = logging.getLogger("creditgate.reconcile")


@dataclass
class Reconciler:
    db: Database
    client: Client
    stripe: StripeGateway
    task_queue: str
    _: KW_ONLY
    interval: float = 300.0
    window: timedelta = timedelta(days=30)
    pending_grace: timedelta = timedelta(hours=1)

    async def run(self, stop: asyncio.Event) -> None:
        await repeat(stop, self._pass, self.interval, log, "reconciliation pass")

    async def _pass(self) -> bool:
        settled = await self.reconcile_once()
        if settled:
            log.warning("reconciliation found %d succeeded payments ungranted", settled)
        await idempotency.purge(self.db, datetime.now(UTC))
        return False

    async def reconcile_once(self) -> int:
        """One pass; returns how many succeeded PaymentIntents were sent to be granted."""
        settled = 0
        for payment_intent in await self._open_intents():
            try:
                intent = await self.stripe.get_payment_intent(payment_intent)
                if intent.status == "succeeded":
                    await late.settle_late(self.client, self.task_queue, payment_intent)
                    settled += 1
            except Exception:  # one unreadable PaymentIntent does not hold up the others
                log.exception("reconciling %s failed; next pass tries again", payment_intent)
        return settled

    async def _open_intents(self) -> list[str]:
        now = datetime.now(UTC)
        async with self.db.session() as session:
            rows = await session.exec(
                select(Purchase.payment_intent).where(
                    col(Purchase.payment_intent).is_not(None),
                    col(Purchase.created_at) >= now - self.window,
                    or_(
                        col(Purchase.status) == "failed",
                        (col(Purchase.status) == "pending")
                        & (col(Purchase.updated_at) < now - self.pending_grace),
                    ),
                )
            )
            return [pi for pi in rows.all() if pi is not None]
