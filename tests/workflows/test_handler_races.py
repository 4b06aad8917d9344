"""CustomerWorkflow's handlers that await an activity and then change state are serialised:
a signal that arrives during the await is applied after, never overwritten by a stale copy.

Real dev server, SQLite and localstripe; the race is made to happen every time by an
activity that blocks until the test has sent the signal."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from temporalio import activity, workflow
from temporalio.client import WorkflowUpdateStage
from temporalio.worker import Worker

from activities.payments import PaymentActivities
from messages.customer import CustomerProfile, CustomerState, CustomerWorkflowInput
from messages.recharge import (
    AutoRechargeRequest,
    RechargeInput,
    RechargeOutcome,
    SaveAutoRechargeInput,
)
from tests.payments.support import VISA, card
from tests.support.stack import Stack
from tests.support.waiting import eventually
from worker.registry import activities
from workflows.customer import CustomerWorkflow, customer_workflow_id


@workflow.defn(name="RechargeWorkflow", sandboxed=False)
class RechargeThatNeverReports:
    """Stands in for the recharge child: it ends at once without telling the customer
    workflow, so the recharge stays in flight until the test says it finished."""

    @workflow.run
    async def run(self, input: RechargeInput) -> None:
        return None


@dataclass
class Gate:
    """Makes the n-th ``save_auto_recharge`` wait until the test opens the gate."""

    real: Callable[[SaveAutoRechargeInput], Any]
    block_call: int
    calls: int = 0
    entered: asyncio.Event = field(default_factory=asyncio.Event)
    opened: asyncio.Event = field(default_factory=asyncio.Event)

    @activity.defn(name="save_auto_recharge")
    async def save_auto_recharge(self, input: SaveAutoRechargeInput) -> Decimal:
        self.calls += 1
        if self.calls == self.block_call:
            self.entered.set()
            await self.opened.wait()
        result: Decimal = await self.real(input)
        return result


@dataclass
class Racing:
    stack: Stack
    task_queue: str
    gate: Gate


@pytest.fixture
async def racing(stack: Stack) -> AsyncIterator[Racing]:
    task_queue = f"race-{uuid.uuid4().hex[:8]}"
    real = PaymentActivities(stack.db, stack.stripe)
    gate = Gate(real.save_auto_recharge, block_call=2)
    acts = [
        a
        for a in activities(stack.db, stack.stripe, stack.settings)
        if getattr(a, "__name__", "") != "save_auto_recharge"
    ]
    async with Worker(
        stack.client,
        task_queue=task_queue,
        workflows=[CustomerWorkflow, RechargeThatNeverReports],
        activities=[*acts, gate.save_auto_recharge],
    ):
        yield Racing(stack, task_queue, gate)


async def in_flight(racing: Racing, external_id: str) -> str | None:
    handle = racing.stack.client.get_workflow_handle(customer_workflow_id(external_id))
    state: CustomerState = await handle.query(CustomerWorkflow.get_state)
    return state.auto_recharge.in_flight


async def test_recharge_finished_during_a_settings_change_is_not_lost(
    racing: Racing, unique_id: str
) -> None:
    client = racing.stack.client
    profile = CustomerProfile(
        external_id=unique_id, name="Jane Doe", email="jane@example.com", plan="default"
    )
    handle = await client.start_workflow(
        CustomerWorkflow.run,
        CustomerWorkflowInput(profile=profile),
        id=customer_workflow_id(unique_id),
        task_queue=racing.task_queue,
    )
    try:
        await handle.execute_update(CustomerWorkflow.signup, "signup")
        settings = AutoRechargeRequest(
            enabled=True,
            threshold=Decimal(5),
            recharge_to=Decimal(20),
            payment_method=await card(racing.stack, VISA),
        )
        # Available is 0, below the threshold: a recharge starts and stays in flight.
        await handle.execute_update(CustomerWorkflow.configure_auto_recharge, settings)
        first = await eventually(
            lambda: in_flight(racing, unique_id), what="the first recharge to start"
        )
        assert first is not None and first.startswith("rch_")

        # Change the settings; while they are being saved, the recharge reports back.
        again = settings.model_copy(update={"payment_method": None, "recharge_to": Decimal(30)})
        update = await handle.start_update(
            CustomerWorkflow.configure_auto_recharge,
            again,
            wait_for_stage=WorkflowUpdateStage.ACCEPTED,
        )
        await asyncio.wait_for(racing.gate.entered.wait(), timeout=30)
        outcome = RechargeOutcome(
            message_id=f"recharge:{first}", recharge_id=first, status="not_needed", attempts=1
        )
        await handle.signal(CustomerWorkflow.recharge_finished, outcome)
        racing.gate.opened.set()
        saved = await update.result()
        assert saved.recharge_to == 30

        # Still below the threshold, and the first recharge is over: a new one starts.
        second = await eventually(
            lambda: in_flight(racing, unique_id),
            until=lambda running: running not in (None, first),
            timeout=30,
            what="a new recharge after the first one finished",
        )
        assert second is not None and second.startswith("rch_")
    finally:
        await handle.terminate("test over")
