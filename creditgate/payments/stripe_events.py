"""Stripe webhook events: verified, then stored once by event id."""

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import stripe
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError
from sqlalchemy import update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel import col

from creditgate.infra.db import Database
from creditgate.infra.db_errors import refused_data
from creditgate.models import StripeEvent
from creditgate.values.identifiers import storable_json

# Stripe's own default: a signature older than this is refused (replays).
TOLERANCE_SECONDS = 300


# Latest ``created`` stored: the end of year 9999, the last a datetime holds.
MAX_CREATED = 253402300799


class InvalidWebhook(ValueError):
    pass


class _EventData(BaseModel):
    object: dict[str, Any]


class _Envelope(BaseModel):
    """What every event must have for it to be stored and routed."""

    model_config = ConfigDict(extra="allow")

    id: Annotated[StrictStr, Field(min_length=1, max_length=255)]
    type: Annotated[StrictStr, Field(min_length=1, max_length=100)]
    created: Annotated[StrictInt, Field(ge=0, le=MAX_CREATED)] | None = None
    data: _EventData


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
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidWebhook("payload is not a JSON Stripe event") from None
    try:
        _Envelope.model_validate(event)
    except ValidationError as err:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) or "event" for e in err.errors())
        raise InvalidWebhook(f"payload is not a usable Stripe event ({fields})") from None
    try:
        storable_json(event)
    except (ValueError, RecursionError) as err:
        raise InvalidWebhook(f"payload cannot be stored: {err}") from None
    return dict(event)


async def record(db: Database, event: dict[str, Any]) -> Received:
    """Store the event once; a second delivery of the same id is a duplicate."""
    created = event.get("created")
    row = StripeEvent(
        id=event["id"],
        type=event["type"],
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
    except DBAPIError as err:
        if not refused_data(err):
            raise
        # A value the database cannot hold (beyond what verify checks): the event is unusable.
        raise InvalidWebhook(f"event cannot be stored: {err.orig}") from None
    return Received(row.id, row.type, duplicate=False, handled=False)


async def mark_handled(db: Database, event_id: str) -> None:
    async with db.transaction() as session:
        await session.exec(
            update(StripeEvent)
            .where(col(StripeEvent.id) == event_id, col(StripeEvent.handled_at).is_(None))
            .values(handled_at=datetime.now(UTC))
        )
