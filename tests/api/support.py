"""HTTP helpers the API suites share (and the suites that drive the stack through the API):
plans, signups, grants, balances, usage events, the Stripe webhook. Plan bodies are in
``tests.support.plans``.
"""

import asyncio
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import stripe
from sqlmodel import func, select

from creditgate.models import Customer, Wallet
from tests.support.stack import Stack

WEBHOOK_PATH = "/v1/stripe/webhook"


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


# -- signups -----------------------------------------------------------------------------------


def signup_body(external_id: str) -> dict[str, str]:
    return {"external_id": external_id, "name": "Jane Doe", "email": "jane@example.com"}


async def stripe_customers_for(stack: Stack, external_id: str) -> list[stripe.Customer]:
    listed = await stack.stripe.client.v1.customers.list_async({"limit": 100})
    found = []
    async for customer in listed.auto_paging_iter():
        metadata = customer.to_dict().get("metadata") or {}
        if metadata.get("creditgate_external_id") == external_id:
            found.append(customer)
    return found


async def count_rows(stack: Stack, external_id: str) -> tuple[int, int]:
    async with stack.db.session() as session:
        customers = (
            await session.exec(
                select(func.count())
                .select_from(Customer)
                .where(Customer.external_id == external_id)
            )
        ).one()
        wallets = (
            await session.exec(
                select(func.count())
                .select_from(Wallet)
                .join(Customer, Customer.id == Wallet.customer_id)  # type: ignore[arg-type]
                .where(Customer.external_id == external_id)
            )
        ).one()
    return customers, wallets


# -- the Stripe webhook ------------------------------------------------------------------------


def signed(event: dict[str, Any], secret: str, at: int | None = None) -> tuple[bytes, str]:
    payload = json.dumps(event).encode()
    timestamp = at if at is not None else int(time.time())
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256)
    return payload, f"t={timestamp},v1={mac.hexdigest()}"


async def post(stack: Stack, payload: bytes, signature: str | None) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    # No API key: the signature is the authentication.
    async with httpx.AsyncClient(base_url=stack.base_url) as client:
        return await client.post(WEBHOOK_PATH, content=payload, headers=headers)
