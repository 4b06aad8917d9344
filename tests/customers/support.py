"""Helpers for the account closure tests: a customer with two purchases (one partly spent)
and promotional credit, the closure's view, and Stripe's refunds."""

from typing import Any

from tests.api.support import grant
from tests.payments.support import VISA, calls, card, customer_on, purchase, purchase_settled
from tests.support.stack import Stack
from tests.support.waiting import eventually


async def two_purchases(stack: Stack, external_id: str) -> tuple[dict[str, dict[str, Any]], str]:
    """20.00 then 10.00 bought (1 credit per 1.00), 5 credits used (from the older one,
    burned first) and 3 promotional credits: unspent 15 and 10. Purchases by amount, and
    the card (saved as the customer's)."""
    await customer_on(stack, external_id)
    pm = await card(stack, VISA)
    bought: dict[str, dict[str, Any]] = {}
    for amount in ("20.00", "10.00"):
        status, body = await purchase(stack, external_id, amount=amount, payment_method=pm)
        assert status == 201, body
        settled = await purchase_settled(stack, body["id"])
        assert settled["status"] == "granted", settled
        bought[amount] = settled
    await calls(stack, external_id, 5)
    await grant(stack, external_id, "3", reason="welcome credit")
    return bought, pm


async def closure(stack: Stack, external_id: str) -> dict[str, Any]:
    response = await stack.http.get(f"/v1/customers/{external_id}/closure")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def closed(stack: Stack, external_id: str, timeout: float = 90) -> dict[str, Any]:
    return await eventually(
        lambda: closure(stack, external_id),
        until=lambda c: c["status"] == "closed",
        timeout=timeout,
        what=f"the account of {external_id} closed",
    )


async def stripe_refunds(stack: Stack, payment_intent: str) -> list[tuple[int, str | None]]:
    """Every refund Stripe holds for the PaymentIntent: (amount in cents, the purchase it
    names)."""
    return [(r.amount, r.purchase) for r in await stack.stripe.refunds_of(payment_intent)]
