"""Plan bodies and small HTTP helpers the API suites share.

Plan codes are global in the shared database, so every body is built for a code the test
makes unique with ``plan_code(unique_id)``. Amounts are strings, as the API receives them.
"""

import asyncio
import copy
import re
from datetime import UTC, datetime
from typing import Any

from tests.pricing.plans import DESIGN_PLAN
from tests.support.stack import Stack

TOKENS_METER: dict[str, Any] = {
    "code": "tokens",
    "event_type": "tokens",
    "aggregation": "sum",
    "value_property": "count",
    "group_by": ["model", "token_type"],
}
IMAGES_METER: dict[str, Any] = {
    "code": "images",
    "event_type": "image_generated",
    "aggregation": "count",
}


def plan_code(unique_id: str, suffix: str = "") -> str:
    """A plan code (``[a-z0-9_-]``, ≤ 100 characters) no other test uses."""
    code = re.sub(r"[^a-z0-9_-]", "", f"{unique_id}{suffix}".lower())
    return code[-100:]


def design_plan(code: str) -> dict[str, Any]:
    """The API contract's example plan, verbatim but for the code."""
    return {**copy.deepcopy(DESIGN_PLAN), "code": code}


def rate_card_plan(code: str) -> dict[str, Any]:
    """The seed prices: gpt-4o input/output per token, "small" per 1,000 tokens, images each."""
    return {
        "code": code,
        "name": "Rate card",
        "currency": "USD",
        "meters": [TOKENS_METER, IMAGES_METER],
        "prices": [
            {
                "meter": "tokens",
                "model": "per_unit",
                "unit_amount": "0.0000025",
                "filter": {"model": "gpt-4o", "token_type": "input"},
            },
            {
                "meter": "tokens",
                "model": "per_unit",
                "unit_amount": "0.00001",
                "filter": {"model": "gpt-4o", "token_type": "output"},
            },
            {
                "meter": "tokens",
                "model": "package",
                "package_size": "1000",
                "unit_amount": "0.04",
                "filter": {"model": "small"},
            },
            {"meter": "images", "model": "per_unit", "unit_amount": "0.05"},
        ],
    }


def cad_plan(code: str) -> dict[str, Any]:
    """0.04 CAD per 100 tokens of any model."""
    return {
        "code": code,
        "name": "Canadian tokens",
        "currency": "CAD",
        "meters": [TOKENS_METER],
        "prices": [
            {"meter": "tokens", "model": "package", "package_size": "100", "unit_amount": "0.04"}
        ],
    }


# -- HTTP helpers ------------------------------------------------------------------------------


async def create_plan(stack: Stack, body: dict[str, Any]) -> dict[str, Any]:
    response = await stack.http.post("/v1/plans", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def signup(stack: Stack, external_id: str, plan: str | None = None) -> dict[str, Any]:
    body = {"external_id": external_id, "name": "Jane Doe", "email": "jane@example.com"}
    if plan is not None:
        body["plan"] = plan
    response = await stack.http.post("/v1/customers", json=body)
    assert response.status_code == 201, response.text
    customer: dict[str, Any] = response.json()
    return customer


async def signup_many(stack: Stack, external_ids: list[str], plan: str) -> list[dict[str, Any]]:
    return list(await asyncio.gather(*(signup(stack, e, plan) for e in external_ids)))


async def grant(stack: Stack, external_id: str, amount: str, **fields: Any) -> dict[str, Any]:
    response = await stack.http.post(
        f"/v1/customers/{external_id}/grants", json={"amount": amount, **fields}
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def balance(stack: Stack, external_id: str) -> dict[str, Any]:
    response = await stack.http.get(f"/v1/customers/{external_id}/balance")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def ledger(stack: Stack, external_id: str) -> list[dict[str, Any]]:
    """Every ledger entry of the customer, newest first (following the pages)."""
    entries: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 500}
    while True:
        response = await stack.http.get(f"/v1/customers/{external_id}/ledger", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        entries += page["data"]
        if not page["has_more"]:
            return entries
        params["starting_after"] = page["next_starting_after"]


def event(
    event_id: str, customer: str, event_type: str = "tokens", **properties: Any
) -> dict[str, Any]:
    return {
        "id": event_id,
        "customer": customer,
        "event_type": event_type,
        "properties": properties,
    }


def tokens(
    event_id: str, customer: str, count: Any, model: str = "gpt-4o", token_type: str = "input"
) -> dict[str, Any]:
    return event(event_id, customer, "tokens", count=count, model=model, token_type=token_type)


async def send(stack: Stack, *events: dict[str, Any]) -> list[dict[str, Any]]:
    """POST the events as one batch; the per-event results, in order."""
    response = await stack.http.post("/v1/events", json={"events": list(events)})
    assert response.status_code == 200, response.text
    results: list[dict[str, Any]] = response.json()["results"]
    assert [r["id"] for r in results] == [e["id"] for e in events]
    return results


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
