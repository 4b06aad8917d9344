"""Operator controls over real HTTP on both databases: corrections, voided grants, pause and
resume, each a ledger entry or status change that keeps ``creditgate check`` clean and is in
the audit log with the key's name."""

from decimal import Decimal
from typing import Any

import httpx
import pytest

from creditgate.checks.ledger import check
from tests.ledger.support import Ledger, serve_api


async def snapshot(ledger: Ledger) -> tuple[Any, ...]:
    """Everything an operator control may change for the customer."""
    customer, wallet = await ledger.account()
    grants = [(g.id, g.remaining, g.status) for g in await ledger.grants()]
    entries = [(e.kind, e.amount) for e in await ledger.entries()]
    return customer.status, wallet.balance, wallet.entitled, grants, entries


async def audited(http: httpx.AsyncClient) -> list[tuple[str, str, str]]:
    log = (await http.get("/v1/audit-log")).json()["entries"]
    return [(e["actor"], e["action"], e["target"]) for e in reversed(log)]


async def test_credit_and_debit_adjustments_are_ledger_entries(ledger: Ledger) -> None:
    who = ledger.customer
    await ledger.grant("10")
    async with serve_api(ledger) as http:
        credit = await http.post(
            f"/v1/customers/{who}/adjustments", json={"amount": "5.00", "reason": "goodwill"}
        )
        debit = await http.post(
            f"/v1/customers/{who}/adjustments", json={"amount": "-12.5", "reason": "double credit"}
        )
        to_zero = await http.post(
            f"/v1/customers/{who}/adjustments", json={"amount": "-2.5", "reason": "correction"}
        )
        before = await snapshot(ledger)
        beyond = await http.post(
            f"/v1/customers/{who}/adjustments", json={"amount": "-0.01", "reason": "too far"}
        )
        after = await snapshot(ledger)
        log = await audited(http)

    assert credit.status_code == 201, credit.text
    assert credit.json()["balance"] == "15" and credit.json()["grant_id"] is not None
    assert debit.status_code == 201 and debit.json() == {
        "amount": "-12.5",
        "balance": "2.5",
        "grant_id": None,
    }
    # A debit adjustment to zero cuts the customer off through the same crossing as usage.
    assert to_zero.status_code == 201 and to_zero.json()["balance"] == "0"
    assert beyond.status_code == 409
    assert beyond.json()["error"]["type"] == "credit_limit_exceeded"
    assert after == before
    status, balance, entitled, grants, entries = after
    assert (status, balance, entitled) == ("cut_off", 0, False)
    assert all(remaining == 0 for _, remaining, _ in grants)
    assert [k for k, _ in entries] == ["grant", "adjustment", "adjustment", "adjustment"]
    assert "zero" in await ledger.outbox()
    adjustment = (await ledger.grants())[-1]
    assert (adjustment.source, adjustment.reason) == ("adjustment", "goodwill")
    assert await check(ledger.db) == []
    assert [action for _, action, _ in log] == ["POST /v1/customers/{external_id}/adjustments"] * 3
    assert {actor for actor, _, _ in log} == {"bootstrap"}


async def test_void_forfeits_the_remainder_once(ledger: Ledger) -> None:
    kept = await ledger.grant("2")
    voided = await ledger.grant("3", priority=1)  # burned first
    assert await ledger.calls("e1", "e2") == ["debited", "debited"]
    async with serve_api(ledger) as http:
        first = await http.post(f"/v1/grants/{voided.id}/void", json={"reason": "sent in error"})
        before = await snapshot(ledger)
        again = await http.post(f"/v1/grants/{voided.id}/void", json={"reason": "again"})
        after = await snapshot(ledger)
        log = await audited(http)

    assert first.status_code == 200, first.text
    assert first.json() == {"grant_id": voided.id, "forfeited": "2.98", "balance": "2"}
    assert again.status_code == 409 and "voided" in again.json()["error"]["message"]
    assert after == before
    stored = await ledger.get_grant(voided.id)
    assert (stored.status, stored.remaining, stored.amount) == ("voided", Decimal(0), Decimal(3))
    assert (await ledger.get_grant(kept.id)).remaining == 2
    assert (await ledger.entries())[-1].kind == "void"
    assert await check(ledger.db) == []
    assert log == [("bootstrap", "POST /v1/grants/{grant_id}/void", f"/v1/grants/{voided.id}/void")]


@pytest.mark.parametrize("hot_paths", [True, False], ids=["hot-path", "routes"])
async def test_a_paused_customer_is_refused_until_resumed(ledger: Ledger, hot_paths: bool) -> None:
    who, other = ledger.customers
    await ledger.grant("10")
    await ledger.grant("10", other)
    event = {"id": "p1", "customer": who, "event_type": "api_call"}
    async with serve_api(ledger, hot_paths=hot_paths) as http:
        await http.post("/v1/events", json={"events": [{**event, "id": "before"}]})
        paused = await http.post(f"/v1/customers/{who}/pause", json={"reason": "fraud review"})
        repeat = await http.post("/v1/events", json={"events": [{**event, "id": "before"}]})
        refused = await http.post("/v1/events", json={"events": [event]})
        mixed = await http.post(
            "/v1/events",
            json={"events": [event, {"id": "o1", "customer": other, "event_type": "api_call"}]},
        )
        hold = await http.post(f"/v1/customers/{who}/holds", json={"amount": "1"})
        shown = (await http.get(f"/v1/customers/{who}")).json()
        twice = await http.post(f"/v1/customers/{who}/pause", json={"reason": "again"})
        resumed = await http.post(f"/v1/customers/{who}/resume", json={})
        accepted = await http.post("/v1/events", json={"events": [event]})
        log = await audited(http)

    assert paused.status_code == 200, paused.text
    assert paused.json()["status"] == "paused" and paused.json()["paused_reason"] == "fraud review"
    # An event recorded before the pause is still a duplicate, not a refusal.
    assert repeat.json()["results"][0]["status"] == "duplicate"
    assert refused.status_code == 402, refused.text
    assert refused.json()["error"]["type"] == "customer_paused"
    assert "fraud review" in refused.json()["error"]["message"]
    # In a batch with other customers' events, the paused customer's are rejected one by one.
    results = mixed.json()["results"]
    assert [r["status"] for r in results] == ["rejected", "debited"]
    assert "fraud review" in results[0]["reason"]
    assert hold.status_code == 402 and hold.json()["error"]["type"] == "customer_paused"
    assert shown["status"] == "paused"
    assert twice.status_code == 409
    assert resumed.status_code == 200 and resumed.json()["status"] == "active"
    assert accepted.json()["results"][0]["status"] == "debited"
    assert (await ledger.wallet()).balance == Decimal("9.98")
    assert "paused" in await ledger.outbox() and "resumed" in await ledger.outbox()
    assert await check(ledger.db) == []
    assert [a for _, a, _ in log] == [
        "POST /v1/customers/{external_id}/pause",
        "POST /v1/customers/{external_id}/resume",
    ]


async def test_resume_restores_the_status_the_balance_implies(ledger: Ledger) -> None:
    who = ledger.customer
    async with serve_api(ledger) as http:
        await http.post(f"/v1/customers/{who}/pause", json={"reason": "check"})
        resumed = await http.post(f"/v1/customers/{who}/resume", json={"reason": "checked"})
        not_paused = await http.post(f"/v1/customers/{who}/resume", json={})
    assert resumed.json()["status"] == "cut_off"  # an empty wallet
    assert not_paused.status_code == 409


BAD = [
    ("unknown customer", "/v1/customers/nobody/adjustments", {"amount": "1", "reason": "x"}, 404),
    ("unknown grant", "/v1/grants/999999/void", {"reason": "x"}, 404),
    ("grant id not a number", "/v1/grants/abc/void", {"reason": "x"}, 422),
    ("zero amount", "/v1/customers/{who}/adjustments", {"amount": "0", "reason": "x"}, 422),
    ("minus zero", "/v1/customers/{who}/adjustments", {"amount": "-0.00", "reason": "x"}, 422),
    ("float amount", "/v1/customers/{who}/adjustments", {"amount": 5.0, "reason": "x"}, 422),
    (
        "19 decimals",
        "/v1/customers/{who}/adjustments",
        {"amount": "1.0000000000000000001", "reason": "x"},
        422,
    ),
    ("empty reason", "/v1/customers/{who}/adjustments", {"amount": "1", "reason": " "}, 422),
    ("no reason", "/v1/customers/{who}/pause", {}, 422),
    ("extra field", "/v1/customers/{who}/pause", {"reason": "x", "until": "never"}, 422),
    ("unknown customer pause", "/v1/customers/nobody/pause", {"reason": "x"}, 404),
]


@pytest.mark.parametrize(("path", "body", "code"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
async def test_bad_input_is_a_4xx_and_changes_nothing(
    ledger: Ledger, path: str, body: dict[str, Any], code: int
) -> None:
    await ledger.grant("10")
    before = await snapshot(ledger)
    async with serve_api(ledger) as http:
        response = await http.post(path.format(who=ledger.customer), json=body)
        log = await audited(http)
    assert response.status_code == code, response.text
    assert set(response.json()["error"]) >= {"type", "message"}
    assert await snapshot(ledger) == before
    assert log == []
