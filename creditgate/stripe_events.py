"""Stripe webhook events: verified, then stored once by event id."""

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import stripe
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from creditgate.db import Database
from creditgate.models import StripeEvent

# Stripe's own default: a signature older than this is refused (replays).
TOLERANCE_SECONDS = 300


class InvalidWebhook(ValueError):
    pass


@dataclass(frozen=True)
class Received:
    id: str
    type: str
    duplicate: bool
    handled: bool  # already routed to its workflow (by an earlier delivery)


def verify(payload: bytes, signature: str | None, secret: str) -> dict[str, Any]:
    """The event, if ``Stripe-Signature`` is valid for ``secret`` and recent; else raise."""
    if not secret:
        # Anyone can sign with an empty secret; settings refuse it too.
        raise InvalidWebhook("no webhook secret is configured")
    if not signature:
        raise InvalidWebhook("missing Stripe-Signature header")
    try:
        stripe.WebhookSignature.verify_header(
            payload.decode("utf-8"), signature, secret, TOLERANCE_SECONDS
        )
        event = json.loads(payload)
    except stripe.SignatureVerificationError as err:
        raise InvalidWebhook(f"signature verification failed: {err.user_message or err}") from None
    except (UnicodeDecodeError, ValueError):
        raise InvalidWebhook("payload is not a JSON Stripe event") from None
    if not isinstance(event, dict) or not isinstance(event.get("id"), str):
        raise InvalidWebhook("payload is not a Stripe event")
    return event


async def record(db: Database, event: dict[str, Any]) -> Received:
    """Store the event once; a second delivery of the same id is a duplicate."""
    created = event.get("created")
    row = StripeEvent(
        id=event["id"],
        type=str(event.get("type", ""))[:100],
        created_at=datetime.fromtimestamp(created, UTC)
        if isinstance(created, int)
        else datetime.now(UTC),
        payload=event,
    )
    try:
        async with db.transaction() as session:
            session.add(row)
    except IntegrityError:
        async with db.session() as session:
            stored = await session.get(StripeEvent, row.id)
        handled = stored is not None and stored.handled_at is not None
        return Received(row.id, row.type, duplicate=True, handled=handled)
    return Received(row.id, row.type, duplicate=False, handled=False)


async def mark_handled(db: Database, event_id: str) -> None:
    async with db.transaction() as session:
        await session.exec(
            update(StripeEvent)
            .where(col(StripeEvent.id) == event_id, col(StripeEvent.handled_at).is_(None))
            .values(handled_at=datetime.now(UTC))
        )
