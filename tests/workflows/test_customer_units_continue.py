"""CustomerWorkflow continuing as new with activity test doubles: a run asked to continue while
a purchase update is still waiting on its purchase finishes that update first, and the message
ids it carries into the next run make a re-delivered outbox message a no-op there.

``request_continue_as_new`` is the signal operators (and tests) use; the workflow also
continues when Temporal suggests it (history size) and after each closed period."""

import asyncio
from decimal import Decimal

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle, WorkflowUpdateStage

from messages.customer import LedgerNotice
from messages.purchase import PaymentPolicy, PurchaseRequest
from tests.support.waiting import eventually
from tests.workflows.units import Units
from workflows import search_attributes as sa
from workflows.customer import CustomerWorkflow


async def handled(handle: WorkflowHandle[CustomerWorkflow, None], signal: str) -> bool:
    """Whether this run has finished a workflow task after receiving ``signal``."""
    events = (await handle.fetch_history()).events
    received = [
        i
        for i, e in enumerate(events)
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
        and e.workflow_execution_signaled_event_attributes.signal_name == signal
    ]
    return bool(received) and any(
        e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED for e in events[received[0] :]
    )


async def test_continue_as_new_waits_for_running_handlers_and_keeps_message_ids(
    units: Units, unique_id: str
) -> None:
    started = await units.signed_up(unique_id)
    first_run: WorkflowHandle[CustomerWorkflow, None] = units.client.get_workflow_handle(
        started.id, run_id=started.first_execution_run_id
    )
    at = await units.env.get_current_time()
    zero = LedgerNotice(message_id="outbox-1", kind="zero", at=at)
    restored = LedgerNotice(message_id="outbox-2", kind="restored", payload={"balance": "5"}, at=at)
    await first_run.signal(CustomerWorkflow.ledger_notice, zero)
    await first_run.signal(CustomerWorkflow.ledger_notice, restored)

    # A purchase whose update is still waiting for the purchase workflow to report back.
    gate = units.doubles.gate("open_purchase")
    request = PurchaseRequest(
        request_id="buy-1",
        amount=Decimal("10.00"),
        currency="usd",
        credits=Decimal(10),
        policy=PaymentPolicy(poll_seconds=3600),
    )
    update = await first_run.start_update(
        CustomerWorkflow.purchase, request, wait_for_stage=WorkflowUpdateStage.ACCEPTED
    )
    await asyncio.wait_for(gate.entered.wait(), timeout=30)

    # Asked to continue as new, the run does not leave while the update is unanswered.
    await first_run.signal(CustomerWorkflow.request_continue_as_new)
    await eventually(
        lambda: handled(first_run, "request_continue_as_new"),
        what="the run to handle the continue-as-new request",
    )
    assert (await first_run.describe()).status == WorkflowExecutionStatus.RUNNING

    gate.opened.set()
    answer = await update.result()
    assert answer.created and answer.purchase.status == "pending"
    assert answer.purchase.client_secret is not None
    await eventually(
        first_run.describe,
        lambda run: run.status == WorkflowExecutionStatus.CONTINUED_AS_NEW,
        what="the run to continue as new once the update is answered",
    )

    # The next run carries the state: the purchase, the timeline, the processed message ids.
    state = await eventually(
        lambda: units.state(unique_id), lambda s: s.run_number == 2, what="the next run"
    )
    assert state.purchases[answer.purchase.id].status == "pending"
    assert {"outbox-1", "outbox-2"} <= set(state.processed_message_ids)

    # The relay delivers "balance reached zero" again: the new run has seen it, it changes
    # nothing. (A fresh notice after it shows the signals were handled, in order.)
    current = units.customer(unique_id)
    await current.signal(CustomerWorkflow.ledger_notice, zero)
    fresh = LedgerNotice(message_id="outbox-3", kind="threshold", at=at)
    await current.signal(CustomerWorkflow.ledger_notice, fresh)
    state = await eventually(
        lambda: units.state(unique_id),
        lambda s: "outbox-3" in s.processed_message_ids,
        what="the fresh notice handled",
    )
    assert state.status == "active" and state.entitled
    assert [e.kind for e in state.timeline if e.kind in ("cut_off", "restored")] == [
        "cut_off",
        "restored",
    ]
    attrs = await units.search_attributes(unique_id)
    assert attrs.get(sa.STATUS) == "active" and attrs.get(sa.ENTITLED) is True
    # One purchase workflow, one PaymentIntent, across both runs.
    assert units.doubles.count("open_purchase") == 1
    assert units.doubles.count("create_payment_intent") == 1
