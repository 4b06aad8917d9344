"""Helpers for the payment tests: a customer on a plan of API calls, cards in localstripe,
purchases over HTTP, the checker."""

import time
import uuid
from typing import Any

from creditgate.checks.ledger import check
from creditgate.checks.payments import check_payments
from tests.api.support import balance, create_plan, event, post, send, signed, signup
from tests.support.plans import calls_plan, plan_code
from tests.support.stack import Stack
from tests.support.waiting import eventually

VISA = "4242424242424242"
# localstripe, like Stripe: attaching this card to a customer is declined.
DECLINED = "4000000000000002"
# Attaches fine; every charge is declined (Stripe's "charge fails after attaching" card).
DECLINES_CHARGES = "4000000000000341"
# Needs 3-D Secure on every charge.
NEEDS_3DS = "4000002500003155"


async def card(stack: Stack, number: str) -> str:
    """A new PaymentMethod for a test card number (what Stripe.js would give the app)."""
    pm = await stack.stripe.client.v1.payment_methods.create_async(
        {
            "type": "card",
            "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"},
        }
    )
    return pm.id


async def purchase(stack: Stack, external_id: str, **body: Any) -> tuple[int, dict[str, Any]]:
    response = await stack.http.post(f"/v1/customers/{external_id}/purchases", json=body)
    return response.status_code, response.json()


async def get_purchase(stack: Stack, purchase_id: str) -> dict[str, Any]:
    response = await stack.http.get(f"/v1/purchases/{purchase_id}")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def purchase_settled(stack: Stack, purchase_id: str, timeout: float = 30) -> dict[str, Any]:
    return await eventually(
        lambda: get_purchase(stack, purchase_id),
        until=lambda p: p["status"] != "pending",
        timeout=timeout,
        what=f"purchase {purchase_id} to settle",
    )


async def available(stack: Stack, external_id: str) -> str:
    return str((await balance(stack, external_id))["available"])


async def purchases(stack: Stack, external_id: str) -> list[dict[str, Any]]:
    response = await stack.http.get(f"/v1/customers/{external_id}/purchases")
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


async def succeeded_intents(stack: Stack, stripe_customer: str) -> list[Any]:
    return [
        pi
        for pi in await stack.stripe.list_payment_intents()
        if pi.customer == stripe_customer and pi.status == "succeeded"
    ]


async def customer_on(stack: Stack, unique_id: str, **plan: Any) -> dict[str, Any]:
    code = plan_code(unique_id)
    await create_plan(stack, calls_plan(code, **plan))
    return await signup(stack, unique_id, plan=code)


async def calls(stack: Stack, external_id: str, n: int, prefix: str = "c") -> None:
    await send(stack, *(event(f"{prefix}{i}", external_id, "api_call") for i in range(n)))


async def assert_invariants(stack: Stack) -> None:
    """``creditgate check``'s checks (ledger 2, 3, 5 and payments 4, 6) find nothing."""
    violations = await check(stack.db) + await check_payments(stack.db, stack.stripe)
    assert violations == [], "\n".join(map(str, violations))


async def set_auto_recharge(stack: Stack, external_id: str, **body: Any) -> dict[str, Any]:
    response = await stack.http.put(f"/v1/customers/{external_id}/auto-recharge", json=body)
    assert response.status_code == 200, response.text
    settings: dict[str, Any] = response.json()
    return settings


async def save_card(stack: Stack, external_id: str, number: str) -> str:
    pm = await card(stack, number)
    response = await stack.http.put(
        f"/v1/customers/{external_id}/payment-method", json={"payment_method": pm}
    )
    assert response.status_code == 200, response.text
    return pm


def refunded(payment_intent: str, amount: int, amount_refunded: int) -> dict[str, Any]:
    return {
        "id": f"evt_{uuid.uuid4().hex[:20]}",
        "object": "event",
        "type": "charge.refunded",
        "created": int(time.time()),
        "data": {
            "object": {
                "id": f"ch_{uuid.uuid4().hex[:14]}",
                "object": "charge",
                "amount": amount,
                "amount_refunded": amount_refunded,
                "payment_intent": payment_intent,
                "refunded": amount_refunded == amount,
            }
        },
    }


async def deliver(stack: Stack, event: dict[str, Any]) -> None:
    payload, signature = signed(event, stack.settings.stripe_webhook_secret)
    response = await post(stack, payload, signature)
    assert response.status_code == 200, response.text
