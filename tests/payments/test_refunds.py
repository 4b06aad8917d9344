"""charge.refunded claws back credits: the unspent part from the purchase's grant, the spent
part charged to the wallet (other credits, then debt). localstripe sends no charge.refunded,
so the test signs Stripe-shaped events itself."""

import uuid

from tests.api.support import balance, grant, ledger
from tests.payments.support import (
    VISA,
    assert_invariants,
    calls,
    card,
    customer_on,
    deliver,
    get_purchase,
    purchase,
    purchase_settled,
    refunded,
)
from tests.support.stack import Stack
from tests.support.waiting import eventually
from tests.workflows.support import workflow
from workflows.customer import CustomerWorkflow


async def settled_refund(stack: Stack, external_id: str, event_id: str) -> bool:
    """The customer workflow has taken the event and runs no activity (its clawback is done)."""
    handle = workflow(stack, external_id)
    state = await handle.query(CustomerWorkflow.get_state)
    description = await handle.describe()
    return (
        f"refund:{event_id}" in state.processed_message_ids
        and not description.raw_description.pending_activities
    )


async def test_refunds_claw_back_unspent_credits_and_charge_the_spent_part(
    stack: Stack, unique_id: str
) -> None:
    await customer_on(stack, unique_id)
    status, body = await purchase(
        stack, unique_id, amount="20.00", payment_method=await card(stack, VISA)
    )
    assert status == 201
    await purchase_settled(stack, body["id"])
    await calls(stack, unique_id, 5)  # 20 → 15 available, 5 spent

    # Half refunded: 10 of the 15 unspent credits come off the grant.
    await deliver(stack, refunded(body["payment_intent"], 2000, 1000))
    await eventually(
        lambda: get_purchase(stack, body["id"]), until=lambda p: p["clawed_back"] == "10"
    )
    assert (await balance(stack, unique_id))["available"] == "5"

    # All refunded: the last 5 unspent credits, and the 5 spent ones become debt.
    full = refunded(body["payment_intent"], 2000, 2000)
    await deliver(stack, full)
    await eventually(
        lambda: get_purchase(stack, body["id"]), until=lambda p: p["clawed_back"] == "20"
    )
    after = await balance(stack, unique_id)
    assert (after["available"], after["debt"], after["entitled"]) == ("-5", "5", False)
    clawbacks = [e for e in await ledger(stack, unique_id) if e["kind"] == "clawback"]
    assert sorted(e["amount"] for e in clawbacks) == ["-10", "-10"]

    # Repeats and a stale, smaller total change nothing.
    await deliver(stack, full)
    await deliver(stack, {**refunded(body["payment_intent"], 2000, 1000)})
    last = {**full, "id": f"evt_{uuid.uuid4().hex[:20]}"}
    await deliver(stack, last)
    await eventually(
        lambda: settled_refund(stack, unique_id, last["id"]), what="the last refund handled"
    )
    # The next grant pays the debt first.
    await grant(stack, unique_id, "8")
    assert (await balance(stack, unique_id))["available"] == "3"
    assert len([e for e in await ledger(stack, unique_id) if e["kind"] == "clawback"]) == 2
    assert (await get_purchase(stack, body["id"]))["refunded_amount"] == "20"
    await assert_invariants(stack)
