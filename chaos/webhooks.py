"""Webhook abuse: one signed event 20 times, forged and stale signatures, an event for a
PaymentIntent nobody knows, and ``payment_intent.succeeded`` for one that really failed."""

import asyncio
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlmodel import col, select

from chaos.client import RetryingClient
from creditgate.infra.db import Database
from creditgate.models import Purchase, StripeEvent
from creditgate.payments.stripe_gateway import StripeGateway

PATH = "/v1/stripe/webhook"
REPLAYS = 20
STALE_SECONDS = 600  # the API refuses signatures older than 300 s


def signature(payload: bytes, secret: str, timestamp: int) -> str:
    """``Stripe-Signature`` as Stripe computes it: HMAC-SHA256 of ``"{t}.{payload}"``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def event(kind: str, payment_intent: dict[str, Any]) -> tuple[str, bytes]:
    event_id = f"evt_chaos_{secrets.token_hex(8)}"
    body = {
        "id": event_id,
        "object": "event",
        "type": kind,
        "created": int(time.time()),
        "data": {"object": payment_intent},
    }
    return event_id, json.dumps(body).encode()


@dataclass
class Outcome:
    what: str
    expected: str
    got: str
    ok: bool


@dataclass
class Abuse:
    api: RetryingClient
    stripe: httpx.AsyncClient  # localstripe: the real PaymentIntents
    stripe_api: StripeGateway
    db: Database
    secret: str
    outcomes: list[Outcome] = field(default_factory=list)
    # PaymentIntents and purchases that must not be granted because of what was sent here
    must_not_grant: list[str] = field(default_factory=list)

    async def post(
        self, payload: bytes, secret: str, timestamp: int | None = None
    ) -> httpx.Response:
        header = signature(payload, secret, timestamp or int(time.time()))
        return await self.api.request(
            "POST",
            PATH,
            content=payload,
            headers={"Content-Type": "application/json", "Stripe-Signature": header},
        )

    async def intent(self, payment_intent: str) -> dict[str, Any]:
        response = await self.stripe.get(f"/v1/payment_intents/{payment_intent}")
        response.raise_for_status()
        found: dict[str, Any] = response.json()
        return found

    async def stored(self, event_id: str) -> bool:
        async with self.db.session() as session:
            return await session.get(StripeEvent, event_id) is not None

    def record(self, what: str, expected: str, got: str) -> None:
        self.outcomes.append(Outcome(what, expected, got, expected == got))

    async def _purchases(self, status: str) -> set[str]:
        async with self.db.session() as session:
            return set(
                await session.exec(select(Purchase.id).where(col(Purchase.status) == status))
            )

    async def targets(self) -> tuple[str, str] | None:
        """A succeeded PaymentIntent of a granted purchase, and one that really failed (a
        declined purchase records none, so it is found in Stripe by its metadata)."""
        granted, failed = await self._purchases("granted"), await self._purchases("failed")
        paid = unpaid = None
        for pi in await self.stripe_api.list_payment_intents():
            named = pi.metadata.get("creditgate_purchase_id")
            if pi.status == "succeeded" and named in granted:
                paid = pi.id
            elif pi.status != "succeeded" and named in failed:
                unpaid = pi.id
        return (paid, unpaid) if paid and unpaid else None

    async def run(self) -> None:
        found = await self.targets()
        if found is None:
            self.record("a paid and a declined purchase to abuse", "found", "missing")
            return
        paid, failed = found
        real = await self.intent(paid)
        await self.replayed(real)
        await self.forged(real)
        await self.stale(real)
        await self.unknown(real)
        await self.failed_made_succeeded(failed)

    async def replayed(self, real: dict[str, Any]) -> None:
        _, payload = event("payment_intent.succeeded", real)
        answers = await asyncio.gather(*(self.post(payload, self.secret) for _ in range(REPLAYS)))
        statuses = sorted({a.status_code for a in answers})
        fresh = sum(1 for a in answers if a.status_code == 200 and not a.json()["duplicate"])
        self.record(
            f"the same signed event {REPLAYS} times",
            f"all 200, stored once ({REPLAYS - 1} duplicates)",
            f"{statuses} answers, {fresh} stored as new"
            if statuses != [200] or fresh != 1
            else f"all 200, stored once ({REPLAYS - 1} duplicates)",
        )

    async def forged(self, real: dict[str, Any]) -> None:
        event_id, payload = event("payment_intent.succeeded", real)
        answer = await self.post(payload, "whsec_" + secrets.token_hex(24))
        kept = await self.stored(event_id)
        self.record(
            "a forged signature", "400, not stored", f"{answer.status_code}, " + _kept(kept)
        )

    async def stale(self, real: dict[str, Any]) -> None:
        event_id, payload = event("payment_intent.succeeded", real)
        answer = await self.post(payload, self.secret, int(time.time()) - STALE_SECONDS)
        kept = await self.stored(event_id)
        self.record(
            f"a signature {STALE_SECONDS} s old",
            "400, not stored",
            f"{answer.status_code}, " + _kept(kept),
        )

    async def unknown(self, real: dict[str, Any]) -> None:
        """A succeeded PaymentIntent Stripe never made, in the metadata of a real purchase."""
        forged = {**real, "id": f"pi_chaos_unknown_{secrets.token_hex(6)}", "status": "succeeded"}
        self.must_not_grant.append(forged["id"])
        _, payload = event("payment_intent.succeeded", forged)
        answer = await self.post(payload, self.secret)
        self.record("an event for an unknown PaymentIntent", "200", str(answer.status_code))

    async def failed_made_succeeded(self, payment_intent: str) -> None:
        real = await self.intent(payment_intent)
        self.must_not_grant += [payment_intent, real["metadata"]["creditgate_purchase_id"]]
        _, payload = event("payment_intent.succeeded", {**real, "status": "succeeded"})
        answer = await self.post(payload, self.secret)
        self.record(
            f"payment_intent.succeeded for {real['status']} {payment_intent}",
            "200",
            str(answer.status_code),
        )


def _kept(stored: bool) -> str:
    return "stored" if stored else "not stored"
