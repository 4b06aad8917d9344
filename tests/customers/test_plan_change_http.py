"""Changing one customer's plan over HTTP on the real stack: ``now`` closes the open period
into a statement on the old plan and rates what follows on the new one; bad changes are
refused with nothing changed."""

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlmodel import select

from creditgate.models import Customer
from tests.api.support import balance, create_plan, event, grant, send, signup
from tests.support.plans import plan_code
from tests.support.stack import Stack
from tests.support.waiting import eventually


def image_plan(code: str, price: str, currency: str = "USD") -> dict[str, Any]:
    return {
        "code": code,
        "name": f"Images at {price}",
        "currency": currency,
        "grace_seconds": 0,
        "meters": [{"code": "images", "event_type": "image_generated", "aggregation": "count"}],
        "prices": [{"meter": "images", "model": "per_unit", "unit_amount": price}],
    }


async def customer_row(stack: Stack, external_id: str) -> Customer:
    async with stack.db.session() as session:
        return (
            await session.exec(select(Customer).where(Customer.external_id == external_id))
        ).one()


async def statements(stack: Stack, external_id: str) -> list[dict[str, Any]]:
    response = await stack.http.get(f"/v1/customers/{external_id}/statements")
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


async def change_plan(stack: Stack, external_id: str, body: dict[str, Any]) -> httpx.Response:
    """``POST .../plan``, again while the workflow is still finishing the signup (a signup
    answers once the customer exists; its workflow may still be reading its schedule)."""

    async def post() -> httpx.Response:
        return await stack.http.post(f"/v1/customers/{external_id}/plan", json=body)

    return await eventually(
        post,
        until=lambda r: "still signing up" not in r.text,
        what="the workflow to finish the signup",
    )


async def test_a_plan_change_now_closes_the_period_and_rates_what_follows_on_the_new_plan(
    stack: Stack, unique_id: str
) -> None:
    old, new = plan_code(unique_id, "-a"), plan_code(unique_id, "-b")
    await create_plan(stack, image_plan(old, "1.00"))
    await create_plan(stack, image_plan(new, "2.00"))
    await signup(stack, unique_id, old)
    await grant(stack, unique_id, "20")
    await send(stack, *(event(f"{unique_id}-{n}", unique_id, "image_generated") for n in range(3)))

    response = await change_plan(stack, unique_id, {"plan": new, "effective": "now"})
    assert response.status_code == 200, response.text
    change = response.json()
    assert (change["plan"], change["version"], change["effective"]) == (new, 1, "now")
    assert change["period_index"] == 0

    [closed] = await eventually(
        lambda: statements(stack, unique_id), until=lambda s: len(s) == 1, what="statement"
    )
    assert closed["plan"] == old
    # Closed early, at the change, not at the end of the month.
    ended = datetime.fromisoformat(closed["period_end"])
    assert ended == datetime.fromisoformat(change["takes_effect_at"])
    assert ended - datetime.fromisoformat(closed["period_start"]) < timedelta(hours=1)
    assert Decimal(closed["usage_debited"]) == Decimal(3)
    await eventually(
        lambda: customer_row(stack, unique_id),
        until=lambda c: c.plan_code == new and c.next_plan_version is None,
        what="the new plan applied",
    )
    read = (await stack.http.get(f"/v1/customers/{unique_id}")).json()
    assert read["plan"] == new

    await send(stack, event(f"{unique_id}-after", unique_id, "image_generated"))
    assert Decimal((await balance(stack, unique_id))["available"]) == Decimal(20 - 3 - 2)


async def test_a_plan_change_at_period_end_waits_for_the_close(
    stack: Stack, unique_id: str
) -> None:
    old, new = plan_code(unique_id, "-a"), plan_code(unique_id, "-b")
    await create_plan(stack, image_plan(old, "1.00"))
    await create_plan(stack, image_plan(new, "2.00"))
    await signup(stack, unique_id, old)
    response = await change_plan(stack, unique_id, {"plan": new})
    assert response.status_code == 200, response.text
    assert response.json()["effective"] == "next_period"
    stored = await customer_row(stack, unique_id)
    assert (stored.plan_code, stored.next_plan_code, stored.next_plan_version) == (old, new, 1)
    assert await statements(stack, unique_id) == []


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"plan": "no-such-plan"}, 404, "not_found"),
        ({"plan": "{known}", "version": 9}, 404, "not_found"),
        ({"plan": "{euro}"}, 409, "conflict"),
        ({"plan": "{known}", "effective": "tomorrow"}, 422, "validation_error"),
        ({"plan": "{known}", "version": "1"}, 422, "validation_error"),
        ({}, 422, "validation_error"),
    ],
    ids=["unknown-plan", "unknown-version", "other-currency", "bad-effective", "string-version",
         "no-plan"],
)  # fmt: skip
async def test_a_bad_plan_change_is_refused_and_changes_nothing(
    stack: Stack, unique_id: str, body: dict[str, Any], status: int, error: str
) -> None:
    known, euro = plan_code(unique_id, "-k"), plan_code(unique_id, "-e")
    await create_plan(stack, image_plan(known, "1.00"))
    await create_plan(stack, image_plan(euro, "1.00", currency="EUR"))
    await signup(stack, unique_id, known)
    sent = {k: v.format(known=known, euro=euro) if isinstance(v, str) else v
            for k, v in body.items()}  # fmt: skip
    response = await stack.http.post(f"/v1/customers/{unique_id}/plan", json=sent)
    assert response.status_code == status, response.text
    assert response.json()["error"]["type"] == error
    if status == 409:
        assert "wallet" in response.json()["error"]["message"]
    stored = await customer_row(stack, unique_id)
    assert (stored.plan_code, stored.next_plan_code, stored.next_plan_version) == (
        known,
        None,
        None,
    )


async def test_a_plan_change_for_an_unknown_customer_is_404(stack: Stack) -> None:
    response = await stack.http.post("/v1/customers/nobody-here/plan", json={"plan": "x"})
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found"
