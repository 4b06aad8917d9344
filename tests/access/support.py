"""Helpers of this folder's tests."""

from datetime import UTC, datetime

import httpx


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def issue(http: httpx.AsyncClient, scope: str, name: str | None = None) -> str:
    made = await http.post("/v1/api-keys", json={"name": name or f"{scope} key", "scope": scope})
    assert made.status_code == 201, made.text
    return str(made.json()["key"])


def event(customer: str, n: int) -> dict[str, object]:
    return {
        "id": f"evt_{n}_{datetime.now(UTC).timestamp()}",
        "customer": customer,
        "event_type": "tokens",
        "properties": {"model": "m1", "count": 10},
    }
