"""CustomerWorkflow's auto-recharge with the payment activities replaced by test doubles:
declines retried on the schedule (the test server skips the waits), auto-recharge disabling
itself after the last, and a crossing that arrives while the settings are being saved."""

import asyncio
from datetime import timedelta
from decimal import Decimal

import pytest
from temporalio.client import WorkflowUpdateStage

from messages.customer import CustomerState, LedgerNotice
from messages.purchase import PaymentPolicy, PurchaseRef
from messages.recharge import AutoRechargeRequest, RechargeOutcome
from tests.support.waiting import eventually
from tests.workflows.doubles import DECLINE, declined
from tests.workflows.units import Units
from workflows import search_attributes as sa
from workflows.customer import CustomerWorkflow
from workflows.recharge import recharge_workflow_id

# Three attempts: the first, then one a minute later, then two minutes after that.
RETRIES = PaymentPolicy(retry_delays=[60.0, 120.0])
SETTINGS = AutoRechargeRequest(
    enabled=True,
    threshold=Decimal(5),
    recharge_to=Decimal(20),
    payment_method="pm_card_visa",
    policy=RETRIES,
)


def timeline_messages(state: CustomerState, kind: str) -> list[str]:
    return [entry.message for entry in state.timeline if entry.kind == kind]


async def recharge_outcome(units: Units, external_id: str) -> RechargeOutcome:
    handle = units.client.get_workflow_handle(
        recharge_workflow_id(external_id), result_type=RechargeOutcome
    )
    outcome: RechargeOutcome = await handle.result()
    return outcome


async def state_once_recharge_reported(units: Units, external_id: str) -> CustomerState:
    return await eventually(
        lambda: units.state(external_id),
        lambda s: (
            bool(s.timeline) and s.timeline[-1].kind in ("recharged", "auto_recharge_disabled")
        ),
        what="the recharge to report back",
    )


async def test_a_declined_recharge_is_retried_later_and_then_succeeds(
    units: Units, unique_id: str
) -> None:
    handle = await units.signed_up(unique_id)
    units.doubles.script("create_payment_intent", declined())

    # Available is 0, at or below the threshold: enabling starts a recharge at once.
    saved = await handle.execute_update(CustomerWorkflow.configure_auto_recharge, SETTINGS)
    assert saved.enabled and saved.status == "enabled"
    await units.skip_timer(recharge_workflow_id(unique_id), timedelta(seconds=60))

    state = await state_once_recharge_reported(units, unique_id)
    outcome = await recharge_outcome(units, unique_id)
    assert outcome.status == "succeeded" and outcome.attempts == 2
    assert outcome.purchase is not None and outcome.purchase.status == "granted"
    [recharged] = timeline_messages(state, "recharged")
    assert "charged 20.00 usd, granted 20.00 (attempt 2)" in recharged

    charges = units.doubles.calls["create_payment_intent"]
    assert len(charges) == 2 and all(c.off_session for c in charges)
    assert charges[0].idempotency_key != charges[1].idempotency_key
    assert [f.reason for f in units.doubles.calls["fail_purchase"]] == [DECLINE]
    assert units.doubles.calls["grant_purchase"] == [PurchaseRef(purchase_id=outcome.purchase.id)]

    # Still on, nothing left in flight, no second recharge started.
    ar = state.auto_recharge
    assert ar.enabled and ar.status == "enabled" and ar.in_flight is None and not ar.wanted
    assert units.doubles.count("prepare_recharge") == 2
    assert (await units.search_attributes(unique_id)).get(sa.AUTO_RECHARGE) == "enabled"


async def test_auto_recharge_disables_itself_after_the_last_declined_attempt(
    units: Units, unique_id: str
) -> None:
    handle = await units.signed_up(unique_id)
    units.doubles.script("create_payment_intent", declined(), declined(), declined())

    await handle.execute_update(CustomerWorkflow.configure_auto_recharge, SETTINGS)
    await units.skip_timer(recharge_workflow_id(unique_id), timedelta(seconds=60))
    await units.skip_timer(recharge_workflow_id(unique_id), timedelta(seconds=120))

    state = await state_once_recharge_reported(units, unique_id)
    outcome = await recharge_outcome(units, unique_id)
    assert outcome.status == "failed" and outcome.attempts == 3 and outcome.reason == DECLINE
    assert timeline_messages(state, "auto_recharge_disabled") == [
        f"auto-recharge disabled after 3 failed attempts: {DECLINE}"
    ]
    ar = state.auto_recharge
    assert not ar.enabled and ar.status == "failed" and ar.disabled_reason == DECLINE
    assert ar.in_flight is None and not ar.wanted

    # The ledger stores the disabled settings (so its threshold no longer fires) ...
    last_saved = units.doubles.calls["save_auto_recharge"][-1]
    assert not last_saved.enabled and last_saved.status == "failed"
    assert last_saved.disabled_reason == DECLINE
    # ... operators see it, and nothing was granted or charged again.
    await eventually(
        lambda: units.search_attributes(unique_id),
        lambda attrs: attrs.get(sa.AUTO_RECHARGE) == "failed",
        what="the AUTO_RECHARGE search attribute to say failed",
    )
    assert units.doubles.count("create_payment_intent") == 3
    assert units.doubles.count("grant_purchase") == 0

    # The outcome delivered again (a retried signal) changes nothing; a fresh notice sent
    # after it shows it was handled.
    saves = units.doubles.count("save_auto_recharge")
    await handle.signal(CustomerWorkflow.recharge_finished, outcome)
    fresh = LedgerNotice(message_id="outbox-1", kind="threshold", at=state.timeline[-1].at)
    await handle.signal(CustomerWorkflow.ledger_notice, fresh)
    again = await eventually(
        lambda: units.state(unique_id),
        lambda s: "outbox-1" in s.processed_message_ids,
        what="the fresh notice handled",
    )
    assert len(timeline_messages(again, "auto_recharge_disabled")) == 1
    assert units.doubles.count("save_auto_recharge") == saves
    assert units.doubles.count("prepare_recharge") == 3


@pytest.mark.parametrize("already_on", [False, True], ids=["enabling", "changing"])
async def test_a_crossing_while_the_settings_are_saved_recharges_once_with_them(
    units: Units, unique_id: str, already_on: bool
) -> None:
    handle = await units.signed_up(unique_id)
    units.doubles.available = Decimal(10)  # above the threshold: nothing to charge yet
    if already_on:
        saved = await handle.execute_update(CustomerWorkflow.configure_auto_recharge, SETTINGS)
        assert not saved.wanted and saved.in_flight is None

    # While the settings are being stored (the ledger read available 10 and armed the
    # threshold), spending takes available to 3 and the relay signals the crossing, twice (it
    # delivers at least once).
    gate = units.doubles.gate("save_auto_recharge")
    settings = SETTINGS.model_copy(update={"recharge_to": Decimal(30)})
    update = await handle.start_update(
        CustomerWorkflow.configure_auto_recharge,
        settings,
        wait_for_stage=WorkflowUpdateStage.ACCEPTED,
    )
    await asyncio.wait_for(gate.entered.wait(), timeout=30)
    units.doubles.available = Decimal(3)
    crossing = LedgerNotice(
        message_id="outbox-7",
        kind="threshold",
        payload={"available": "3", "threshold": "5"},
        at=await units.env.get_current_time(),
    )
    await handle.signal(CustomerWorkflow.ledger_notice, crossing)
    await handle.signal(CustomerWorkflow.ledger_notice, crossing)
    gate.opened.set()
    assert (await update.result()).recharge_to == 30

    # One recharge, started once the update finished: it charges up to the new recharge_to.
    state = await state_once_recharge_reported(units, unique_id)
    assert len(timeline_messages(state, "recharged")) == 1
    [prepared] = units.doubles.calls["prepare_recharge"]
    assert prepared.recharge_to == 30
    assert units.doubles.count("create_payment_intent") == 1
    assert units.doubles.count("grant_purchase") == 1
    ar = state.auto_recharge
    assert ar.recharge_to == 30 and ar.in_flight is None and not ar.wanted
    assert len(timeline_messages(state, "threshold")) == 1 and state.threshold_crossings == 1
