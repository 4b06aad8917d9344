"""CustomerWorkflow's purchases with the payment activities replaced by test doubles: a card
Stripe declines, and a Stripe outage the retry policy rides out."""

import asyncio
from datetime import timedelta
from decimal import Decimal

from temporalio.client import WorkflowUpdateStage

from messages.customer import CustomerProfile, CustomerState, CustomerWorkflowInput
from messages.purchase import PurchaseRef, PurchaseRequest, PurchaseView
from tests.support.waiting import eventually
from tests.workflows.doubles import DECLINE, declined
from tests.workflows.units import Units
from workflows import search_attributes as sa
from workflows.customer import CustomerWorkflow, customer_workflow_id
from workflows.purchase import purchase_workflow_id

TEN = PurchaseRequest(
    request_id="buy-1",
    amount=Decimal("10.00"),
    currency="usd",
    credits=Decimal(10),
    payment_method="pm_card_visa",
)


async def test_a_declined_card_fails_the_purchase_with_the_reason_and_grants_nothing(
    units: Units, unique_id: str
) -> None:
    handle = await units.signed_up(unique_id)
    units.doubles.script("create_payment_intent", declined())

    # (Bounded: were the decline not handled, the purchase would never report back.)
    answer = await asyncio.wait_for(handle.execute_update(CustomerWorkflow.purchase, TEN), 30)

    assert answer.created
    purchase = answer.purchase
    assert purchase.status == "failed" and purchase.reason == DECLINE
    # The purchase workflow ends there: a decline is final, never retried.
    child = units.client.get_workflow_handle(
        purchase_workflow_id(purchase.id), result_type=PurchaseView
    )
    assert (await child.result()).status == "failed"
    assert units.doubles.count("create_payment_intent") == 1
    assert units.doubles.count("grant_purchase") == 0
    assert [f.reason for f in units.doubles.calls["fail_purchase"]] == [DECLINE]

    state = await units.state(unique_id)
    assert state.purchases[purchase.id].status == "failed"
    failed = [e.message for e in state.timeline if e.kind == "purchase_failed"]
    assert failed == [f"purchase {purchase.id} failed: {DECLINE}"]
    assert not [e for e in state.timeline if e.kind == "purchase_granted"]
    # Nothing changed for the customer: still active, still not entitled.
    assert state.status == "active" and not state.entitled
    attrs = await units.search_attributes(unique_id)
    assert attrs.get(sa.STATUS) == "active" and attrs.get(sa.ENTITLED) is False

    # Asking again with the same request id answers with that purchase; no second charge.
    again = await handle.execute_update(CustomerWorkflow.purchase, TEN)
    assert not again.created and again.purchase.id == purchase.id
    assert units.doubles.count("create_payment_intent") == 1


async def test_a_stripe_outage_is_retried_until_the_purchase_is_granted_once(
    units: Units, unique_id: str
) -> None:
    handle = await units.signed_up(unique_id)
    # Stripe is unreachable twice, then the charge goes through; granting fails once too.
    units.doubles.script(
        "create_payment_intent", ConnectionError("stripe down"), ConnectionError("stripe down")
    )
    units.doubles.script("grant_purchase", TimeoutError("database busy"))

    update = await handle.start_update(
        CustomerWorkflow.purchase, TEN, wait_for_stage=WorkflowUpdateStage.ACCEPTED
    )
    await units.skip(timedelta(seconds=10))  # the retry policy's backoff
    answer = await update.result()
    assert answer.purchase.status == "pending" and answer.purchase.payment_intent

    # Each retry reuses the workflow's idempotency key: Stripe sees one charge.
    intents = units.doubles.calls["create_payment_intent"]
    assert len(intents) == 3 and len({i.idempotency_key for i in intents}) == 1

    await units.skip(timedelta(minutes=2))  # the purchase polls Stripe, then grants
    state = await eventually(
        lambda: units.state(unique_id),
        lambda s: s.purchases[answer.purchase.id].status == "granted",
        what="the purchase granted",
    )
    ref = PurchaseRef(purchase_id=answer.purchase.id)
    assert units.doubles.calls["grant_purchase"] == [ref, ref]
    granted = [e for e in state.timeline if e.kind == "purchase_granted"]
    assert len(granted) == 1
    assert not [e for e in state.timeline if e.kind == "purchase_failed"]


async def test_a_retried_post_racing_the_first_one_charges_once(
    units: Units, unique_id: str
) -> None:
    handle = await units.signed_up(unique_id)
    # Both requests arrive while the purchase workflow is still opening the purchase.
    gate = units.doubles.gate("open_purchase")
    first, second = [
        await handle.start_update(
            CustomerWorkflow.purchase, TEN, wait_for_stage=WorkflowUpdateStage.ACCEPTED
        )
        for _ in range(2)
    ]
    await asyncio.wait_for(gate.entered.wait(), timeout=30)
    gate.opened.set()
    answers = [await first.result(), await second.result()]

    assert answers[0].purchase.id == answers[1].purchase.id
    assert sorted(a.created for a in answers) == [False, True]
    assert units.doubles.count("open_purchase") == 1
    assert units.doubles.count("create_payment_intent") == 1
    state = await units.state(unique_id)
    assert list(state.purchase_requests.values()) == [answers[0].purchase.id]


async def test_a_repeated_request_whose_purchase_is_no_longer_kept_answers_from_the_ledger(
    units: Units, unique_id: str
) -> None:
    """State keeps the last purchases only; a request repeated after its purchase dropped
    out (a run carried over with it trimmed) is answered with the stored purchase, and
    nothing is bought again."""
    old = PurchaseView(
        id="pur_old", status="granted", amount=Decimal(10), currency="usd", credits=Decimal(10)
    )
    units.doubles.purchases[old.id] = old
    profile = CustomerProfile(external_id=unique_id, name="Jane Doe", email="j@x.example")
    carried = CustomerState(
        profile=profile,
        status="active",
        registered=True,
        signup_acknowledged=True,
        stripe_customer_id="cus_double",
        purchase_requests={TEN.request_id: old.id},
    )
    handle = await units.client.start_workflow(
        CustomerWorkflow.run,
        CustomerWorkflowInput(profile=profile, state=carried),
        id=customer_workflow_id(unique_id),
        task_queue=units.task_queue,
    )

    # (Bounded: without the lookup the update would wait for ever.)
    again = await asyncio.wait_for(handle.execute_update(CustomerWorkflow.purchase, TEN), 30)

    assert not again.created and again.purchase == old
    assert units.doubles.count("open_purchase") == 0
    assert [r.purchase_id for r in units.doubles.calls["find_purchase"]] == [old.id]
