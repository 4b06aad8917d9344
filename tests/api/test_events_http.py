"""Usage events over HTTP: seed prices to the last digit, batches, duplicates, rejections, debt."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from creditgate.checks.ledger import check
from tests.api.support import (
    balance,
    create_plan,
    event,
    grant,
    iso,
    ledger,
    send,
    signup,
    signup_many,
    tokens,
)
from tests.support.plans import cad_plan, design_plan, plan_code, rate_card_plan
from tests.support.stack import Stack


async def customer_on(stack: Stack, unique_id: str, plan: dict[str, Any]) -> str:
    await create_plan(stack, plan)
    await signup(stack, unique_id, plan["code"])
    return unique_id


async def test_rate_card_prices_are_exact(stack: Stack, unique_id: str) -> None:
    jane = await customer_on(stack, unique_id, rate_card_plan(plan_code(unique_id)))
    await grant(stack, jane, "10.00")
    results = await send(
        stack,
        # The README's example, to the digit.
        tokens("in", jane, 1500, "gpt-4o", "input"),
        tokens("out", jane, 1000, "gpt-4o", "output"),
        # 0.04 per 1,000 tokens, pro rata in real time.
        tokens("small", jane, 1500, "small", "input"),
        event("img1", jane, "image_generated"),
        event("img2", jane, "image_generated"),
        # No price for this model: recorded at zero cost, still debited.
        tokens("free", jane, 5000, "llama-3", "input"),
        # Quantities may be decimal strings too.
        tokens("str", jane, "400", "gpt-4o", "input"),
    )
    assert results == [
        {"id": "in", "status": "debited", "cost": "0.00375", "balance_after": "9.99625"},
        {"id": "out", "status": "debited", "cost": "0.01", "balance_after": "9.98625"},
        {"id": "small", "status": "debited", "cost": "0.06", "balance_after": "9.92625"},
        {"id": "img1", "status": "debited", "cost": "0.05", "balance_after": "9.87625"},
        {"id": "img2", "status": "debited", "cost": "0.05", "balance_after": "9.82625"},
        {"id": "free", "status": "debited", "cost": "0", "balance_after": "9.82625"},
        {"id": "str", "status": "debited", "cost": "0.001", "balance_after": "9.82525"},
    ]
    current = await balance(stack, jane)
    assert {k: current[k] for k in ("available", "held", "debt", "entitled", "currency")} == {
        "available": "9.82525",
        "held": "0",
        "debt": "0",
        "entitled": True,
        "currency": "USD",
    }
    assert [g["remaining"] for g in current["grants"]] == ["9.82525"]

    entries = await ledger(stack, jane)
    assert [(e["kind"], e["amount"], e["event_id"]) for e in reversed(entries)] == [
        ("grant", "10", None),
        ("debit", "-0.00375", "in"),
        ("debit", "-0.01", "out"),
        ("debit", "-0.06", "small"),
        ("debit", "-0.05", "img1"),
        ("debit", "-0.05", "img2"),
        ("debit", "0", "free"),
        ("debit", "-0.001", "str"),
    ]
    assert entries[0]["balance_after"] == "9.82525"
    assert await check(stack.db) == []


async def test_package_price_in_cad(stack: Stack, unique_id: str) -> None:
    pierre = await customer_on(stack, unique_id, cad_plan(plan_code(unique_id)))
    await grant(stack, pierre, "1.00")
    [result] = await send(stack, tokens("e1", pierre, 250, "any", "input"))
    # 0.04 CAD per 100 tokens: 250 tokens are 0.1 CAD.
    assert result == {"id": "e1", "status": "debited", "cost": "0.1", "balance_after": "0.9"}
    current = await balance(stack, pierre)
    assert (current["available"], current["currency"]) == ("0.9", "CAD")


async def test_graduated_tiers_carry_across_batches(stack: Stack, unique_id: str) -> None:
    jane = await customer_on(stack, unique_id, design_plan(plan_code(unique_id)))
    await grant(stack, jane, "10.00")
    first = await send(stack, *(event(f"a{i}", jane, "image_generated") for i in range(90)))
    assert {r["cost"] for r in first} == {"0.05"}
    assert sum(Decimal(r["cost"]) for r in first) == Decimal("4.5")
    assert first[-1]["balance_after"] == "5.5"

    # 10 more at 0.05 reach the first tier's 100; the other 50 cost 0.03 each.
    second = await send(stack, *(event(f"b{i}", jane, "image_generated") for i in range(60)))
    assert [r["cost"] for r in second] == ["0.05"] * 10 + ["0.03"] * 50
    assert sum(Decimal(r["cost"]) for r in second) == Decimal("2")
    assert second[-1]["balance_after"] == "3.5"
    assert (await balance(stack, jane))["available"] == "3.5"

    usage = await stack.http.get(f"/v1/customers/{jane}/usage")
    assert usage.status_code == 200, usage.text
    lines = usage.json()["usage"]
    assert [(u["meter"], u["quantity"], u["cost"], u["events"]) for u in lines] == [
        ("images", "150", "6.5", 150)
    ]
    assert await check(stack.db) == []


async def test_a_batch_takes_up_to_1000_events_in_order(stack: Stack, unique_id: str) -> None:
    jane = await customer_on(stack, unique_id, rate_card_plan(plan_code(unique_id)))
    await grant(stack, jane, "100.00")
    batch = [event(f"img-{i:04}", jane, "image_generated") for i in range(1000)]
    results = await send(stack, *batch)
    assert [r["status"] for r in results] == ["debited"] * 1000
    assert results[0]["balance_after"] == "99.95"
    assert results[499]["balance_after"] == "75"
    assert results[-1]["balance_after"] == "50"
    assert {r["cost"] for r in results} == {"0.05"}
    before = await ledger(stack, jane)
    assert len(before) == 1001

    too_many = [event(f"more-{i:04}", jane, "image_generated") for i in range(1001)]
    response = await stack.http.post("/v1/events", json={"events": too_many})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["type"] == "validation_error"
    assert "events" in response.json()["error"]["message"]
    assert (await balance(stack, jane))["available"] == "50"
    assert await ledger(stack, jane) == before
    # None of the refused batch was recorded: its first id is still new.
    [later] = await send(stack, event("more-0000", jane, "image_generated"))
    assert later["status"] == "debited"


async def test_duplicates_move_no_money(stack: Stack, unique_id: str) -> None:
    jane = await customer_on(stack, unique_id, rate_card_plan(plan_code(unique_id)))
    await grant(stack, jane, "10.00")
    results = await send(
        stack,
        tokens("e1", jane, 1500),
        tokens("e1", jane, 1500),
        event("img", jane, "image_generated"),
        # Same id, different body: still the first event's duplicate.
        tokens("e1", jane, 999_999),
    )
    assert results == [
        {"id": "e1", "status": "debited", "cost": "0.00375", "balance_after": "9.99625"},
        {"id": "e1", "status": "duplicate", "cost": "0.00375", "balance_after": "9.99625"},
        {"id": "img", "status": "debited", "cost": "0.05", "balance_after": "9.94625"},
        {"id": "e1", "status": "duplicate", "cost": "0.00375", "balance_after": "9.94625"},
    ]
    before = await ledger(stack, jane)

    again = await send(stack, tokens("e1", jane, 1500), event("img", jane, "image_generated"))
    assert again == [
        {"id": "e1", "status": "duplicate", "cost": "0.00375", "balance_after": "9.94625"},
        {"id": "img", "status": "duplicate", "cost": "0.05", "balance_after": "9.94625"},
    ]
    assert await ledger(stack, jane) == before
    assert (await balance(stack, jane))["available"] == "9.94625"
    assert await check(stack.db) == []


async def test_rejected_events_say_why_and_move_nothing(stack: Stack, unique_id: str) -> None:
    jane = await customer_on(stack, unique_id, rate_card_plan(plan_code(unique_id)))
    await grant(stack, jane, "10.00")
    before_balance = await balance(stack, jane)
    before_ledger = await ledger(stack, jane)
    now = datetime.now(UTC)
    ghost = f"{unique_id}-ghost"

    def at(moment: datetime, event_id: str) -> dict[str, Any]:
        return {**tokens(event_id, jane, 1000), "timestamp": iso(moment)}

    bad = {
        "ghost": (tokens("ghost", ghost, 1000), "unknown customer"),
        "type": (event("type", jane, "video_seconds", seconds=3), "unknown event type"),
        "missing": (event("missing", jane, "tokens", model="gpt-4o"), "missing"),
        "negative": (tokens("negative", jane, -5), "negative"),
        "nan": (tokens("nan", jane, "NaN"), "not a number"),
        "infinity": (tokens("infinity", jane, "Infinity"), "not a number"),
        "abc": (tokens("abc", jane, "abc"), "not a number"),
        "bool": (tokens("bool", jane, True), "boolean"),
        "object": (tokens("object", jane, {"n": 1}), "must be a number"),
        "huge": (tokens("huge", jane, 10**16), "huge"),
        "huge-string": (tokens("huge-string", jane, "1e30"), "huge"),
        "decimals": (tokens("decimals", jane, "0." + "1" * 19), "decimal places"),
        "future": (at(now + timedelta(minutes=10), "future"), "future"),
        "old": (at(now - timedelta(days=40), "old"), "older than"),
        "year-10000": (
            {**tokens("year-10000", jane, 1), "timestamp": "9999-12-31T23:59:59-12:00"},
            "future",
        ),
        "year-0": (
            {**tokens("year-0", jane, 1), "timestamp": "0001-01-01T00:00:00+14:00"},
            "older",
        ),
    }
    results = await send(stack, *(body for body, _ in bad.values()))
    for result, (name, (_, why)) in zip(results, bad.items(), strict=True):
        assert result["id"] == name
        assert result["status"] == "rejected", result
        assert why in result["reason"], result
        assert "cost" not in result and "balance_after" not in result, result
    assert ghost in results[0]["reason"]

    assert await balance(stack, jane) == before_balance
    assert await ledger(stack, jane) == before_ledger
    assert (await stack.http.get(f"/v1/customers/{ghost}")).status_code == 404

    # A rejected id was not recorded: sent again, fixed, it is debited.
    [fixed] = await send(stack, tokens("negative", jane, 1000))
    assert fixed == {
        "id": "negative",
        "status": "debited",
        "cost": "0.0025",
        "balance_after": "9.9975",
    }


async def test_a_batch_mixes_customers_and_outcomes_in_order(stack: Stack, unique_id: str) -> None:
    code = plan_code(unique_id)
    await create_plan(stack, rate_card_plan(code))
    jane, john = f"{unique_id}-jane", f"{unique_id}-john"
    await signup_many(stack, [jane, john], code)
    await grant(stack, jane, "1.00")
    await grant(stack, john, "2.00")
    results = await send(
        stack,
        event("x1", jane, "image_generated"),
        event("x1", john, "image_generated"),  # ids are unique per customer
        event("x2", f"{unique_id}-nobody", "image_generated"),
        event("x2", jane, "image_generated"),
        event("x1", jane, "image_generated"),
        tokens("x3", john, -1),
    )
    assert [(r["id"], r["status"], r.get("balance_after")) for r in results] == [
        ("x1", "debited", "0.95"),
        ("x1", "debited", "1.95"),
        ("x2", "rejected", None),
        ("x2", "debited", "0.9"),
        ("x1", "duplicate", "0.9"),
        ("x3", "rejected", None),
    ]
    assert (await balance(stack, jane))["available"] == "0.9"
    assert (await balance(stack, john))["available"] == "1.95"


async def test_overdraw_leaves_debt_and_a_grant_pays_it_first(stack: Stack, unique_id: str) -> None:
    jane = await customer_on(stack, unique_id, rate_card_plan(plan_code(unique_id)))
    first = await grant(stack, jane, "0.10")
    hold = await stack.http.post(f"/v1/customers/{jane}/holds", json={"amount": "0.05"})
    assert hold.status_code == 201, hold.text

    results = await send(stack, *(event(f"img{i}", jane, "image_generated") for i in range(3)))
    assert [(r["status"], r["cost"], r["balance_after"]) for r in results] == [
        ("debited", "0.05", "0.05"),
        ("debited", "0.05", "0"),
        ("debited", "0.05", "-0.05"),
    ]
    # available = Σ remaining of grants − debt − held = 0 − 0.05 − 0.05
    current = await balance(stack, jane)
    assert current == {
        "available": "-0.1",
        "held": "0.05",
        "debt": "0.05",
        "entitled": False,
        "currency": "USD",
        "grants": [],
    }
    customer = (await stack.http.get(f"/v1/customers/{jane}")).json()
    assert customer["status"] == "cut_off"
    assert customer["balance"] == {k: v for k, v in current.items() if k != "grants"}

    # Usage that already happened is still recorded while cut off.
    [more] = await send(stack, event("img3", jane, "image_generated"))
    assert (more["status"], more["balance_after"]) == ("debited", "-0.1")

    paid = await grant(stack, jane, "1.00")
    assert paid["amount"] == "1"
    assert paid["remaining"] == "0.9"  # 1.00 − 0.10 of debt
    assert paid["id"] != first["id"]
    current = await balance(stack, jane)
    assert {k: current[k] for k in ("available", "held", "debt", "entitled")} == {
        "available": "0.85",
        "held": "0.05",
        "debt": "0",
        "entitled": True,
    }
    assert [(g["id"], g["remaining"]) for g in current["grants"]] == [(paid["id"], "0.9")]
    customer = (await stack.http.get(f"/v1/customers/{jane}")).json()
    assert customer["status"] == "active"
    [entry] = [e for e in await ledger(stack, jane) if e["grant_id"] == paid["id"]]
    assert (entry["kind"], entry["amount"], entry["balance_after"]) == ("grant", "1", "0.9")
    assert "debt" in entry["description"]
    assert await check(stack.db) == []
