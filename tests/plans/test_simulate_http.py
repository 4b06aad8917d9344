"""POST /v1/plans/{code}/simulate: real usage rated under another version, per customer and in
total, equal to rating the same usage directly with ``rate_period``."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from creditgate.ledger import tables as t
from creditgate.pricing.plan import PlanDefinition
from creditgate.statements.period_usage import SAMPLE_COLUMNS, Sample, rate_period, recorded_samples
from tests.api.support import create_plan, iso, send, signup, tokens
from tests.api.support import event as usage_event
from tests.plans.support import new_version
from tests.support.plans import design_plan, plan_code
from tests.support.stack import Stack


def dearer_images_cheaper_tail(code: str) -> dict[str, Any]:
    """The README's example plan with new prices: gpt-4o input 0.000003, small 0.05 per 1,000,
    images 0.05 for the first 10 then 0.02."""
    body = design_plan(code)
    body["prices"][0]["unit_amount"] = "0.000003"
    body["prices"][1]["unit_amount"] = "0.05"
    body["prices"][2]["tiers"] = [
        {"up_to": "10", "unit_amount": "0.05"},
        {"up_to": None, "unit_amount": "0.02"},
    ]
    return body


async def samples_of(
    stack: Stack, external_id: str, start: datetime, end: datetime
) -> list[Sample]:
    e, c = t.usage_events.c, t.customers.c
    async with stack.db.read_engine.connect() as conn:
        rows = await conn.execute(
            select(*SAMPLE_COLUMNS)
            .join_from(t.usage_events, t.customers, c.id == e.customer_id)
            .where(c.external_id == external_id, e.timestamp >= start, e.timestamp < end)
        )
        return recorded_samples(rows)


async def test_simulated_amounts_equal_rating_the_usage_directly(
    stack: Stack, unique_id: str
) -> None:
    code = plan_code(unique_id)
    await create_plan(stack, design_plan(code))
    alice, bob, carol = (f"{unique_id}-{n}" for n in ("alice", "bob", "carol"))
    for customer in (alice, bob, carol):
        await signup(stack, customer, code)
    now = datetime.now(UTC)
    await send(
        stack,
        tokens("a1", alice, 6000),
        tokens("a2", alice, 4000),
        tokens("a3", alice, 1500, model="small"),
        *(usage_event(f"a-img-{i}", alice, "image_generated") for i in range(12)),
        tokens("b1", bob, 2000, token_type="output"),  # no price matches: 0 under both
        usage_event("b-img", bob, "image_generated"),
        # Before the window: not simulated.
        {**tokens("c-old", carol, 1_000_000), "timestamp": iso(now - timedelta(hours=3))},
    )
    v2 = await new_version(stack, code, dearer_images_cheaper_tail(code))
    assert v2["version"] == 2
    other = plan_code(unique_id, "-other")
    await create_plan(stack, design_plan(other))
    await signup(stack, f"{unique_id}-elsewhere", other)
    await send(stack, tokens("e1", f"{unique_id}-elsewhere", 1000))

    start, end = now - timedelta(hours=1), now + timedelta(hours=1)
    response = await stack.http.post(
        f"/v1/plans/{code}/simulate", json={"version": 2, "from": iso(start), "to": iso(end)}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["plan"], body["version"], body["unit"]) == (code, 2, "USD")
    by_customer = {c["external_id"]: c for c in body["customers"]}
    assert set(by_customer) == {alice, bob, carol}

    # Literal amounts. Alice, version 1: 10,000 × 0.0000025 + 2 packages × 0.04 + 12 × 0.05
    # = 0.705; version 2: 10,000 × 0.000003 + 2 × 0.05 + 10 × 0.05 + 2 × 0.02 = 0.67.
    assert by_customer[alice] == {
        "external_id": alice,
        "current_version": 1,
        "current_amount": "0.705",
        "simulated_amount": "0.67",
        "difference": "-0.035",
        "events": 15,
        "unmeasured_events": 0,
    }
    assert (by_customer[bob]["current_amount"], by_customer[bob]["simulated_amount"]) == (
        "0.05",
        "0.05",
    )
    assert by_customer[bob]["difference"] == "0"
    assert (by_customer[carol]["current_amount"], by_customer[carol]["events"]) == ("0", 0)
    assert body["totals"] == {"current": "0.755", "simulated": "0.72", "difference": "-0.035"}

    # The same as rating the same usage directly.
    plans = {
        1: PlanDefinition.model_validate(design_plan(code)),
        2: PlanDefinition.model_validate(dearer_images_cheaper_tail(code)),
    }
    total_current = total_simulated = Decimal(0)
    for customer in (alice, bob, carol):
        samples = await samples_of(stack, customer, start, end)
        current = rate_period(plans[1], samples).total
        simulated = rate_period(plans[2], samples).total
        assert Decimal(by_customer[customer]["current_amount"]) == current
        assert Decimal(by_customer[customer]["simulated_amount"]) == simulated
        assert Decimal(by_customer[customer]["difference"]) == simulated - current
        total_current += current
        total_simulated += simulated
    assert Decimal(body["totals"]["current"]) == total_current
    assert Decimal(body["totals"]["simulated"]) == total_simulated


async def test_bad_simulations_are_4xx_json(stack: Stack, unique_id: str) -> None:
    code = plan_code(unique_id)
    await create_plan(stack, design_plan(code))
    now = datetime(2026, 11, 1, tzinfo=UTC)
    ok = {"version": 1, "from": iso(now), "to": iso(now + timedelta(days=30))}
    cases: list[tuple[str, Any, int, str]] = [
        ("nope-" + code[:90], ok, 404, "not_found"),
        (code, {**ok, "version": 7}, 404, "not_found"),
        (code, {**ok, "to": ok["from"]}, 400, "invalid_simulation"),
        (code, {**ok, "to": iso(now - timedelta(days=1))}, 400, "invalid_simulation"),
        (code, {**ok, "to": iso(now + timedelta(days=367))}, 400, "invalid_simulation"),
        (code, {**ok, "from": "2026-11-01T00:00:00"}, 422, "validation_error"),
        (code, {**ok, "from": "yesterday"}, 422, "validation_error"),
        (code, {**ok, "version": "1"}, 422, "validation_error"),
        (code, {**ok, "version": 0}, 422, "validation_error"),
        (code, {"version": 1}, 422, "validation_error"),
        (code, {**ok, "extra": 1}, 422, "validation_error"),
    ]
    for url_code, body, status, kind in cases:
        response = await stack.http.post(f"/v1/plans/{url_code}/simulate", json=body)
        assert response.status_code == status, (body, response.text)
        assert response.json()["error"]["type"] == kind, (body, response.text)
    response = await stack.http.post(f"/v1/plans/{code}/simulate", json=ok)
    assert response.status_code == 200, response.text
    assert response.json()["customers"] == []
    assert response.json()["totals"] == {"current": "0", "simulated": "0", "difference": "0"}
