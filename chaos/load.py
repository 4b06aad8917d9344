"""The load: signups, seed grants, purchases (good and declining cards), auto-recharge and
usage events, all through clients that retry. Everything sent is recorded so that it can be
sent again after the faults and checked."""

import asyncio
import itertools
import random
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx

from chaos.client import RetryingClient
from creditgate.devtools.demo import DECLINES_CHARGES, TOKEN_PRICE, VISA, card_form, token_plan

PURCHASE_AMOUNT = "2.00"
SEED_CREDITS = "5.00"
RECHARGE_THRESHOLD = "3.00"
RECHARGE_TO = "20.00"
EVENTS_PER_BATCH = 5
# Tokens per event at 0.001 each. Customers with auto-recharge get one batch a second (0.10
# a second against 17.00 between the threshold and recharge_to, so a recharge delayed by a
# Temporal outage still lands above the threshold); a burst (``overdraw``) makes one recharge
# start when a fault wants one in flight. The others share a steady stream of cheap events
# and buy credits.
TOKENS = {True: 20, False: 10}
SIGNUP_PENDING_PAUSE = 1.0


class LoadError(RuntimeError):
    """An answer no retry can fix (a 4xx where the harness expected success)."""


@dataclass
class Customer:
    external_id: str
    recharge: bool
    ready: bool = False  # signed up, seeded, card saved: usage and purchases may start
    card: str | None = None
    bad_card: str | None = None


@dataclass
class PurchaseSent:
    customer: str
    key: str  # Idempotency-Key: every resend names the same purchase
    good: bool  # a card that pays (else one whose charges are declined)
    card: str
    purchase_ids: set[str] = field(default_factory=set)  # answered ids (one, if all is well)
    payment_intent: str | None = None
    status: str | None = None  # as last answered


@dataclass
class Load:
    api: RetryingClient
    stripe: httpx.AsyncClient  # localstripe, to make test cards as Stripe.js would
    run: str
    customers: list[Customer] = field(default_factory=list)
    purchases: list[PurchaseSent] = field(default_factory=list)
    events: dict[str, str] = field(default_factory=dict)  # event id -> customer
    burst_tokens: dict[str, int] = field(default_factory=dict)  # events of ``overdraw``
    event_answers: Counter[str] = field(default_factory=Counter)  # under faults
    resend_answers: Counter[str] = field(default_factory=Counter)  # everything sent again
    resending: bool = False
    unexpected: list[str] = field(default_factory=list)  # 4xx the harness did not expect
    signups_in_flight: int = 0
    signup_started: asyncio.Event = field(default_factory=asyncio.Event)
    _numbers: "itertools.count[int]" = field(default_factory=itertools.count)

    @property
    def plan(self) -> str:
        return f"chaos-{self.run}"

    def ready(self) -> list[Customer]:
        return [c for c in self.customers if c.ready]

    def _unexpected(self, what: str, response: httpx.Response) -> None:
        self.unexpected.append(f"{what}: {response.status_code} {response.text[:200]}")

    # -- setup -----------------------------------------------------------------------------
    async def create_plan(self) -> None:
        body = token_plan(self.plan, "Chaos tokens")
        response = await self.api.request("POST", "/v1/plans", json=body)
        if response.status_code != 201:
            raise LoadError(f"plan: {response.status_code} {response.text[:300]}")

    async def card(self, number: str) -> str:
        response = await self.stripe.post("/v1/payment_methods", data=card_form(number))
        response.raise_for_status()
        return str(response.json()["id"])

    def new_customers(self, count: int, recharging: int) -> list[Customer]:
        made = [
            Customer(f"chaos-{self.run}-{len(self.customers) + i}", recharge=i < recharging)
            for i in range(count)
        ]
        self.customers += made
        return made

    async def sign_up(self, customer: Customer) -> None:
        """POST until the customer exists (201, or 200 for a repeat); 202 means still going."""
        body = {
            "external_id": customer.external_id,
            "name": "Chaos",
            "email": f"{customer.external_id}@example.com",
            "plan": self.plan,
        }
        self.signups_in_flight += 1
        self.signup_started.set()
        try:
            while True:
                response = await self.api.request("POST", "/v1/customers", json=body)
                if response.status_code in (200, 201):
                    return
                if response.status_code != 202:
                    raise LoadError(f"signup {customer.external_id}: {response.text[:300]}")
                await asyncio.sleep(SIGNUP_PENDING_PAUSE)
        finally:
            self.signups_in_flight -= 1

    async def prepare(self, customer: Customer) -> None:
        """Seed credits (idempotent grant), a card, and auto-recharge for some."""
        path = f"/v1/customers/{customer.external_id}"
        response = await self.api.request(
            "POST",
            f"{path}/grants",
            json={"amount": SEED_CREDITS, "reason": "chaos seed"},
            headers={"Idempotency-Key": f"seed-{customer.external_id}"},
        )
        if response.status_code not in (200, 201):
            raise LoadError(f"seed grant {customer.external_id}: {response.text[:300]}")
        customer.card = await self.card(VISA)
        customer.bad_card = await self.card(DECLINES_CHARGES)
        if customer.recharge:
            for method, where, body in (
                ("PUT", "payment-method", {"payment_method": customer.card}),
                (
                    "PUT",
                    "auto-recharge",
                    {"enabled": True, "threshold": RECHARGE_THRESHOLD, "recharge_to": RECHARGE_TO},
                ),
            ):
                response = await self.api.request(method, f"{path}/{where}", json=body)
                if response.status_code != 200:
                    raise LoadError(f"{where} {customer.external_id}: {response.text[:300]}")
        customer.ready = True

    async def onboard(self, customers: list[Customer]) -> None:
        async def one(customer: Customer) -> None:
            await self.sign_up(customer)
            await self.prepare(customer)

        await asyncio.gather(*(one(c) for c in customers))

    # -- purchases -------------------------------------------------------------------------
    async def buy(self, customer: Customer, good: bool) -> PurchaseSent:
        card = customer.card if good else customer.bad_card
        assert card is not None
        sent = PurchaseSent(customer.external_id, f"buy-{next(self._numbers)}", good, card)
        self.purchases.append(sent)
        await self.send_purchase(sent)
        return sent

    async def send_purchase(self, sent: PurchaseSent) -> None:
        response = await self.api.request(
            "POST",
            f"/v1/customers/{sent.customer}/purchases",
            json={"amount": PURCHASE_AMOUNT, "payment_method": sent.card},
            headers={"Idempotency-Key": sent.key},
        )
        body: dict[str, Any] = response.json()
        if response.status_code in (200, 201):
            purchase = body
        elif response.status_code == 402 and "purchase" in body.get("error", {}):
            purchase = body["error"]["purchase"]
        else:
            self._unexpected(f"purchase {sent.key} for {sent.customer}", response)
            return
        sent.purchase_ids.add(purchase["id"])
        sent.payment_intent = purchase["payment_intent"]
        sent.status = purchase["status"]

    # -- usage -----------------------------------------------------------------------------
    def _event(self, event_id: str, customer: Customer) -> dict[str, Any]:
        tokens = self.burst_tokens.get(event_id, TOKENS[customer.recharge])
        return {
            "id": event_id,
            "customer": customer.external_id,
            "event_type": "tokens",
            "properties": {"count": tokens},
        }

    async def send_events(self, batch: list[dict[str, Any]]) -> None:
        response = await self.api.request("POST", "/v1/events", json={"events": batch})
        if response.status_code != 200:
            self._unexpected(f"events {batch[0]['id']}…", response)
            return
        answers = self.resend_answers if self.resending else self.event_answers
        for result in response.json()["results"]:
            answers[result["status"]] += 1
            if result["status"] == "rejected":
                self.unexpected.append(f"event {result['id']} rejected: {result.get('reason')}")

    def _new_event(self, customer: Customer, tokens: int | None = None) -> dict[str, Any]:
        event_id = f"evt-{self.run}-{next(self._numbers)}"
        self.events[event_id] = customer.external_id
        event = self._event(event_id, customer)
        if tokens is not None:
            event["properties"]["count"] = tokens
            self.burst_tokens[event_id] = tokens
        return event

    async def usage(self, customer: Customer) -> None:
        await self.send_events([self._new_event(customer) for _ in range(EVENTS_PER_BATCH)])

    async def overdraw(self, customer: Customer) -> None:
        """One event that takes the balance just below the auto-recharge threshold."""
        response = await self.api.request("GET", f"/v1/customers/{customer.external_id}/balance")
        available = Decimal(response.json()["available"])
        below = available - Decimal(RECHARGE_THRESHOLD) + Decimal("0.50")
        tokens = max(1, int(below / TOKEN_PRICE))
        await self.send_events([self._new_event(customer, tokens)])

    # -- streams until stopped -------------------------------------------------------------
    def buyers(self) -> list[Customer]:
        return [c for c in self.ready() if not c.recharge]

    async def usage_stream(self, stop: asyncio.Event, pause: float) -> None:
        while not stop.is_set():
            if buyers := self.buyers():
                await self.usage(random.choice(buyers))
            await asyncio.sleep(pause)

    async def recharge_stream(self, stop: asyncio.Event) -> None:
        """One batch a second for each customer with auto-recharge."""
        while not stop.is_set():
            recharging = [c for c in self.ready() if c.recharge]
            await asyncio.gather(*(self.usage(c) for c in recharging), asyncio.sleep(1.0))

    async def purchase_stream(self, stop: asyncio.Event, pause: float) -> None:
        while not stop.is_set():
            if buyers := self.buyers():
                # Every fifth purchase with a card whose charges are declined.
                await self.buy(random.choice(buyers), good=len(self.purchases) % 5 != 4)
            await asyncio.sleep(pause)

    # -- after the faults: everything again ------------------------------------------------
    async def resend_everything(self) -> None:
        """Every signup, purchase and event sent again, acknowledged or not."""
        self.resending = True
        await asyncio.gather(*(self.sign_up(c) for c in self.customers))
        by_customer: dict[str, list[str]] = {}
        for event_id, owner in self.events.items():
            by_customer.setdefault(owner, []).append(event_id)
        known = {c.external_id: c for c in self.customers}
        batches = [
            [self._event(i, known[owner]) for i in ids[start : start + 100]]
            for owner, ids in by_customer.items()
            for start in range(0, len(ids), 100)
        ]
        semaphore = asyncio.Semaphore(4)

        async def limited(coroutine: Any) -> None:
            async with semaphore:
                await coroutine

        await asyncio.gather(*(limited(self.send_events(b)) for b in batches))
        await asyncio.gather(*(limited(self.send_purchase(p)) for p in self.purchases))
