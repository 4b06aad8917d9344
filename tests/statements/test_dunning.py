"""Dunning on the dev server with second-long periods: a declining card is retried on the
schedule, then the customer is cut off (through the API, the real worker, localstripe)."""

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.api.plans import create_plan, event, plan_code, send, signup
from tests.payments.support import DECLINES_CHARGES, assert_invariants, card, purchases
from tests.support.stack import Stack
from tests.support.waiting import eventually
from tests.workflows.helpers import workflow, workflow_state


@pytest.fixture
async def arrears_customer(stack: Stack, unique_id: str) -> AsyncIterator[str]:
    """An arrears customer whose periods last 8 seconds; its workflow is stopped afterwards
    so it does not close periods for the rest of the session."""
    code = plan_code(unique_id)
    await create_plan(
        stack,
        {
            "code": code,
            "name": "Seats in arrears",
            "currency": "USD",
            "billing": "arrears",
            "period": {"every": 8, "unit": "second"},
            "grace_seconds": 0,
            "meters": [
                {"code": "seats", "event_type": "seats", "aggregation": "max",
                 "value_property": "count"}
            ],
            "prices": [{"meter": "seats", "model": "per_unit", "unit_amount": "2.00"}],
        },
    )  # fmt: skip
    await signup(stack, unique_id, plan=code)
    yield unique_id
    await workflow(stack, unique_id).terminate("test over")


async def statements(stack: Stack, external_id: str) -> list[dict[str, Any]]:
    response = await stack.http.get(f"/v1/customers/{external_id}/statements")
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["data"]
    return found


async def test_a_declining_card_runs_dunning_and_ends_in_cut_off(
    stack: Stack, arrears_customer: str
) -> None:
    who = arrears_customer
    pm = await card(stack, DECLINES_CHARGES)
    response = await stack.http.put(
        f"/v1/customers/{who}/payment-method", json={"payment_method": pm}
    )
    assert response.status_code == 200, response.text
    await send(stack, event("s1", who, "seats", count=3))

    state = await eventually(
        lambda: workflow_state(stack, who),
        until=lambda s: (
            s.status == "cut_off" and any("unpaid after dunning" in e.message for e in s.timeline)
        ),
        timeout=60,
        what="dunning to end in cut-off",
    )
    assert state.statements_closed >= 1
    first = (await statements(stack, who))[-1]
    assert first["number"] == 1 and first["amount_due"] == "6"
    assert first["usage"][0]["quantity"] == "3" and first["true_up"] == "6"
    assert first["payment"]["status"] == "failed"
    # The stack's schedule (CREDITGATE_DUNNING_RETRY_DELAYS=1,1): three declined attempts.
    invoices = [p for p in await purchases(stack, who) if p["id"].startswith("inv_")]
    assert len(invoices) >= 3 and all(p["status"] == "failed" for p in invoices)
    balance = (await stack.http.get(f"/v1/customers/{who}/balance")).json()
    assert (balance["debt"], balance["entitled"]) == ("6", False)
    html = await stack.http.get(f"/v1/customers/{who}/statements/1/html")
    assert html.status_code == 200 and "Amount due: 6" in html.text
    await assert_invariants(stack)


async def test_pay_as_you_go_runs_into_debt_until_the_spend_limit(
    stack: Stack, unique_id: str
) -> None:
    code = plan_code(unique_id)
    await create_plan(
        stack,
        {
            "code": code,
            "name": "Pay as you go",
            "currency": "USD",
            "billing": "arrears",
            "spend_limit": "1.00",
            "meters": [{"code": "calls", "event_type": "api_call", "aggregation": "count"}],
            "prices": [{"meter": "calls", "model": "per_unit", "unit_amount": "0.40"}],
        },
    )
    customer = await signup(stack, unique_id, plan=code)
    assert customer["balance"]["entitled"] is True  # no prepaid balance needed
    results = await send(stack, *(event(f"c{i}", unique_id, "api_call") for i in range(3)))
    assert [r["balance_after"] for r in results] == ["-0.4", "-0.8", "-1.2"]
    balance = (await stack.http.get(f"/v1/customers/{unique_id}/balance")).json()
    assert (balance["debt"], balance["entitled"]) == ("1.2", False)
    state = await eventually(
        lambda: workflow_state(stack, unique_id), until=lambda s: s.status == "cut_off"
    )
    assert state.entitled is False
    await assert_invariants(stack)


async def test_spend_limit_is_for_arrears_plans_only(stack: Stack, unique_id: str) -> None:
    body = {"code": plan_code(unique_id), "name": "x", "spend_limit": "5"}
    response = await stack.http.post("/v1/plans", json=body)
    assert response.status_code == 400 or response.status_code == 422, response.text
    assert "arrears" in response.json()["error"]["message"]
