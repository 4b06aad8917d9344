"""``POST /v1/stripe/webhook``: Stripe's signed events (no API key: the signature is the auth)."""

import logging
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Header, Request
from temporalio.service import RPCError, RPCStatusCode

from api import stripe_routing
from api.deps import DbDep, SettingsDep, get_temporal
from api.errors import ApiError
from api.schemas.common import ERRORS
from api.schemas.stripe_webhook import WebhookAck
from creditgate.payments import stripe_events

log = logging.getLogger("creditgate.api")
router = APIRouter(tags=["stripe"], responses=ERRORS)
PATH = "/v1/stripe/webhook"


@router.post(PATH, response_model=WebhookAck)
async def stripe_webhook(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    stripe_signature: Annotated[str | None, Header()] = None,
) -> WebhookAck:
    """Verify the signature (400 when wrong, missing or older than 5 minutes, and nothing is
    stored), store the event once by its id, signal the workflow it concerns, and answer 200
    — also for event types Creditgate does not act on, so Stripe stops retrying them. 503
    when Temporal is unreachable: Stripe delivers again and the repeat is routed then.
    A signed event without an id, a type and a data object, or with values the database
    cannot hold, is a 400 and stored nothing; a stored event whose object lacks what its
    type needs is acknowledged and not acted on (both are logged)."""
    payload = await request.body()
    try:
        event = stripe_events.verify(payload, stripe_signature, settings.stripe_webhook_secret)
        received = await stripe_events.record(db, event)
    except stripe_events.InvalidWebhook as err:
        log.warning("Stripe webhook refused: %s", err)
        raise ApiError(400, "invalid_webhook", str(err)) from None
    if not received.handled:
        # A repeat of an event whose routing failed (Temporal was down) routes it now.
        try:
            await stripe_routing.route(
                partial(get_temporal, request), db, event, settings.temporal_task_queue
            )
        except RPCError as err:
            if err.status != RPCStatusCode.INVALID_ARGUMENT:
                raise ApiError(
                    503, "temporal_unavailable", f"event stored, not yet routed: {err.message}"
                ) from None
            # Temporal refuses what the event names (e.g. its workflow id): unusable.
            log.warning("Stripe event %r not acted on: %s", received.id, err.message)
        await stripe_events.mark_handled(db, received.id)
    return WebhookAck(id=received.id, type=received.type, duplicate=received.duplicate)
