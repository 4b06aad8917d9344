"""Spend alerts: ``balance.low`` once per downward crossing, from the debit transaction's
outbox, under concurrent writers; re-armed by a grant; bad input refused, changing nothing."""

import asyncio
from decimal import Decimal
from typing import Any

from tests.api.support import balance, event, grant, send
from tests.events.support import all_events, events_until, of_type
from tests.payments.support import customer_on
from tests.support.stack import Stack

WRITERS = 16


async def put_alerts(stack: Stack, external_id: str, body: Any) -> Any:
    return await stack.http.put(f"/v1/customers/{external_id}/alerts", json=body)


async def get_alerts(stack: Stack, external_id: str) -> dict[str, Any]:
    response = await stack.http.get(f"/v1/customers/{external_id}/alerts")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def burn(stack: Stack, external_id: str, prefix: str, calls: int) -> None:
    """``calls`` debits of 1, from 16 writers at once (each its own requests in a row)."""

    async def writer(w: int) -> None:
        for i in range(w, calls, WRITERS):
            await send(stack, event(f"{prefix}{i}", external_id, "api_call"))

    await asyncio.gather(*(writer(w) for w in range(WRITERS)))


def lows(events: list[dict[str, Any]]) -> list[str]:
    return [e["data"]["threshold"] for e in of_type(events, "balance.low")]


async def test_each_threshold_fires_once_per_crossing_under_concurrent_writers(
    stack: Stack, unique_id: str
) -> None:
    await customer_on(stack, unique_id)
    response = await put_alerts(
        stack, unique_id, {"thresholds": [{"amount": "50"}, {"amount": "20.5"}]}
    )
    assert response.status_code == 200, response.text
    assert response.json()["amounts"] == ["50", "20.5"]
    await grant(stack, unique_id, "100")

    await burn(stack, unique_id, "a", 90)  # 100 → 10: past 50 and 20.5, once each
    events = await events_until(stack, unique_id, ["balance.low"] * 2)
    assert sorted(lows(events)) == ["20.5", "50"]
    fifty = next(e for e in of_type(events, "balance.low") if e["data"]["threshold"] == "50")
    # The figures as the crossing transaction left them (it may batch several writers'
    # debits): at or below 50, and its last debit.
    assert 50 - WRITERS <= Decimal(fifty["data"]["available"]) <= 50
    assert (fifty["data"]["held"], fifty["data"]["debt"]) == ("0", "0")
    assert fifty["data"]["entry"]["kind"] == "debit"
    assert fifty["data"]["entry"]["event_id"].startswith("a")

    # A grant lifts available above 50 again (re-arming it, not 20.5); burning past it fires it
    # once more.
    await grant(stack, unique_id, "45")  # 10 → 55
    await burn(stack, unique_id, "b", 10)  # 55 → 45
    events = await events_until(stack, unique_id, ["balance.low"] * 3)
    assert sorted(lows(events)) == ["20.5", "50", "50"]
    assert (await balance(stack, unique_id))["available"] == "45"
    # Nothing more is on its way: the last event stays the last.
    assert len(await all_events(stack, unique_id)) == len(events)


async def test_percentages_resolve_against_the_last_grant(stack: Stack, unique_id: str) -> None:
    await customer_on(stack, unique_id)
    response = await put_alerts(
        stack, unique_id, {"thresholds": [{"percent": "25"}, {"amount": "1"}]}
    )
    assert response.status_code == 200, response.text
    assert (response.json()["amounts"], response.json()["base"]) == (["1"], None)
    await grant(stack, unique_id, "40")
    alerts = await get_alerts(stack, unique_id)
    assert (alerts["amounts"], alerts["base"]) == (["10", "1"], "40")
    assert alerts["thresholds"] == [{"percent": "25"}, {"amount": "1"}]
    await burn(stack, unique_id, "p", 31)  # 40 → 9
    events = await events_until(stack, unique_id, ["balance.low"])
    assert lows(events) == ["10"]


async def test_the_plans_default_applies_until_the_customer_sets_their_own(
    stack: Stack, unique_id: str
) -> None:
    await customer_on(stack, unique_id, alerts=[{"amount": "3"}])
    alerts = await get_alerts(stack, unique_id)
    assert alerts["amounts"] == ["3"]
    await grant(stack, unique_id, "5")
    await burn(stack, unique_id, "d", 3)  # 5 → 2
    events = await events_until(stack, unique_id, ["balance.low"])
    assert lows(events) == ["3"]


async def test_bad_thresholds_are_4xx_and_change_nothing(stack: Stack, unique_id: str) -> None:
    await customer_on(stack, unique_id)
    good = {"thresholds": [{"amount": "5"}, {"percent": "10"}]}
    assert (await put_alerts(stack, unique_id, good)).status_code == 200
    before = await get_alerts(stack, unique_id)
    bad: list[Any] = [
        {"thresholds": [{"amount": "-5"}]},
        {"thresholds": [{"amount": 5.5}]},
        {"thresholds": [{"amount": "0"}]},
        {"thresholds": [{"percent": "0"}]},
        {"thresholds": [{"percent": "100.01"}]},
        {"thresholds": [{"amount": "5", "percent": "5"}]},
        {"thresholds": [{}]},
        {"thresholds": [{"amount": "5"}, {"amount": "5.00"}]},
        {"thresholds": [{"amount": str(n + 1)} for n in range(11)]},
        {"thresholds": [{"amount": "1e3"}]},
        {"thresholds": "5"},
        {"amounts": ["5"]},
        [],
    ]
    for body in bad:
        response = await put_alerts(stack, unique_id, body)
        assert 400 <= response.status_code < 500, (body, response.text)
        error = response.json()["error"]
        assert error["type"] and error["message"], body
    assert await get_alerts(stack, unique_id) == before
    unknown = await put_alerts(stack, f"{unique_id}-nobody", good)
    assert unknown.status_code == 404 and unknown.json()["error"]["type"] == "not_found"
    assert (await stack.http.get(f"/v1/customers/{unique_id}-nobody/events")).status_code == 404
    for params in ({"after": -1}, {"limit": 0}, {"limit": 501}, {"after": "x"}):
        response = await stack.http.get(f"/v1/customers/{unique_id}/events", params=params)
        assert response.status_code == 422, (params, response.text)
