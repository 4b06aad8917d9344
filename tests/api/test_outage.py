"""An outage (the database, Temporal) answers 503 with the JSON error shape and
``Retry-After``, not a bare 500; a bug answers 500 with the same shape."""

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from creditgate.devtools.migrate import upgrade
from creditgate.infra.db import Database
from creditgate.infra.settings import Settings
from creditgate.ledger import customers, reads
from creditgate.ledger.batcher import IngestBatcher
from tests.api.support import signed
from tests.support.plans import design_plan
from tests.support.ports import free_port
from tests.support.stack import TEMPORAL_BIN
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTES

KEY = {"Authorization": "Bearer outage-key"}


def test_unreachable_database_answers_503_json(caplog: pytest.LogCaptureFixture) -> None:
    url = f"postgresql://nobody:db-secret-pw@127.0.0.1:{free_port()}/none"
    settings = Settings(api_key="outage-key", database_url=url)
    with caplog.at_level(logging.DEBUG), TestClient(create_app(settings)) as client:
        event = {"id": "e1", "customer": "c1", "event_type": "api_call"}
        responses = [
            client.post("/v1/events", json={"events": [event]}, headers=KEY),
            client.get("/v1/customers/c1/balance", headers=KEY),
            client.get("/v1/customers/c1", headers=KEY),
        ]
    for response in responses:
        assert response.status_code == 503, response.text
        assert response.json()["error"]["type"] == "database_unavailable"
        assert int(response.headers["Retry-After"]) > 0
        assert "db-secret-pw" not in response.text
    assert "database unavailable" in caplog.text  # logged, without the password
    assert "db-secret-pw" not in caplog.text


def test_an_unexpected_error_on_the_hot_routes_is_a_json_500(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The hot routes are answered ahead of FastAPI's middleware; a bug there still gets the
    app's JSON 500 (and its log line), not the server's bare one."""

    async def broken(*_: object, **__: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(reads, "balance", broken)
    monkeypatch.setattr(IngestBatcher, "submit", broken)
    settings = Settings(api_key="outage-key", database_url=f"sqlite:///{tmp_path}/bug.db")
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        event = {"id": "e1", "customer": "c1", "event_type": "api_call"}
        responses = [
            client.post("/v1/events", json={"events": [event]}, headers=KEY),
            client.get("/v1/customers/c1/balance", headers=KEY),
        ]
    for response in responses:
        assert response.status_code == 500, response.text
        assert response.json()["error"]["type"] == "internal_error"


@pytest.fixture(params=["stopped", "never started"])
async def unreachable_temporal(request: pytest.FixtureRequest) -> AsyncIterator[Client | None]:
    """A client of a real Temporal dev server that has since been shut down (connected
    before the outage), or None: the app then connects itself, to a closed port."""
    if request.param == "never started":
        yield None
        return
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(TEMPORAL_BIN),
        search_attributes=SEARCH_ATTRIBUTES,
        data_converter=pydantic_data_converter,
        dev_server_log_level="error",
    )
    await env.shutdown()
    yield env.client


async def test_every_route_that_needs_temporal_answers_503_while_it_is_unreachable(
    unreachable_temporal: Client | None, tmp_path: Path
) -> None:
    settings = Settings(
        api_key="outage-key",
        database_url=f"sqlite:///{tmp_path}/cg.db",
        temporal_address=f"127.0.0.1:{free_port()}",
        stripe_webhook_secret="whsec_outage",
        # Longer than the Temporal client's own retries, so the outage itself is reported.
        signup_wait_seconds=60,
        payment_wait_seconds=60,
    )
    await asyncio.to_thread(upgrade, settings.database_url)
    app = create_app(settings, temporal_client=unreachable_temporal)
    code = f"outage-{uuid.uuid4().hex[:8]}"
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://api", headers=KEY) as http,
    ):
        for path in ("/v1/plans", f"/v1/plans/{code}/versions"):
            created = await http.post(path, json=design_plan(code))
            assert created.status_code == 201, created.text
        db: Database = app.state.db
        await customers.register_customer(
            db,
            external_id="existing",
            name="Existing",
            email="existing@example.com",
            plan=code,
            stripe_customer_id="cus_outage",
            workflow_id="customer-existing",
        )
        event: dict[str, Any] = {
            "id": f"evt_{uuid.uuid4().hex[:20]}",
            "type": "payment_intent.succeeded",
            "data": {
                "object": {
                    "id": "pi_outage",
                    "object": "payment_intent",
                    "metadata": {
                        "creditgate_kind": "purchase",
                        "creditgate_workflow_id": "purchase-outage",
                    },
                }
            },
        }
        payload, signature = signed(event, settings.stripe_webhook_secret)
        customer = "/v1/customers/existing"
        calls = {
            "signup": http.post(
                "/v1/customers",
                json={
                    "external_id": "newcomer",
                    "name": "N",
                    "email": "n@example.com",
                    "plan": code,
                },
            ),
            "purchase": http.post(f"{customer}/purchases", json={"amount": "10.00"}),
            "payment method": http.put(
                f"{customer}/payment-method", json={"payment_method": "pm_card_visa"}
            ),
            "auto-recharge": http.put(
                f"{customer}/auto-recharge",
                json={"enabled": True, "threshold": "5", "recharge_to": "20"},
            ),
            "plan migration": http.post(
                f"/v1/plans/{code}/migrate",
                json={"from_version": 1, "to_version": 2, "effective": "now"},
            ),
            "stripe webhook": http.post(
                "/v1/stripe/webhook",
                content=payload,
                headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
            ),
        }
        responses = dict(zip(calls, await asyncio.gather(*calls.values()), strict=True))
        for name, response in responses.items():
            assert response.status_code == 503, (name, response.text)
            assert response.json()["error"]["type"] == "temporal_unavailable", name
            assert int(response.headers["Retry-After"]) > 0, name
        # Nothing half-done: the signup left no customer behind.
        assert (await http.get("/v1/customers/newcomer")).status_code == 404
