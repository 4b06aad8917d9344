"""Webhook delivery's I/O: which event goes next, and one signed HTTP attempt."""

import asyncio
import json
import logging
from datetime import UTC, datetime

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from creditgate.events.envelope import envelope
from creditgate.infra.db import Database
from creditgate.webhooks import addresses, deliveries, signing
from creditgate.webhooks.endpoints import signing_secrets
from messages.webhooks import (
    DELIVERY_FAILED,
    ENDPOINT_GONE,
    AttemptInput,
    AttemptResult,
    NextDelivery,
    StreamRef,
)

log = logging.getLogger("creditgate.webhooks")
JSON = "application/json"


class WebhookActivities:
    def __init__(
        self, db: Database, timeout_seconds: float, allow_private_networks: bool = False
    ) -> None:
        self.db = db
        self.timeout = timeout_seconds
        self.allow_private_networks = allow_private_networks

    @activity.defn
    async def next_webhook_delivery(self, stream: StreamRef) -> NextDelivery:
        return await deliveries.next_delivery(self.db, stream.endpoint, stream.customer_id)

    @activity.defn
    async def attempt_webhook_delivery(self, input: AttemptInput) -> AttemptResult:
        """One HTTP POST. 2xx: delivered; 410: the endpoint is disabled; anything else raises
        a non-retryable ApplicationError and the workflow waits before the next attempt."""
        found = await deliveries.attempt(self.db, input.delivery, input.generation)
        if found is None:
            return AttemptResult(outcome="stale")
        if found.delivery.status == "succeeded":
            return AttemptResult(outcome="delivered")  # an attempt before a crash got through
        body = json.dumps(envelope(found.event), separators=(",", ":"))
        now = datetime.now(UTC)
        headers = signing.headers(
            found.event.event_id, now, body, signing_secrets(found.endpoint, now)
        )
        outcome = await self._checked(found.endpoint.url) or await self._post(
            found.endpoint.url, body, headers
        )
        await deliveries.record(self.db, found.delivery, outcome, input.final)
        if outcome.delivered:
            return AttemptResult(outcome="delivered")
        log.info(
            "webhook %s to endpoint %s not delivered (attempt %d): %s",
            found.event.event_id,
            found.endpoint.endpoint_id,
            found.delivery.attempts + 1,
            outcome.error,
        )
        kind = ENDPOINT_GONE if outcome.gone else DELIVERY_FAILED
        raise ApplicationError(
            outcome.error or "not delivered", outcome.status_code, type=kind, non_retryable=True
        )

    async def _checked(self, url: str) -> deliveries.Outcome | None:
        """A failed attempt when the host (resolved again: its DNS may have changed since the
        endpoint was saved) is not public. httpx resolves once more to connect, so a name
        answering differently within that moment still gets through: the check narrows DNS
        rebinding, a network egress policy closes it."""
        if self.allow_private_networks:
            return None
        refused = await addresses.refusal(url, min(self.timeout, addresses.RESOLVE_TIMEOUT_SECONDS))
        return None if refused is None else deliveries.Outcome(None, f"not sent: {refused}")

    async def _post(self, url: str, body: str, headers: dict[str, str]) -> deliveries.Outcome:
        try:
            async with (
                asyncio.timeout(self.timeout),  # the whole attempt, not each phase
                httpx.AsyncClient(timeout=self.timeout, follow_redirects=False) as http,
                # Only the status matters: the receiver's body is never read.
                http.stream(
                    "POST", url, content=body, headers={**headers, "content-type": JSON}
                ) as response,
            ):
                status = response.status_code
        except TimeoutError:
            return deliveries.Outcome(None, f"no answer within {self.timeout:g} s")
        except httpx.HTTPError as err:
            return deliveries.Outcome(None, f"{type(err).__name__}: {err}")
        return deliveries.Outcome(status, None if 200 <= status < 300 else f"HTTP {status}")
