"""Holds, grants, the ledger and usage summaries over HTTP."""

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from creditgate.checks.ledger import check
from tests.api.support import balance, create_plan, event, grant, iso, ledger, send, signup, tokens
from tests.support.plans import plan_code, rate_card_plan
from tests.support.stack import Stack
from tests.support.waiting import eventually


async def funded(stack: Stack, unique_id: str, amount: str | None = "10.00") -> str:
    """A customer on a fresh rate-card plan, with a grant of ``amount``."""
    code = plan_code(unique_id)
    await create_plan(stack, rate_card_plan(code))
    await signup(stack, unique_id, code)
    if amount is not None:
        await grant(stack, unique_id, amount)
    return unique_id


def money(body: dict[str, Any]) -> tuple[str, str, str]:
    return body["available"], body["held"], body["debt"]


async def post_hold(stack: Stack, customer: str, **body: Any) -> dict[str, Any]:
    response = await stack.http.post(f"/v1/customers/{customer}/holds", json=body)
    assert response.status_code == 201, response.text
    hold: dict[str, Any] = response.json()
    return hold


# -- holds -------------------------------------------------------------------------------------


async def test_hold_settle_and_release(stack: Stack, unique_id: str) -> None:
    jane = await funded(stack, unique_id)
    hold = await post_hold(stack, jane, amount="1.00")
    assert hold["id"].startswith("hold_")
    assert (hold["customer"], hold["amount"], hold["remaining"], hold["status"]) == (
        jane,
        "1",
        "1",
        "active",
    )
    created = datetime.fromisoformat(hold["created_at"])
    assert datetime.fromisoformat(hold["expires_at"]) - created == timedelta(seconds=600)
    assert money(await balance(stack, jane)) == ("9", "1", "0")
    fetched = await stack.http.get(f"/v1/holds/{hold['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == hold

    settle = {**tokens("e1", jane, 1500), "hold_id": hold["id"]}
    [result] = await send(stack, settle)
    assert result == {
        "id": "e1",
        "status": "debited",
        "cost": "0.00375",
        "balance_after": "9.99625",
    }
    after = (await stack.http.get(f"/v1/holds/{hold['id']}")).json()
    assert (after["remaining"], after["status"]) == ("0.99625", "active")
    # The settled part left the hold and the balance; available did not move.
    assert money(await balance(stack, jane)) == ("9", "0.99625", "0")
    [entry] = [e for e in await ledger(stack, jane) if e["event_id"] == "e1"]
    assert (entry["hold_id"], entry["amount"]) == (hold["id"], "-0.00375")

    released = await stack.http.post(f"/v1/holds/{hold['id']}/release")
    assert released.status_code == 200, released.text
    body = released.json()
    assert (body["id"], body["status"], body["remaining"], body["amount"]) == (
        hold["id"],
        "released",
        "0",
        "1",
    )
    assert money(await balance(stack, jane)) == ("9.99625", "0", "0")
    assert (await stack.http.get(f"/v1/holds/{hold['id']}")).json() == body
    # Releasing again changes nothing.
    again = await stack.http.post(f"/v1/holds/{hold['id']}/release")
    assert again.status_code == 200
    assert again.json() == body
    # An event naming a released hold is still debited, from the grants.
    [late] = await send(stack, {**tokens("e2", jane, 1000), "hold_id": hold["id"]})
    assert (late["status"], late["cost"], late["balance_after"]) == ("debited", "0.0025", "9.99375")
    assert money(await balance(stack, jane)) == ("9.99375", "0", "0")
    assert await check(stack.db) == []


async def test_usage_beyond_a_hold_settles_what_it_has(stack: Stack, unique_id: str) -> None:
    jane = await funded(stack, unique_id, "1.00")
    hold = await post_hold(stack, jane, amount="0.03")
    results = await send(
        stack,
        {**event("i1", jane, "image_generated"), "hold_id": hold["id"]},
        {**event("i2", jane, "image_generated"), "hold_id": hold["id"]},
    )
    assert [r["balance_after"] for r in results] == ["0.95", "0.9"]
    after = (await stack.http.get(f"/v1/holds/{hold['id']}")).json()
    assert after["remaining"] == "0"
    assert money(await balance(stack, jane)) == ("0.9", "0", "0")
    assert await check(stack.db) == []


async def test_uncovered_hold_is_a_402(stack: Stack, unique_id: str) -> None:
    jane = await funded(stack, unique_id, "1.00")
    before = await balance(stack, jane)
    response = await stack.http.post(f"/v1/customers/{jane}/holds", json={"amount": "1.01"})
    assert response.status_code == 402, response.text
    error = response.json()["error"]
    assert error["type"] == "insufficient_funds"
    assert "1.01" in error["message"]
    assert await balance(stack, jane) == before
    # Exactly what is available can be held.
    await post_hold(stack, jane, amount="1.00")
    nothing_left = await stack.http.post(f"/v1/customers/{jane}/holds", json={"amount": "0.01"})
    assert nothing_left.status_code == 402


async def test_estimate_hold_is_the_price_of_the_event(stack: Stack, unique_id: str) -> None:
    jane = await funded(stack, unique_id)
    output = await post_hold(
        stack,
        jane,
        event_type="tokens",
        properties={"count": 2000, "model": "gpt-4o", "token_type": "output"},
    )
    assert output["amount"] == "0.02"  # 2,000 × 0.00001
    small = await post_hold(
        stack, jane, event_type="tokens", properties={"count": 1500, "model": "small"}
    )
    assert small["amount"] == "0.06"
    image = await post_hold(stack, jane, event_type="image_generated")
    assert image["amount"] == "0.05"
    assert money(await balance(stack, jane)) == ("9.87", "0.13", "0")

    [settled] = await send(
        stack,
        {**tokens("out", jane, 2000, "gpt-4o", "output"), "hold_id": output["id"]},
    )
    assert settled["cost"] == "0.02"
    assert (await stack.http.get(f"/v1/holds/{output['id']}")).json()["remaining"] == "0"
    assert money(await balance(stack, jane)) == ("9.87", "0.11", "0")

    unknown = await stack.http.post(
        f"/v1/customers/{jane}/holds", json={"event_type": "video", "properties": {}}
    )
    assert unknown.status_code == 400
    assert "video" in unknown.json()["error"]["message"]
    unpriced = await stack.http.post(
        f"/v1/customers/{jane}/holds",
        json={"event_type": "tokens", "properties": {"count": 5, "model": "llama"}},
    )
    assert unpriced.status_code == 400
    assert "price" in unpriced.json()["error"]["message"]
    assert money(await balance(stack, jane)) == ("9.87", "0.11", "0")


async def test_unknown_and_foreign_holds(stack: Stack, unique_id: str) -> None:
    jane = await funded(stack, unique_id)
    missing = await stack.http.post("/v1/holds/hold_doesnotexist/release")
    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "not_found"
    assert (await stack.http.get("/v1/holds/hold_doesnotexist")).status_code == 404

    john = f"{unique_id}-john"
    await signup(stack, john, plan_code(unique_id))
    await grant(stack, john, "1.00")
    johns = await post_hold(stack, john, amount="0.50")
    before = await ledger(stack, jane)
    results = await send(
        stack,
        {**event("a", jane, "image_generated"), "hold_id": "hold_doesnotexist"},
        {**event("b", jane, "image_generated"), "hold_id": johns["id"]},
    )
    assert [r["status"] for r in results] == ["rejected", "rejected"]
    assert all("unknown hold" in r["reason"] for r in results)
    assert await ledger(stack, jane) == before
    assert (await stack.http.get(f"/v1/holds/{johns['id']}")).json()["remaining"] == "0.5"


async def test_concurrent_holds_never_exceed_available(stack: Stack, unique_id: str) -> None:
    jane = await funded(stack, unique_id, "5.00")
    responses = await asyncio.gather(
        *(
            stack.http.post(f"/v1/customers/{jane}/holds", json={"amount": "1.00"})
            for _ in range(20)
        )
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] * 5 + [402] * 15, [r.text for r in responses if r.status_code >= 500]
    refused = [r.json()["error"]["type"] for r in responses if r.status_code == 402]
    assert refused == ["insufficient_funds"] * 15
    assert money(await balance(stack, jane)) == ("0", "5", "0")
    assert await check(stack.db) == []


async def test_a_hold_past_its_ttl_gives_its_funds_back(stack: Stack, unique_id: str) -> None:
    jane = await funded(stack, unique_id, "1.00")
    hold = await post_hold(stack, jane, amount="0.40", ttl_seconds=1)
    assert money(await balance(stack, jane)) == ("0.6", "0.4", "0")

    async def status() -> str:
        response = await stack.http.get(f"/v1/holds/{hold['id']}")
        value: str = response.json()["status"]
        return value

    await eventually(status, lambda s: s == "expired", what="the hold to expire")
    assert money(await balance(stack, jane)) == ("1", "0", "0")


# -- grants ------------------------------------------------------------------------------------


async def test_burn_down_follows_priority_then_expiry_then_age(
    stack: Stack, unique_id: str
) -> None:
    jane = await funded(stack, unique_id, None)
    now = datetime.now(UTC)
    never = await grant(stack, jane, "1.00", reason="never expires")
    later = await grant(stack, jane, "1.00", expires_at=iso(now + timedelta(days=30)))
    urgent = await grant(stack, jane, "1.00", priority=5, expires_at=iso(now + timedelta(days=60)))
    soon = await grant(stack, jane, "1.00", expires_at=iso(now + timedelta(days=10)))
    never2 = await grant(stack, jane, "1.00", reason="also never, but younger")
    assert urgent["priority"] == 5 and never["priority"] == 10
    assert never["source"] == "promotional" and never["status"] == "active"

    async def remaining() -> dict[int, str]:
        return {g["id"]: g["remaining"] for g in (await balance(stack, jane))["grants"]}

    assert await remaining() == {g["id"]: "1" for g in (never, later, urgent, soon, never2)}

    # 30 images at 0.05 = 1.50: all of the priority-5 grant, then the earliest expiry.
    await send(stack, *(event(f"a{i}", jane, "image_generated") for i in range(30)))
    assert await remaining() == {
        never["id"]: "1",
        later["id"]: "1",
        soon["id"]: "0.5",
        never2["id"]: "1",
    }
    # 1.00 more: the rest of "soon", then half of "later".
    await send(stack, *(event(f"b{i}", jane, "image_generated") for i in range(20)))
    assert await remaining() == {never["id"]: "1", later["id"]: "0.5", never2["id"]: "1"}
    # 1.00 more: "later", then the oldest never-expiring grant.
    await send(stack, *(event(f"c{i}", jane, "image_generated") for i in range(20)))
    assert await remaining() == {never["id"]: "0.5", never2["id"]: "1"}
    assert (await balance(stack, jane))["available"] == "1.5"
    # One debit can span grants: 100,000 output tokens cost 1.00.
    [spanning] = await send(stack, tokens("d", jane, 100_000, "gpt-4o", "output"))
    assert (spanning["cost"], spanning["balance_after"]) == ("1", "0.5")
    assert await remaining() == {never2["id"]: "0.5"}

    debits = {e["event_id"]: e["allocations"] for e in await ledger(stack, jane) if e["event_id"]}
    assert debits["a19"] == [{"grant_id": urgent["id"], "amount": "0.05"}]
    assert debits["a20"] == [{"grant_id": soon["id"], "amount": "0.05"}]
    assert debits["b9"] == [{"grant_id": soon["id"], "amount": "0.05"}]
    assert debits["b10"] == [{"grant_id": later["id"], "amount": "0.05"}]
    assert debits["c10"] == [{"grant_id": never["id"], "amount": "0.05"}]
    assert debits["d"] == [
        {"grant_id": never["id"], "amount": "0.5"},
        {"grant_id": never2["id"], "amount": "0.5"},
    ]
    assert await check(stack.db) == []


async def test_idempotency_key_grants_once(stack: Stack, unique_id: str) -> None:
    jane = await funded(stack, unique_id, None)
    url = f"/v1/customers/{jane}/grants"
    key = {"Idempotency-Key": f"welcome-{unique_id}"}
    first = await stack.http.post(url, json={"amount": "10.00", "reason": "welcome"}, headers=key)
    assert first.status_code == 201, first.text
    assert (first.json()["amount"], first.json()["remaining"]) == ("10", "10")
    repeat = await stack.http.post(url, json={"amount": "10.00", "reason": "welcome"}, headers=key)
    assert repeat.status_code == 200, repeat.text
    assert repeat.json() == first.json()
    # Same key, different body: still the first grant, nothing more credited.
    other_body = await stack.http.post(url, json={"amount": "99.00"}, headers=key)
    assert other_body.status_code == 200
    assert other_body.json() == first.json()
    assert (await balance(stack, jane))["available"] == "10"
    assert [e["kind"] for e in await ledger(stack, jane)] == ["grant"]

    other_key = await stack.http.post(
        url, json={"amount": "10.00"}, headers={"Idempotency-Key": f"second-{unique_id}"}
    )
    assert other_key.status_code == 201
    assert (await balance(stack, jane))["available"] == "20"
    # The longest key the API takes (it is stored as "api:<key>" in 200 characters).
    longest = {"Idempotency-Key": "k" * 196}
    made = await stack.http.post(url, json={"amount": "1"}, headers=longest)
    assert made.status_code == 201, made.text
    made_again = await stack.http.post(url, json={"amount": "1"}, headers=longest)
    assert (made_again.status_code, made_again.json()) == (200, made.json())
    assert (await balance(stack, jane))["available"] == "21"
    assert await check(stack.db) == []


async def test_grant_expiring_in_the_past_is_refused(stack: Stack, unique_id: str) -> None:
    jane = await funded(stack, unique_id)
    before_balance, before_ledger = await balance(stack, jane), await ledger(stack, jane)
    past = iso(datetime.now(UTC) - timedelta(hours=1))
    response = await stack.http.post(
        f"/v1/customers/{jane}/grants", json={"amount": "5.00", "expires_at": past}
    )
    assert 400 <= response.status_code < 500, response.text
    assert "expires_at" in response.json()["error"]["message"]
    assert await balance(stack, jane) == before_balance
    assert await ledger(stack, jane) == before_ledger


async def test_ledger_pages_newest_first(stack: Stack, unique_id: str) -> None:
    jane = await funded(stack, unique_id, "1.00")
    await send(stack, *(event(f"e{i}", jane, "image_generated") for i in range(6)))
    everything = await ledger(stack, jane)
    assert len(everything) == 7
    ids = [e["id"] for e in everything]
    assert ids == sorted(ids, reverse=True)
    assert [e["event_id"] for e in everything] == ["e5", "e4", "e3", "e2", "e1", "e0", None]
    assert [e["balance_after"] for e in everything] == [
        "0.7",
        "0.75",
        "0.8",
        "0.85",
        "0.9",
        "0.95",
        "1",
    ]

    url = f"/v1/customers/{jane}/ledger"
    pages: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 3}
    while True:
        page = (await stack.http.get(url, params=params)).json()
        pages.append(page)
        if not page["has_more"]:
            break
        params["starting_after"] = page["next_starting_after"]
    assert [len(p["data"]) for p in pages] == [3, 3, 1]
    assert [p["has_more"] for p in pages] == [True, True, False]
    assert [p["next_starting_after"] for p in pages] == [ids[2], ids[5], None]
    assert [e for p in pages for e in p["data"]] == everything

    exact = (await stack.http.get(url, params={"limit": 7})).json()
    assert (len(exact["data"]), exact["has_more"], exact["next_starting_after"]) == (7, False, None)
    past_the_end = (await stack.http.get(url, params={"starting_after": ids[-1]})).json()
    assert past_the_end == {"data": [], "has_more": False, "next_starting_after": None}


async def test_usage_summary_matches_the_events(stack: Stack, unique_id: str) -> None:
    jane = await funded(stack, unique_id)
    now = datetime.now(UTC).replace(microsecond=0)
    hours = [now - timedelta(hours=h) for h in (4, 3, 2, 1)]

    def at(body: dict[str, Any], moment: datetime) -> dict[str, Any]:
        return {**body, "timestamp": iso(moment)}

    await send(
        stack,
        at(tokens("in", jane, 1000, "gpt-4o", "input"), hours[0]),
        at(tokens("out", jane, 500, "gpt-4o", "output"), hours[1]),
        # Any offset is fine: the window compares instants.
        {
            **tokens("small", jane, 2000, "small", "input"),
            "timestamp": hours[2].astimezone(timezone(timedelta(hours=5, minutes=30))).isoformat(),
        },
        at(event("img", jane, "image_generated"), hours[1]),
        at(tokens("in2", jane, 200, "gpt-4o", "input"), hours[3]),
    )
    url = f"/v1/customers/{jane}/usage"
    window = {"from": iso(now - timedelta(hours=5)), "to": iso(now)}

    def lines(body: dict[str, Any]) -> list[tuple[str, dict[str, str], str, str, int]]:
        return [
            (u["meter"], u["dimensions"], u["quantity"], u["cost"], u["events"])
            for u in body["usage"]
        ]

    full = await stack.http.get(url, params=window)
    assert full.status_code == 200, full.text
    assert lines(full.json()) == [
        ("images", {}, "1", "0.05", 1),
        ("tokens", {"model": "gpt-4o", "token_type": "input"}, "1200", "0.003", 2),
        ("tokens", {"model": "gpt-4o", "token_type": "output"}, "500", "0.005", 1),
        ("tokens", {"model": "small", "token_type": "input"}, "2000", "0.08", 1),
    ]
    assert full.json()["total_cost"] == "0.138"
    assert full.json()["currency"] == "USD"

    by_model = await stack.http.get(url, params={**window, "group_by": "model"})
    assert by_model.status_code == 200, by_model.text
    assert by_model.json()["group_by"] == ["model"]
    assert lines(by_model.json()) == [
        ("images", {}, "1", "0.05", 1),
        ("tokens", {"model": "gpt-4o"}, "1700", "0.008", 3),
        ("tokens", {"model": "small"}, "2000", "0.08", 1),
    ]
    assert by_model.json()["total_cost"] == "0.138"

    # [from, to): the 4-hour-old event is outside, the 1-hour-old one too.
    narrow = {"from": iso(hours[1]), "to": iso(hours[3]), "group_by": "token_type"}
    part = await stack.http.get(url, params=narrow)
    assert part.status_code == 200, part.text
    assert lines(part.json()) == [
        ("images", {}, "1", "0.05", 1),
        ("tokens", {"token_type": "input"}, "2000", "0.08", 1),
        ("tokens", {"token_type": "output"}, "500", "0.005", 1),
    ]
    assert part.json()["total_cost"] == "0.135"
