"""Stripe events to workflows, as signals.

``payment_intent.*`` for a purchase goes to its ``PurchaseWorkflow`` (named in the
PaymentIntent's metadata), which then reads the PaymentIntent from Stripe: the event is a
trigger, not the truth, so duplicates and any order change nothing. ``charge.refunded``
goes to the customer's workflow, which claws back credits. Everything else is acknowledged
and ignored. ``payment_intent.succeeded`` for a purchase whose workflow has finished or given
up on it (a PaymentIntent still ``processing`` at the timeout) starts ``LatePaymentWorkflow``,
which grants it: every succeeded PaymentIntent of ours ends in one grant.
"""

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from creditgate.infra.db import Database
from creditgate.payments import late, store
from messages.purchase import PaymentEvent, RefundNotice
from workflows.purchase import PurchaseWorkflow

log = logging.getLogger("creditgate.api")

PAYMENT_INTENT_EVENTS = frozenset(
    {
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "payment_intent.canceled",
        "payment_intent.requires_action",
        "payment_intent.processing",
    }
)


async def route(
    connect: Callable[[], Awaitable[Client]], db: Database, event: dict[str, Any], task_queue: str
) -> None:
    """Signal the workflow the event is about; raises ``RPCError`` if Temporal is down.

    ``event`` has passed ``stripe_events.verify`` (an id, a type and an object); an object
    without what its type needs is logged and not acted on."""
    event_type = event["type"]
    obj: dict[str, Any] = event["data"]["object"]
    if event_type in PAYMENT_INTENT_EVENTS:
        payment_intent, metadata = obj.get("id"), obj.get("metadata") or {}
        if not isinstance(payment_intent, str) or not isinstance(metadata, dict):
            _unusable(event, "a payment_intent without a string id and a metadata object")
            return
        workflow_id = metadata.get("creditgate_workflow_id")
        ours = metadata.get("creditgate_kind") == "purchase"
        if ours and "creditgate_workflow_id" in metadata and not isinstance(workflow_id, str):
            _unusable(event, "a purchase's creditgate_workflow_id is not a string")
            return
        delivered = True
        if ours and isinstance(workflow_id, str):
            handle = (await connect()).get_workflow_handle(workflow_id)
            signal = PaymentEvent(
                event_id=event["id"], type=event_type, payment_intent=payment_intent
            )
            delivered = await _unless_finished(
                handle.signal(PurchaseWorkflow.payment_event, signal)
            )
        named = metadata.get("creditgate_purchase_id")
        if event_type == "payment_intent.succeeded" and isinstance(named, str):
            purchase = await store.get_purchase(db, named)
            if purchase is not None and (not delivered or purchase.status == "failed"):
                await late.settle_late(await connect(), task_queue, payment_intent)
    elif event_type == "charge.refunded":
        payment_intent = obj.get("payment_intent")
        amount_refunded = obj.get("amount_refunded")
        if (
            not isinstance(payment_intent, str)
            or not isinstance(amount_refunded, int)
            or isinstance(amount_refunded, bool)
            or amount_refunded < 0
        ):
            _unusable(event, "a charge without a payment_intent and a whole amount_refunded")
            return
        purchase = await store.find_by_payment_intent(db, payment_intent)
        if purchase is None:
            return  # not a Creditgate payment
        customer_workflow = await store.workflow_of(db, purchase.customer_id)
        client = await connect()
        customer = client.get_workflow_handle(customer_workflow)
        notice = RefundNotice(
            event_id=event["id"], payment_intent=payment_intent, amount_refunded=amount_refunded
        )
        if not await _unless_finished(customer.signal("payment_refunded", notice)):
            # A closed account's workflow has completed; its refunds were its own.
            log.info("refund %r of a closed account not acted on", event["id"])


def _unusable(event: dict[str, Any], why: str) -> None:
    log.warning("Stripe event %r (%r) not acted on: %s", event["id"], event["type"], why)


async def _unless_finished(signal: Any) -> bool:
    """False when the workflow has finished (not an error: nothing is waiting for it)."""
    try:
        await signal
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        return False
    return True
