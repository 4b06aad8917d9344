"""``POST /v1/stripe/webhook``: Stripe's signed events (no API key: the signature is the auth)."""

from typing import Annotated

from fastapi import APIRouter, Header, Request
from pydantic import BaseModel

from api.deps import DbDep, SettingsDep
from api.errors import ApiError
from creditgate import stripe_events

router = APIRouter(tags=["stripe"])
PATH = "/v1/stripe/webhook"


class WebhookAck(BaseModel):
    received: bool = True
    id: str
    type: str
    duplicate: bool


@router.post(PATH, response_model=WebhookAck)
async def stripe_webhook(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    stripe_signature: Annotated[str | None, Header()] = None,
) -> WebhookAck:
    """Verify the signature (400 when wrong, missing or older than 5 minutes, and nothing is
    stored), store the event once by its id, and answer 200 — also for event types Creditgate
    does not act on, so Stripe stops retrying them."""
    payload = await request.body()
    try:
        event = stripe_events.verify(payload, stripe_signature, settings.stripe_webhook_secret)
    except stripe_events.InvalidWebhook as err:
        raise ApiError(400, "invalid_webhook", str(err)) from None
    received = await stripe_events.record(db, event)
    return WebhookAck(id=received.id, type=received.type, duplicate=received.duplicate)
