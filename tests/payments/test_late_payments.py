"""A PaymentIntent still ``processing`` when its purchase times out cannot be cancelled; the
purchase fails, and when the payment succeeds later the credits are granted anyway, once:
through the late webhook, or through the reconciliation when the webhook is lost.

Real dev server, worker, API and localstripe; the proxy in front of localstripe fakes the
``processing`` state (localstripe settles card payments at once)."""

import asyncio
import uuid
from decimal import Decimal

from creditgate.checks.ledger import check
from creditgate.checks.payments import check_payments
from messages.purchase import PaymentPolicy, PurchaseRequest
from tests.api.support import ledger, signup
from tests.payments.support import (
    VISA,
    assert_invariants,
    available,
    card,
    get_purchase,
    purchase_settled,
)
from tests.support.stack import Stack
from tests.support.stripe_proxy import StripeProxy
from tests.support.waiting import eventually
from tests.workflows.support import workflow, workflow_state
from worker.reconcile import Reconciler
from workflows.customer import CustomerWorkflow

# The purchase gives up after 3 seconds, polling Stripe every second.
QUICK = PaymentPolicy(timeout_seconds=3, poll_seconds=1, poll_max_seconds=1)


async def purchase_that_times_out_processing(
    stack: Stack, proxy: StripeProxy, external_id: str
) -> tuple[str, str]:
    """A purchase whose PaymentIntent is still processing at the timeout: it fails, nothing
    is granted. Returns (purchase id, PaymentIntent id)."""
    customer = await signup(stack, external_id)
    proxy.processing_customers.add(customer["stripe_customer_id"])
    answer = await workflow(stack, external_id).execute_update(
        CustomerWorkflow.purchase,
        PurchaseRequest(
            request_id=str(uuid.uuid4()),
            amount=Decimal("8.00"),
            currency="USD",
            credits=Decimal(8),
            payment_method=await card(stack, VISA),
            policy=QUICK,
        ),
    )
    purchase_id = answer.purchase.id
    failed = await purchase_settled(stack, purchase_id)
    assert (failed["status"], failed["reason"]) == ("failed", "payment processing")
    assert await available(stack, external_id) == "0"
    # The payment goes through after all.
    proxy.processing_customers.discard(customer["stripe_customer_id"])
    violations = await check(stack.db) + await check_payments(stack.db, stack.stripe)
    assert any(failed["payment_intent"] in str(v) for v in violations), violations
    return purchase_id, failed["payment_intent"]


async def assert_granted_once(stack: Stack, external_id: str, purchase_id: str) -> None:
    granted = await eventually(
        lambda: get_purchase(stack, purchase_id),
        until=lambda p: p["status"] == "granted",
        timeout=30,
        what=f"purchase {purchase_id} to be granted",
    )
    assert granted["reason"] is None
    assert await available(stack, external_id) == "8"
    grants = [e for e in await ledger(stack, external_id) if e["kind"] == "grant"]
    assert [g["amount"] for g in grants] == ["8"]
    # The customer workflow's view of the purchase follows.
    await eventually(
        lambda: workflow_state(stack, external_id),
        until=lambda s: s.purchases[purchase_id].status == "granted",
        what="the customer workflow to see the grant",
    )
    await assert_invariants(stack)


async def test_a_late_succeeded_webhook_grants_a_purchase_that_timed_out(
    stack: Stack, proxy: StripeProxy, unique_id: str
) -> None:
    proxy.faults.hold = True
    purchase_id, payment_intent = await purchase_that_times_out_processing(stack, proxy, unique_id)

    def succeeded_webhook() -> list[bytes]:
        return [b for b in proxy.held("payment_intent.succeeded") if payment_intent.encode() in b]

    await eventually(lambda: asyncio.sleep(0, succeeded_webhook()), what="the webhook")
    await proxy.release()
    await assert_granted_once(stack, unique_id, purchase_id)


async def test_reconciliation_grants_a_succeeded_payment_whose_webhook_was_lost(
    stack: Stack, proxy: StripeProxy, unique_id: str
) -> None:
    proxy.faults.drop_next = 1_000
    purchase_id, payment_intent = await purchase_that_times_out_processing(stack, proxy, unique_id)
    reconciler = Reconciler(stack.db, stack.client, stack.stripe, stack.task_queue)
    assert await reconciler.reconcile_once() >= 1
    await assert_granted_once(stack, unique_id, purchase_id)
    # Another pass (or a webhook after all) grants nothing more.
    await reconciler.reconcile_once()
    assert await available(stack, unique_id) == "8"
    assert (await get_purchase(stack, purchase_id))["payment_intent"] == payment_intent


async def test_a_payment_that_succeeds_after_the_account_closed_goes_back_to_the_card(
    stack: Stack, proxy: StripeProxy, unique_id: str
) -> None:
    proxy.faults.drop_next = 1_000
    purchase_id, payment_intent = await purchase_that_times_out_processing(stack, proxy, unique_id)
    closing = await stack.http.post(
        f"/v1/customers/{unique_id}/close", json={"reason": "leaving", "holds": "release"}
    )
    assert closing.status_code == 202, closing.text
    await eventually(
        lambda: stack.http.get(f"/v1/customers/{unique_id}/closure"),
        until=lambda r: r.json()["status"] == "closed",
        timeout=60,
        what="the account closed",
    )

    reconciler = Reconciler(stack.db, stack.client, stack.stripe, stack.task_queue)
    assert await reconciler.reconcile_once() >= 1
    refunded = await eventually(
        lambda: stack.http.get(f"/v1/customers/{unique_id}/closure"),
        until=lambda r: [x["status"] for x in r.json()["refunds"]] == ["succeeded"],
        timeout=30,
        what="the late payment refunded",
    )
    [refund] = refunded.json()["refunds"]
    assert (refund["purchase_id"], refund["amount"], refund["credits"]) == (purchase_id, "8", "8")
    page = await stack.stripe.client.v1.refunds.list_async({"payment_intent": payment_intent})
    assert [r.amount for r in page.data] == [800]
    assert await available(stack, unique_id) == "0"
    await reconciler.reconcile_once()  # another pass refunds nothing more
    page = await stack.stripe.client.v1.refunds.list_async({"payment_intent": payment_intent})
    assert len(page.data) == 1
    await assert_invariants(stack)
