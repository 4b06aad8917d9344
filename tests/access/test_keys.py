"""Scoped API keys: what each scope may call, revocation at once in every API process, and a
key shown only once."""

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import httpx
import pytest

from api.main import create_app
from creditgate.infra.db import Database
from creditgate.infra.settings import Settings
from tests.access.support import bearer, event, issue
from tests.ledger.support import Ledger, serve_api


@pytest.fixture
async def http(ledger: Ledger) -> AsyncIterator[httpx.AsyncClient]:
    async with serve_api(ledger) as client:
        yield client


async def test_an_ingest_key_records_usage_and_holds_but_reads_and_changes_nothing_else(
    ledger: Ledger, http: httpx.AsyncClient
) -> None:
    key = bearer(await issue(http, "ingest"))
    customer = ledger.customer

    events = await http.post("/v1/events", json={"events": [event(customer, 1)]}, headers=key)
    hold = await http.post(f"/v1/customers/{customer}/holds", json={"amount": "1"}, headers=key)
    released = await http.post(f"/v1/holds/{hold.json()['id']}/release", headers=key)
    balance = await http.get(f"/v1/customers/{customer}/balance", headers=key)
    grant = await http.post(f"/v1/customers/{customer}/grants", json={"amount": "5"}, headers=key)
    keys = await http.get("/v1/api-keys", headers=key)

    assert events.status_code == 200 and events.json()["results"][0]["status"] == "debited"
    assert (hold.status_code, released.status_code) == (201, 200)
    assert [r.status_code for r in (balance, grant, keys)] == [403, 403, 403]
    assert balance.json()["error"]["type"] == "forbidden"
    assert "ingest" in balance.json()["error"]["message"]
    assert (await ledger.wallet()).balance < 10  # the debit happened, the grant did not


async def test_a_read_key_reads_and_cannot_write(ledger: Ledger, http: httpx.AsyncClient) -> None:
    key = bearer(await issue(http, "read"))
    customer = ledger.customer
    before = await ledger.wallet()

    balance = await http.get(f"/v1/customers/{customer}/balance", headers=key)
    ledger_page = await http.get(f"/v1/customers/{customer}/ledger", headers=key)
    events = await http.post("/v1/events", json={"events": [event(customer, 2)]}, headers=key)
    grant = await http.post(f"/v1/customers/{customer}/grants", json={"amount": "5"}, headers=key)
    new_key = await http.post("/v1/api-keys", json={"name": "x", "scope": "admin"}, headers=key)
    audit = await http.get("/v1/audit-log", headers=key)

    assert (balance.status_code, ledger_page.status_code) == (200, 200)
    assert balance.json()["available"] == "10"
    assert [r.status_code for r in (events, grant, new_key, audit)] == [403] * 4
    after = await ledger.wallet()
    assert (after.balance, after.held) == (before.balance, before.held)


async def test_a_revoked_key_is_refused_at_once_by_every_api_process(ledger: Ledger) -> None:
    """Two API apps, each with its own engine and pool as two processes have."""
    async with AsyncExitStack() as stack:
        second_db = Database(ledger.db.url)
        stack.push_async_callback(second_db.dispose)
        first = await stack.enter_async_context(serve_api(ledger))
        second = await stack.enter_async_context(serve_api(Ledger(second_db, ledger.customers)))
        made = await first.post("/v1/api-keys", json={"name": "app", "scope": "admin"})
        key = bearer(made.json()["key"])
        path = f"/v1/customers/{ledger.customer}/balance"
        assert [(await api.get(path, headers=key)).status_code for api in (first, second)] == [
            200,
            200,
        ]

        revoked = await second.delete(f"/v1/api-keys/{made.json()['id']}")
        after = [await api.get(path, headers=key) for api in (first, second)] + [
            await api.post("/v1/events", json={"events": [event(ledger.customer, 3)]}, headers=key)
            for api in (first, second)
        ]

    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert [r.status_code for r in after] == [401] * 4
    assert all(r.json()["error"]["type"] == "unauthorized" for r in after)


async def test_a_key_is_shown_once_and_never_logged(
    http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    made = await http.post("/v1/api-keys", json={"name": "billing-app", "scope": "read"})
    key = made.json()["key"]
    await http.get("/v1/audit-log", headers=bearer(key))  # refused: read cannot see the log
    listed = await http.get("/v1/api-keys")
    revoked = await http.delete(f"/v1/api-keys/{made.json()['id']}")

    assert made.status_code == 201 and key.startswith("cg_")
    assert made.json()["prefix"] == key[:10]
    assert key not in listed.text and key not in revoked.text
    assert [k["name"] for k in listed.json()] == ["billing-app"]
    assert not any(key in record.getMessage() for record in caplog.records)
    assert key not in caplog.text


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "scope": "owner"},
        {"name": "", "scope": "read"},
        {"name": "x\u0000", "scope": "read"},
        {"name": "x", "scope": "read", "extra": 1},
        {"scope": "read"},
    ],
)
async def test_a_bad_key_request_is_refused_and_creates_nothing(
    http: httpx.AsyncClient, body: dict[str, object]
) -> None:
    refused = await http.post("/v1/api-keys", json=body)

    assert refused.status_code == 422
    assert refused.json()["error"]["type"] == "validation_error"
    assert (await http.get("/v1/api-keys")).json() == []


async def test_revoking_an_unknown_or_malformed_key_id_is_a_4xx(http: httpx.AsyncClient) -> None:
    unknown = await http.delete("/v1/api-keys/key_0123456789abcdef")
    malformed = await http.delete("/v1/api-keys/not-a-key")

    assert unknown.status_code == 404 and unknown.json()["error"]["type"] == "not_found"
    assert malformed.status_code == 422


@pytest.mark.parametrize("root_path", ["/billing", "/a/b"])
async def test_an_app_under_a_root_path_still_asks_for_a_key(root_path: str) -> None:
    app = create_app(settings=Settings(api_key="root-path-test-key"))
    transport = httpx.ASGITransport(app=app, root_path=root_path)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        customer = await client.get(f"{root_path}/v1/customers/nobody")
        events = await client.post(f"{root_path}/v1/events", json={"events": []})

    assert (customer.status_code, events.status_code) == (401, 401)
    assert customer.json()["error"]["type"] == "unauthorized"
