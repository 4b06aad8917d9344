"""A closure sent as the Temporal UI sends it (an untyped ``close_account`` update), with the
worker process SIGKILLed right after Stripe made the first refund, before the worker heard
back: the restarted worker refunds each purchase's unspent part exactly once and completes
the closure."""

import asyncio
import os
import signal
import uuid
from decimal import Decimal
from typing import Any

from temporalio.common import WorkflowIDConflictPolicy
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from messages.customer import CustomerProfile, CustomerWorkflowInput
from messages.purchase import PurchaseRequest
from tests.api.support import create_plan, grant, ledger
from tests.customers.support import closure, stripe_refunds
from tests.payments.support import VISA, assert_invariants, calls, card, purchase_settled
from tests.support.plans import calls_plan, plan_code
from tests.support.stack import Stack, worker_process
from tests.support.stripe_proxy import StripeProxy
from tests.support.waiting import eventually
from worker.registry import WORKFLOWS
from workflows.customer import CustomerWorkflow, customer_workflow_id


async def test_sigkill_during_the_refunds_refunds_each_purchase_once(
    stack: Stack, proxy: StripeProxy, unique_id: str
) -> None:
    task_queue = f"closure-{uuid.uuid4().hex[:8]}"
    code = plan_code(unique_id)
    await create_plan(stack, calls_plan(code))
    killed = asyncio.Event()
    operator = f"closer-{uuid.uuid4().hex[:8]}@ops"
    bought: dict[int, dict[str, Any]] = {}
    with worker_process(stack, task_queue) as first:
        handle = await stack.client.start_workflow(
            CustomerWorkflow.run,
            CustomerWorkflowInput(
                profile=CustomerProfile(
                    external_id=unique_id, name="Leaving", email="l@example.com", plan=code
                )
            ),
            id=customer_workflow_id(unique_id),
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        )
        await eventually(
            lambda: handle.query(CustomerWorkflow.get_state),
            until=lambda s: s.billing is not None,
            timeout=60,
            what="signup on the worker process",
        )
        pm = await card(stack, VISA)
        for amount in (20, 10):
            answer = await handle.execute_update(
                CustomerWorkflow.purchase,
                PurchaseRequest(
                    request_id=f"buy-{amount}",
                    amount=Decimal(amount),
                    currency="USD",
                    credits=Decimal(amount),
                    payment_method=pm,
                ),
            )
            bought[amount] = await purchase_settled(stack, answer.purchase.id, timeout=60)
            assert bought[amount]["status"] == "granted", bought[amount]
        await calls(stack, unique_id, 5)  # from the older purchase: 15 and 10 left unspent
        await grant(stack, unique_id, "3", reason="welcome credit")

        async def kill_on_refund(method: str, path: str) -> None:
            if method == "POST" and path == "/v1/refunds" and not killed.is_set():
                os.killpg(first.pid, signal.SIGKILL)
                await asyncio.to_thread(first.wait, 30)
                killed.set()

        proxy.after_upstream = kill_on_refund
        # As the Temporal UI's Send Update form sends it: a name and plain JSON.
        started = await handle.execute_update(
            "close_account",
            {"reason": "customer asked to leave", "operator": operator},
            result_type=dict,
        )
        assert started["step"] == "payments" and started["requested_by"] == operator
        await asyncio.wait_for(killed.wait(), timeout=120)
    proxy.after_upstream = None
    first_refund = await stripe_refunds(stack, bought[20]["payment_intent"])
    assert len(first_refund) == 1  # Stripe made it; the worker died before recording it

    with worker_process(stack, task_queue):
        await asyncio.wait_for(handle.result(), timeout=180)

    assert await stripe_refunds(stack, bought[20]["payment_intent"]) == [(1500, bought[20]["id"])]
    assert await stripe_refunds(stack, bought[10]["payment_intent"]) == [(1000, bought[10]["id"])]
    done = await closure(stack, unique_id)
    assert done["status"] == "closed"
    assert sorted((r["amount"], r["status"]) for r in done["refunds"]) == [
        ("10", "succeeded"),
        ("15", "succeeded"),
    ]
    entries = await ledger(stack, unique_id)
    clawbacks = sorted(Decimal(e["amount"]) for e in entries if e["kind"] == "clawback")
    assert clawbacks == [Decimal(-15), Decimal(-10)]
    audit = await stack.http.get("/v1/audit-log", params={"actor": f"operator:{operator}"})
    assert audit.status_code == 200, audit.text
    assert [e["action"] for e in audit.json()["entries"]] == ["update close_account"]
    await assert_invariants(stack)
    # Both runs (the closure started in the first, finished after continue-as-new), crash
    # and all, replay against the workflow code.
    replayer = Replayer(workflows=list(WORKFLOWS), data_converter=pydantic_data_converter)
    first_run = stack.client.get_workflow_handle(handle.id, run_id=handle.first_execution_run_id)
    for run in (first_run, handle):
        await replayer.replay_workflow(await run.fetch_history())
