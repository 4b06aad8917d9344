"""Stripe webhook events: verified, then stored once by event id."""

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import stripe
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError
from sqlalchemy import update
from sqlalchemy.exc import DataError, IntegrityError
from sqlmodel import col

from creditgate.db import Database
from creditgate.models import StripeEvent

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


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):  # 1e400: JSON columns (PostgreSQL's) cannot hold it
        raise ValueError("number out of range")
    return number


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _storable(value: Any) -> bool:
    """No NUL and no lone surrogate in any string or key (PostgreSQL refuses both)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item or any("\ud800" <= char <= "\udfff" for char in item):
                return False
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return True


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
        event = json.loads(payload, parse_float=_finite, parse_constant=_refuse_constant)
    except stripe.SignatureVerificationError as err:
        raise InvalidWebhook(f"signature verification failed: {err.user_message or err}") from None
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidWebhook("payload is not a JSON Stripe event") from None
    try:
        _Envelope.model_validate(event)
    except ValidationError as err:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) or "event" for e in err.errors())
        raise InvalidWebhook(f"payload is not a usable Stripe event ({fields})") from None
    if not _storable(event):
        raise InvalidWebhook("payload has a NUL character or a lone surrogate")
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
    except DataError as err:  # a value the database cannot hold: the event is unusable
        raise InvalidWebhook(f"event cannot be stored: {err.orig.__class__.__name__}") from None
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
