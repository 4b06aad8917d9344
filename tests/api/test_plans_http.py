"""Plans over HTTP: create, read, immutable versions, and what signup takes from a plan."""

import copy
from typing import Any

import pytest
from sqlmodel import select
from temporalio.service import RPCError, RPCStatusCode

from creditgate.models import Customer
from tests.api.support import balance, create_plan, grant, send, signup, tokens
from tests.support.plans import cad_plan, design_plan, plan_code
from tests.support.stack import Stack
from workflows.customer import customer_workflow_id


def with_defaults(body: dict[str, Any]) -> dict[str, Any]:
    """What the API answers for a plan body: the body with every default spelled out."""
    meters = [
        {"aggregation": "sum", "value_property": None, "group_by": [], **m} for m in body["meters"]
    ]
    prices = []
    for p in body["prices"]:
        price = {
            "unit_amount": None,
            "package_size": None,
            "rounding": "up",
            "tiers": None,
            "filter": {},
            **p,
        }
        if price["tiers"] is not None:
            price["tiers"] = [{"flat_amount": "0", "unit_amount": "0", **t} for t in price["tiers"]]
        prices.append(price)
    return {
        "code": body["code"],
        "name": body["name"],
        "currency": body.get("currency", "USD"),
        "meters": meters,
        "prices": prices,
        "billing": "prepaid",
        "period": {"every": 1, "unit": "month"},
        "grace_seconds": 3600,
    }


def without_created_at(plan: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in plan.items() if k != "created_at"}


async def test_design_plan_is_created_as_version_1_and_read_back(
    stack: Stack, unique_id: str
) -> None:
    code = plan_code(unique_id)
    body = design_plan(code)
    response = await stack.http.post("/v1/plans", json=body)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["version"] == 1
    assert without_created_at(created) == {"version": 1, **with_defaults(body)}
    # The amounts come back exactly as sent: decimal strings, no float noise.
    assert created["prices"][0]["unit_amount"] == "0.0000025"
    assert created["prices"][1]["package_size"] == "1000"
    assert created["prices"][2]["tiers"][0]["up_to"] == "100"

    fetched = await stack.http.get(f"/v1/plans/{code}")
    assert fetched.status_code == 200
    assert fetched.json() == created
    pinned = await stack.http.get(f"/v1/plans/{code}", params={"version": 1})
    assert pinned.status_code == 200
    assert pinned.json() == created


async def test_versions_are_immutable_and_the_latest_is_the_default(
    stack: Stack, unique_id: str
) -> None:
    code = plan_code(unique_id)
    v1 = await create_plan(stack, design_plan(code))

    changed = design_plan(code)
    changed["name"] = "LLM usage, cheaper input"
    changed["prices"][0]["unit_amount"] = "0.000002"
    response = await stack.http.post(f"/v1/plans/{code}/versions", json=changed)
    assert response.status_code == 201, response.text
    v2 = response.json()
    assert v2["version"] == 2
    assert v2["name"] == "LLM usage, cheaper input"
    assert v2["prices"][0]["unit_amount"] == "0.000002"

    latest = await stack.http.get(f"/v1/plans/{code}")
    assert latest.status_code == 200
    assert latest.json() == v2
    first = await stack.http.get(f"/v1/plans/{code}", params={"version": 1})
    assert first.status_code == 200
    assert first.json() == v1
    assert first.json()["prices"][0]["unit_amount"] == "0.0000025"
    assert first.json()["name"] == "LLM usage"

    third = await stack.http.post(f"/v1/plans/{code}/versions", json=design_plan(code))
    assert third.status_code == 201
    assert third.json()["version"] == 3
    assert (await stack.http.get(f"/v1/plans/{code}", params={"version": 2})).json() == v2
    missing = await stack.http.get(f"/v1/plans/{code}", params={"version": 4})
    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "not_found"


async def test_creating_an_existing_code_again_is_a_409(stack: Stack, unique_id: str) -> None:
    code = plan_code(unique_id)
    v1 = await create_plan(stack, design_plan(code))
    again = copy.deepcopy(design_plan(code))
    again["name"] = "A different plan under the same code"
    response = await stack.http.post("/v1/plans", json=again)
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["type"] == "conflict"
    assert code in error["message"] and "versions" in error["message"]
    # Nothing changed: still one version, as created.
    assert (await stack.http.get(f"/v1/plans/{code}")).json() == v1


async def test_versions_of_an_unknown_plan_or_a_mismatched_code_are_refused(
    stack: Stack, unique_id: str
) -> None:
    code = plan_code(unique_id)
    unknown = await stack.http.post(f"/v1/plans/{code}/versions", json=design_plan(code))
    assert unknown.status_code == 404
    assert unknown.json()["error"]["type"] == "not_found"
    assert (await stack.http.get(f"/v1/plans/{code}")).status_code == 404

    v1 = await create_plan(stack, design_plan(code))
    other = plan_code(unique_id, "-other")
    mismatched = await stack.http.post(f"/v1/plans/{code}/versions", json=design_plan(other))
    assert mismatched.status_code == 400
    assert other in mismatched.json()["error"]["message"]
    assert (await stack.http.get(f"/v1/plans/{code}")).json() == v1
    assert (await stack.http.get(f"/v1/plans/{other}")).status_code == 404


async def test_a_customer_signs_up_on_the_latest_version(stack: Stack, unique_id: str) -> None:
    code = plan_code(unique_id)
    await create_plan(stack, design_plan(code))
    cheaper = design_plan(code)
    cheaper["prices"][0]["unit_amount"] = "0.000002"
    response = await stack.http.post(f"/v1/plans/{code}/versions", json=cheaper)
    assert response.status_code == 201

    customer = await signup(stack, unique_id, code)
    assert customer["plan"] == code
    assert customer["balance"]["currency"] == "USD"
    async with stack.db.session() as session:
        stored = (
            await session.exec(select(Customer).where(Customer.external_id == unique_id))
        ).one()
    assert (stored.plan_code, stored.plan_version) == (code, 2)

    # And the events are rated with version 2's price: 1,500 × 0.000002.
    await grant(stack, unique_id, "10.00")
    [result] = await send(stack, tokens("e1", unique_id, 1500))
    assert result == {"id": "e1", "status": "debited", "cost": "0.003", "balance_after": "9.997"}

    # A version added after signup does not move the customer.
    dearer = design_plan(code)
    dearer["prices"][0]["unit_amount"] = "0.00001"
    assert (await stack.http.post(f"/v1/plans/{code}/versions", json=dearer)).status_code == 201
    [later] = await send(stack, tokens("e2", unique_id, 1500))
    assert later["cost"] == "0.003"


async def test_the_wallet_currency_comes_from_the_plan(stack: Stack, unique_id: str) -> None:
    code = plan_code(unique_id)
    plan = await create_plan(stack, cad_plan(code))
    assert plan["currency"] == "CAD"
    customer = await signup(stack, unique_id, code)
    assert customer["balance"]["currency"] == "CAD"
    assert (await balance(stack, unique_id))["currency"] == "CAD"
    fetched = (await stack.http.get(f"/v1/customers/{unique_id}")).json()
    assert fetched["balance"]["currency"] == "CAD"


async def test_signup_on_an_unknown_plan_is_refused_and_creates_nothing(
    stack: Stack, unique_id: str
) -> None:
    code = plan_code(unique_id, "-missing")
    response = await stack.http.post(
        "/v1/customers",
        json={"external_id": unique_id, "name": "Jane", "email": "jane@example.com", "plan": code},
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "unknown_plan"
    assert code in error["message"]

    assert (await stack.http.get(f"/v1/customers/{unique_id}")).status_code == 404
    async with stack.db.session() as session:
        stored = (
            await session.exec(select(Customer).where(Customer.external_id == unique_id))
        ).all()
    assert stored == []
    with pytest.raises(RPCError) as raised:
        await stack.client.get_workflow_handle(customer_workflow_id(unique_id)).describe()
    assert raised.value.status == RPCStatusCode.NOT_FOUND
