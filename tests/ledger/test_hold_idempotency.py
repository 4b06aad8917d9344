"""A hold is placed once per request: an idempotency key returns the first hold, and the
ledger's own run-again after a lost COMMIT reply finds the hold instead of placing another."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal

import pytest
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import func, select

from creditgate.checks.ledger import check
from creditgate.ledger import service
from creditgate.models import Hold
from tests.ledger.support import Ledger, serve_api

D = Decimal


async def holds_of(ledger: Ledger) -> int:
    async with ledger.db.session() as session:
        return (await session.exec(select(func.count()).select_from(Hold))).one()


async def test_an_idempotency_key_places_one_hold(ledger: Ledger) -> None:
    await ledger.grant("1")
    path = f"/v1/customers/{ledger.customer}/holds"
    async with serve_api(ledger) as http:
        first = await http.post(path, json={"amount": "0.3"}, headers={"Idempotency-Key": "k1"})
        again = await http.post(path, json={"amount": "0.3"}, headers={"Idempotency-Key": "k1"})
        in_body = await http.post(path, json={"amount": "0.3", "idempotency_key": "k1"})
        changed = await http.post(path, json={"amount": "0.4"}, headers={"Idempotency-Key": "k1"})
        clash = await http.post(
            path, json={"amount": "0.3", "idempotency_key": "k2"}, headers={"Idempotency-Key": "k1"}
        )
        other = await http.post(path, json={"amount": "0.2"}, headers={"Idempotency-Key": "k3"})
        estimated = [
            await http.post(
                path,
                json={"event_type": "tokens", "properties": {"model": "m1", "count": 100}},
                headers={"Idempotency-Key": "k4"},
            )
            for _ in range(2)
        ]

    assert first.status_code == 201, first.text
    assert (again.status_code, in_body.status_code) == (200, 200)
    assert again.json() == in_body.json() == first.json()
    assert changed.status_code == 400
    assert changed.json()["error"]["type"] == "idempotency_error"
    assert clash.status_code == 422
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]
    assert [r.status_code for r in estimated] == [201, 200]
    assert estimated[0].json()["id"] == estimated[1].json()["id"]
    assert estimated[0].json()["amount"] == "0.1"
    assert await holds_of(ledger) == 3
    wallet = await ledger.wallet()
    assert (wallet.held, wallet.available) == (D("0.6"), D("0.4"))
    assert await check(ledger.db) == []


@pytest.mark.parametrize("key", [None, "client-key"])
async def test_a_lost_commit_reply_does_not_place_a_second_hold(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch, key: str | None
) -> None:
    await ledger.grant("1")
    write = ledger.db.write
    lost: list[bool] = []

    @asynccontextmanager
    async def reply_lost_once() -> AsyncIterator[AsyncConnection]:
        """The transaction commits, then its connection dies before the reply arrives."""
        async with write() as conn:
            yield conn
        if not lost:
            lost.append(True)
            raise OperationalError(
                "COMMIT", None, ConnectionResetError(), connection_invalidated=True
            )

    monkeypatch.setattr(ledger.db, "write", reply_lost_once)
    placed = await service.hold(
        ledger.db, ledger.customer, amount=D("0.4"), ttl_seconds=600, idempotency_key=key
    )

    assert lost == [True]
    assert placed.amount == D("0.4")
    assert await holds_of(ledger) == 1
    wallet = await ledger.wallet()
    assert (wallet.held, wallet.available) == (D("0.4"), D("0.6"))
    assert await check(ledger.db) == []
