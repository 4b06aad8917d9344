"""Customers and events made straight in the store (no customer workflow needed), and
endpoints made through the API."""

from datetime import UTC, datetime
from typing import Any

import httpx

from creditgate.events import store
from creditgate.infra.db import Database
from creditgate.models import CustomerEvent
from tests.events.support import sign_up

__all__ = ["create_endpoint", "deliveries", "emit", "sign_up"]

# Sequence 1 of every customer is its ``customer.created``, recorded at signup.
TYPES = ("grant.created", "customer.cut_off", "purchase.succeeded")


async def emit(db: Database, external_id: str, count: int, start: int = 0) -> list[CustomerEvent]:
    """``count`` events for the customer, cycling through a few types."""
    return [
        await store.record(
            db,
            external_id,
            TYPES[n % len(TYPES)],
            f"test:{n}",
            {"n": n},
            datetime.now(UTC),
        )
        for n in range(start, start + count)
    ]


async def create_endpoint(
    http: httpx.AsyncClient, url: str, event_types: list[str] | None = None
) -> dict[str, Any]:
    response = await http.post(
        "/v1/webhook-endpoints",
        json={"url": url, "event_types": event_types or ["*"], "description": "tests"},
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def deliveries(http: httpx.AsyncClient, endpoint_id: str) -> list[dict[str, Any]]:
    response = await http.get(f"/v1/webhook-endpoints/{endpoint_id}/deliveries?limit=500")
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data
