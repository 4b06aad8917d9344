"""A worker killed (SIGKILL) right after Stripe created the PaymentIntent, before the worker
heard back: the restarted worker retries with the same idempotency key, so there is exactly
one charge and one grant."""

import asyncio
import os
import signal
import uuid
from decimal import Decimal

from temporalio.common import WorkflowIDConflictPolicy

from creditgate.ledger.customers import get_customer
from messages.customer import CustomerProfile, CustomerWorkflowInput
from messages.purchase import PurchaseRequest
from tests.payments.support import VISA, assert_invariants, card, get_purchase, succeeded_intents
from tests.support.stack import Stack, worker_process
from tests.support.stripe_proxy import StripeProxy
from tests.support.waiting import eventually
from workflows.customer import CustomerWorkflow, customer_workflow_id


async def test_sigkill_after_the_payment_intent_is_created_charges_and_grants_once(
    stack: Stack, proxy: StripeProxy, unique_id: str
) -> None:
    task_queue = f"crash-{uuid.uuid4().hex[:8]}"
    killed = asyncio.Event()
    pm = await card(stack, VISA)
    handle = None
    with worker_process(stack, task_queue) as first:

        async def kill_on_payment_intent(method: str, path: str) -> None:
            if method == "POST" and path == "/v1/payment_intents" and not killed.is_set():
                os.killpg(first.pid, signal.SIGKILL)
                await asyncio.to_thread(first.wait, 30)
                killed.set()

        handle = await stack.client.start_workflow(
            CustomerWorkflow.run,
            CustomerWorkflowInput(
                profile=CustomerProfile(external_id=unique_id, name="Crash", email="c@example.com")
            ),
            id=customer_workflow_id(unique_id),
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        )
        await eventually(
            lambda: handle.query(CustomerWorkflow.get_state),
            until=lambda s: s.registered,
            timeout=60,
            what="signup on the worker process",
        )
        proxy.after_upstream = kill_on_payment_intent
        purchasing = asyncio.create_task(
            handle.execute_update(
                CustomerWorkflow.purchase,
                PurchaseRequest(
                    request_id="crash",
                    amount=Decimal("9.00"),
                    currency="USD",
                    credits=Decimal(9),
                    payment_method=pm,
                ),
            )
        )
        await asyncio.wait_for(killed.wait(), timeout=60)
    proxy.after_upstream = None
    async with stack.db.session() as session:
        stored = await get_customer(session, unique_id)
    assert stored is not None and stored.customer.stripe_customer_id is not None
    stripe_customer = stored.customer.stripe_customer_id
    # Stripe holds the payment; the worker died before it could record it.
    assert len(await succeeded_intents(stack, stripe_customer)) == 1

    with worker_process(stack, task_queue):
        answer = await asyncio.wait_for(purchasing, timeout=120)
        settled = await eventually(
            lambda: get_purchase(stack, answer.purchase.id),
            until=lambda p: p["status"] == "granted",
            timeout=120,
            what="the purchase to be granted after the restart",
        )
    assert settled["credits"] == "9"
    paid = await succeeded_intents(stack, stripe_customer)
    assert [pi.id for pi in paid] == [settled["payment_intent"]]
    response = await stack.http.get(f"/v1/customers/{unique_id}/ledger")
    grants = [e for e in response.json()["data"] if e["kind"] == "grant"]
    assert [g["amount"] for g in grants] == ["9"]
    await assert_invariants(stack)
