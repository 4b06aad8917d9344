"""Closing an account over HTTP: usage and purchases are refused at once, the unspent part of
each purchase goes back to its card exactly once, promotional credit is forfeited, a final
statement is written, the card is detached, and the customer's workflow completes."""

import asyncio
from decimal import Decimal

from temporalio.client import WorkflowExecutionStatus

from creditgate.checks.closures import check_closures
from creditgate.models import ClosureRefund
from tests.api.support import balance, create_plan, event, grant, ledger, signup
from tests.customers.support import closed, closure, stripe_refunds, two_purchases
from tests.payments.support import VISA, assert_invariants, calls, purchase, save_card
from tests.support.plans import calls_plan, plan_code
from tests.support.stack import Stack
from tests.support.waiting import eventually
from tests.workflows.support import workflow
from workflows import search_attributes as sa


async def test_closing_refunds_each_purchase_unspent_part_once_and_completes_the_workflow(
    stack: Stack, unique_id: str
) -> None:
    bought, pm = await two_purchases(stack, unique_id)
    hold = await stack.http.post(
        f"/v1/customers/{unique_id}/holds", json={"amount": "2", "ttl_seconds": 3}
    )
    assert hold.status_code == 201, hold.text

    response = await stack.http.post(
        f"/v1/customers/{unique_id}/close", json={"reason": "customer asked to leave"}
    )
    assert response.status_code == 202, response.text
    assert response.json()["status"] in ("closing", "closed")

    # Refused from the moment the close was answered (the hold keeps the closure waiting).
    used = await stack.http.post(
        "/v1/events", json={"events": [event("late", unique_id, "api_call")]}
    )
    assert used.status_code == 402, used.text
    assert used.json()["error"]["type"] == "customer_closed"
    status, body = await purchase(stack, unique_id, amount="5.00", payment_method=pm)
    assert status == 409 and body["error"]["type"] == "conflict", body
    for path, payload in [
        (f"/v1/customers/{unique_id}/grants", {"amount": "1"}),
        (f"/v1/customers/{unique_id}/close", {"reason": "again"}),
        (f"/v1/customers/{unique_id}/pause", {"reason": "review"}),
        (f"/v1/customers/{unique_id}/adjustments", {"amount": "1", "reason": "late credit"}),
    ]:
        refused = await stack.http.post(path, json=payload)
        assert refused.status_code == 409, (path, refused.text)

    done = await closed(stack, unique_id)
    refunds = {r["purchase_id"]: r for r in done["refunds"]}
    first, second = bought["20.00"], bought["10.00"]
    assert {k: (r["amount"], r["credits"], r["status"]) for k, r in refunds.items()} == {
        first["id"]: ("15", "15", "succeeded"),
        second["id"]: ("10", "10", "succeeded"),
    }
    assert await stripe_refunds(stack, first["payment_intent"]) == [(1500, first["id"])]
    assert await stripe_refunds(stack, second["payment_intent"]) == [(1000, second["id"])]
    assert done["final_statement"] is not None
    statement = await stack.http.get(f"/v1/customers/{unique_id}/statements")
    assert statement.status_code == 200
    assert done["final_statement"] in [s["number"] for s in statement.json()["data"]]

    entries = await ledger(stack, unique_id)
    clawbacks = sorted(Decimal(e["amount"]) for e in entries if e["kind"] == "clawback")
    assert clawbacks == [Decimal(-15), Decimal(-10)]
    voids = [Decimal(e["amount"]) for e in entries if e["kind"] == "void"]
    assert voids == [Decimal(-3)]  # the promotional credit, forfeited

    customer = (await stack.http.get(f"/v1/customers/{unique_id}")).json()
    assert customer["status"] == "closed" and customer["closed_at"] is not None
    assert customer["balance"]["available"] == "0"
    events = (await stack.http.get(f"/v1/customers/{unique_id}/events")).json()["events"]
    kinds = [e["type"] for e in events]
    assert kinds.count("purchase.refunded") == 2
    await eventually(
        lambda: stack.http.get(f"/v1/customers/{unique_id}/events"),
        until=lambda r: r.json()["events"][-1]["type"] == "customer.closed",
        what="customer.closed recorded last",
    )
    description = await workflow(stack, unique_id).describe()
    assert description.status == WorkflowExecutionStatus.COMPLETED
    attrs = description.typed_search_attributes
    assert (attrs.get(sa.STATUS), attrs.get(sa.ENTITLED)) == ("closed", False)
    detached = await stack.stripe.client.v1.payment_methods.retrieve_async(pm)
    assert detached.customer is None
    assert await closure(stack, unique_id) == done
    await assert_invariants(stack)

    # The checker compares each refund with Stripe's: a ledger that disagrees is reported.
    async with stack.db.transaction() as session:
        row = await session.get(ClosureRefund, first["id"])
        assert row is not None
        row.amount = Decimal(14)
    try:
        found = await check_closures(stack.db, stack.stripe)
        assert [(v.invariant, v.customer) for v in found] == [(10, unique_id)]
    finally:
        async with stack.db.transaction() as session:
            row = await session.get(ClosureRefund, first["id"])
            assert row is not None
            row.amount = Decimal(15)
    assert await check_closures(stack.db, stack.stripe) == []


async def test_closing_twice_or_an_unknown_customer_is_refused_and_changes_nothing(
    stack: Stack, unique_id: str
) -> None:
    unknown = await stack.http.post("/v1/customers/nobody-here/close", json={"reason": "x"})
    assert unknown.status_code == 404, unknown.text
    await two_purchases(stack, unique_id)
    for bad in ({}, {"reason": ""}, {"reason": "x", "holds": "keep"}, {"reason": 5}):
        refused = await stack.http.post(f"/v1/customers/{unique_id}/close", json=bad)
        assert refused.status_code == 422, (bad, refused.text)
    not_closing = await stack.http.get(f"/v1/customers/{unique_id}/closure")
    assert not_closing.status_code == 404
    assert (await stack.http.get(f"/v1/customers/{unique_id}")).json()["status"] == "active"

    both = await asyncio.gather(
        *(
            stack.http.post(
                f"/v1/customers/{unique_id}/close", json={"reason": reason, "holds": "release"}
            )
            for reason in ("done", "done too")
        )
    )
    assert sorted(r.status_code for r in both) == [202, 409], [r.text for r in both]
    await closed(stack, unique_id)
    again = await stack.http.post(f"/v1/customers/{unique_id}/close", json={"reason": "done"})
    assert again.status_code == 409, again.text
    assert again.json()["error"]["type"] == "conflict"
    # Still answered: the customer, its statements and its closure.
    assert (await stack.http.get(f"/v1/customers/{unique_id}")).status_code == 200
    assert (await stack.http.get(f"/v1/customers/{unique_id}/statements")).status_code == 200


async def test_a_closure_ends_the_grace_of_a_running_period_close_and_bills_both_periods(
    stack: Stack, unique_id: str
) -> None:
    """A plan change ``now`` leaves a period close sitting out the plan's hour of grace for
    late events; a closure cannot get late events, so that close runs at once and the
    final statement follows it."""
    code = plan_code(unique_id)
    await create_plan(stack, calls_plan(code, grace_seconds=3600))
    await create_plan(stack, calls_plan(f"{code}-b", grace_seconds=3600))
    await signup(stack, unique_id, plan=code)
    await grant(stack, unique_id, "4", reason="welcome credit")
    await calls(stack, unique_id, 1)
    changed = await eventually(
        lambda: stack.http.post(
            f"/v1/customers/{unique_id}/plan", json={"plan": f"{code}-b", "effective": "now"}
        ),
        until=lambda r: "still signing up" not in r.text,
        what="the workflow to finish the signup",
    )
    assert changed.status_code == 200, changed.text

    response = await stack.http.post(f"/v1/customers/{unique_id}/close", json={"reason": "bye"})
    assert response.status_code == 202, response.text
    done = await closed(stack, unique_id, timeout=60)
    listed = (await stack.http.get(f"/v1/customers/{unique_id}/statements")).json()["data"]
    assert len(listed) == 2  # the plan change's early statement, then the final one
    assert done["final_statement"] == max(s["number"] for s in listed)
    assert done["refunds"] == []  # nothing was bought: the 3 credits left are forfeited
    voids = [e["amount"] for e in await ledger(stack, unique_id) if e["kind"] == "void"]
    assert voids == ["-3"]
    await assert_invariants(stack)


async def test_closing_an_arrears_account_collects_what_is_owed_on_the_final_statement(
    stack: Stack, unique_id: str
) -> None:
    code = plan_code(unique_id)
    await create_plan(stack, calls_plan(code, billing="arrears", grace_seconds=3600))
    await signup(stack, unique_id, plan=code)
    pm = await save_card(stack, unique_id, VISA)
    await calls(stack, unique_id, 3)  # 3.00 owed, billed at the period's end
    assert (await balance(stack, unique_id))["debt"] == "3"

    response = await stack.http.post(f"/v1/customers/{unique_id}/close", json={"reason": "bye"})
    assert response.status_code == 202, response.text
    done = await closed(stack, unique_id, timeout=60)
    statement = await stack.http.get(
        f"/v1/customers/{unique_id}/statements/{done['final_statement']}"
    )
    assert statement.status_code == 200, statement.text
    final = statement.json()
    assert (final["amount_due"], final["payment"]["status"]) == ("3", "paid")
    assert done["refunds"] == []  # the statement's payment only paid the debt
    after = await balance(stack, unique_id)
    assert (after["available"], after["debt"]) == ("0", "0")
    detached = await stack.stripe.client.v1.payment_methods.retrieve_async(pm)
    assert detached.customer is None
    await assert_invariants(stack)
