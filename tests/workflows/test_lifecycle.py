"""The customer lifecycle end to end: ledger → outbox → relay → CustomerWorkflow.

Real dev server, localstripe, SQLite, worker, relay and API (the ``stack`` fixture).
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlmodel import col, select
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle

from creditgate.ledger import service
from creditgate.ledger.usage import EventIn
from creditgate.models import CustomerStatus, Grant, LedgerEntry
from creditgate.plans import catalog as plans
from creditgate.pricing.plan import Meter, PlanDefinition, Price
from messages.customer import CustomerState
from tests.support.stack import Stack
from tests.support.waiting import eventually
from tests.workflows.support import (
    grant,
    kinds,
    outbox_rows,
    search_attributes_become,
    sign_up,
    state_when,
    stored,
    workflow,
    workflow_state,
)
from workflows.customer import CustomerWorkflow

LIFECYCLE = ("restored", "cut_off", "grant_expired", "threshold")


async def scheduled_activities(handle: WorkflowHandle[Any, Any]) -> list[str]:
    """Activity types a run (the latest, unless the handle names one) scheduled."""
    return [
        event.activity_task_scheduled_event_attributes.activity_type.name
        async for event in handle.fetch_history_events()
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]


def expired_and_cut_off(state: CustomerState) -> bool:
    # Both: the cut-off notice may be handled before the expiry activity's result.
    return state.status == "cut_off" and not state.grant_expiries


def assert_expiry_timeline(state: CustomerState) -> None:
    """Restored by the grant, then expired and cut off, each once. The expiry's entry and the
    cut-off notice it caused may land in either order: a signal that arrives with the
    activity's result is handled first."""
    recorded = kinds(state, *LIFECYCLE)
    assert recorded[0] == "restored"
    assert sorted(recorded[1:]) == ["cut_off", "grant_expired"]


async def create_calls_plan(stack: Stack, code: str) -> str:
    """A plan charging 0.5 per ``api_call`` event."""
    await plans.create_plan(
        stack.db,
        PlanDefinition(
            code=code,
            name="Calls",
            meters=[Meter(code="calls", event_type="api_call", aggregation="count")],
            prices=[Price(meter="calls", model="per_unit", unit_amount=Decimal("0.5"))],
        ),
    )
    return code


async def test_cut_off_at_zero_and_restore_on_grant(stack: Stack, unique_id: str) -> None:
    await sign_up(stack, unique_id, plan=await create_calls_plan(stack, unique_id))
    state = await workflow_state(stack, unique_id)
    assert (state.status, state.entitled) == ("active", False)

    await grant(stack.db, unique_id, "1.00")
    state = await state_when(stack, unique_id, lambda s: s.entitled, "restored after a grant")
    assert state.status == "active"
    await search_attributes_become(stack, unique_id, "active", True)

    results = await service.ingest(
        stack.db,
        [
            EventIn(id="call-1", customer=unique_id, event_type="api_call"),
            EventIn(id="call-2", customer=unique_id, event_type="api_call"),
        ],
    )
    assert [(r.status, r.cost) for r in results] == [("debited", Decimal("0.5"))] * 2
    assert results[-1].balance_after == 0
    # The ledger cuts off in the debit transaction itself, before any workflow hears of it.
    now = await stored(stack.db, unique_id)
    assert now.customer.status == CustomerStatus.cut_off
    assert now.wallet.entitled is False

    state = await state_when(stack, unique_id, lambda s: s.status == "cut_off", "cut off")
    assert state.entitled is False
    await search_attributes_become(stack, unique_id, "cut_off", False)

    await grant(stack.db, unique_id, "2.00")
    state = await state_when(stack, unique_id, lambda s: s.status == "active", "restored again")
    assert state.entitled is True
    await search_attributes_become(stack, unique_id, "active", True)
    assert (await stored(stack.db, unique_id)).customer.status == CustomerStatus.active

    # Every crossing was written once, sent once and recorded once.
    rows = await outbox_rows(stack.db, unique_id)
    assert [r.kind for r in rows] == ["restored", "zero", "restored"]
    await eventually(
        lambda: outbox_rows(stack.db, unique_id),
        lambda found: all(r.sent_at is not None for r in found),
        what="outbox rows marked sent",
    )
    assert kinds(state, *LIFECYCLE) == ["restored", "cut_off", "restored"]
    cut_off = next(e for e in state.timeline if e.kind == "cut_off")
    assert cut_off.message == "cut off: balance reached zero"
    for row in rows:
        assert state.processed_message_ids.count(row.message_id) == 1


async def test_grant_expiry_timer_expires_the_grant(stack: Stack, unique_id: str) -> None:
    await sign_up(stack, unique_id)
    expires_at = datetime.now(UTC) + timedelta(seconds=3)
    outcome = await grant(stack.db, unique_id, "1.00", expires_at=expires_at)
    grant_id = outcome.grant.id
    assert grant_id is not None

    state = await state_when(
        stack,
        unique_id,
        lambda s: grant_id in s.grant_expiries and s.entitled,
        "the grant restored and its expiry timer armed",
    )
    assert state.grant_expiries[grant_id] == expires_at
    assert state.entitled is True

    state = await state_when(
        stack, unique_id, expired_and_cut_off, "expiry and cut-off", timeout=30
    )
    assert state.grant_expiries == {}
    assert state.entitled is False
    assert_expiry_timeline(state)
    expired = next(e for e in state.timeline if e.kind == "grant_expired")
    assert expired.message == f"grant {grant_id} expired: 1 lost"
    assert expired.at >= expires_at
    await search_attributes_become(stack, unique_id, "cut_off", False)

    # The ledger: the remaining amount booked as an expiry, the grant expired, balance zero.
    now = await stored(stack.db, unique_id)
    async with stack.db.session() as session:
        entries = (
            await session.exec(
                select(LedgerEntry)
                .where(LedgerEntry.customer_id == now.customer.id)
                .order_by(col(LedgerEntry.id))
            )
        ).all()
        stored_grant = await session.get(Grant, grant_id)
    assert [(e.kind, e.amount, e.grant_id) for e in entries] == [
        ("grant", Decimal("1.00"), grant_id),
        ("expiry", Decimal("-1.00"), grant_id),
    ]
    assert stored_grant is not None
    assert (stored_grant.status, stored_grant.remaining) == ("expired", Decimal(0))
    assert stored_grant.expired_amount == Decimal("1.00")
    assert (now.wallet.balance, now.wallet.entitled) == (Decimal(0), False)
    assert now.customer.status == CustomerStatus.cut_off

    # It was the workflow's timer that expired it: the activity ran in the workflow.
    assert (await scheduled_activities(workflow(stack, unique_id))).count("expire_grants") == 1


async def test_continue_as_new_keeps_the_expiry_timer(stack: Stack, unique_id: str) -> None:
    await sign_up(stack, unique_id)
    expires_at = datetime.now(UTC) + timedelta(seconds=5)
    outcome = await grant(stack.db, unique_id, "1.00", expires_at=expires_at)
    grant_id = outcome.grant.id
    assert grant_id is not None
    handle = workflow(stack, unique_id)
    first_run = (await handle.describe()).run_id
    before = await state_when(
        stack,
        unique_id,
        lambda s: grant_id in s.grant_expiries and s.entitled,
        "the grant restored and its expiry timer armed",
    )

    await handle.signal(CustomerWorkflow.request_continue_as_new)
    after = await state_when(
        stack, unique_id, lambda s: s.run_number == before.run_number + 1, "a new run"
    )
    new_run = (await handle.describe()).run_id
    assert new_run != first_run
    assert after.grant_expiries == {grant_id: expires_at}
    assert after.processed_message_ids == before.processed_message_ids

    state = await state_when(
        stack, unique_id, expired_and_cut_off, "expiry in the new run", timeout=30
    )
    assert_expiry_timeline(state)
    assert state.grant_expiries == {}
    assert (await handle.describe()).run_id == new_run
    assert "expire_grants" in await scheduled_activities(handle)
    old_run = stack.client.get_workflow_handle(handle.id, run_id=first_run)
    assert "expire_grants" not in await scheduled_activities(old_run)
    async with stack.db.session() as session:
        stored_grant = await session.get(Grant, grant_id)
    assert stored_grant is not None
    assert stored_grant.status == "expired"
