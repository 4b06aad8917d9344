"""The webhook dispatcher: fans committed events out to endpoints and signals (with start)
the ``WebhookDeliveryWorkflow`` of each (endpoint, customer) with deliveries pending.

Durable at every step: fanning out writes the delivery rows and moves the customer's cursor
in one transaction; a row stays marked ``needs_kick`` until its workflow was signalled, so a
worker killed in between signals again (the signal is idempotent: the workflow just looks for
pending rows). Operator retries, replays and re-enabled endpoints mark rows the same way.
"""

import asyncio
import logging
from datetime import timedelta

from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes

from creditgate.infra.db import Database
from creditgate.infra.settings import Settings
from creditgate.webhooks import dispatch
from messages.webhooks import WebhookDeliveryInput
from worker.loop import repeat
from workflows import search_attributes as sa
from workflows.webhook_delivery import WebhookDeliveryWorkflow, webhook_workflow_id

log = logging.getLogger("creditgate.webhooks")

SIGNAL_TIMEOUT = timedelta(seconds=10)


class WebhookDispatcher:
    def __init__(
        self, db: Database, client: Client, settings: Settings, poll_interval: float = 0.2
    ) -> None:
        self.db = db
        self.client = client
        self.task_queue = settings.temporal_task_queue
        self.retry_delays = list(settings.webhook_retry_delays)
        self.poll_interval = poll_interval

    async def run(self, stop: asyncio.Event) -> None:
        log.info("webhook dispatcher started")
        await repeat(stop, self.dispatch_once, self.poll_interval, log, "webhook dispatch pass")
        log.info("webhook dispatcher stopped")

    async def dispatch_once(self) -> bool:
        """One pass; True when there may be more to do right away."""
        fanned = await dispatch.fan_out(self.db)
        kicks = await dispatch.kicks(self.db)
        for kick in kicks:
            try:
                await self._signal(kick)
            except Exception:
                # Marked still: the next pass signals it again; the other streams go on.
                log.exception(
                    "could not signal the webhook workflow of %s for %s",
                    kick.endpoint_id,
                    kick.external_id,
                )
                continue
            await dispatch.kicked(self.db, kick.rows)
        return fanned > 0 or bool(kicks)

    async def _signal(self, kick: dispatch.Kick) -> None:
        await self.client.start_workflow(
            WebhookDeliveryWorkflow.run,
            WebhookDeliveryInput(
                endpoint=kick.endpoint,
                endpoint_id=kick.endpoint_id,
                customer_id=kick.customer_id,
                external_id=kick.external_id,
                retry_delays=self.retry_delays,
            ),
            id=webhook_workflow_id(kick.endpoint_id, kick.external_id),
            task_queue=self.task_queue,
            start_signal="wake",
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(sa.CUSTOMER_ID, kick.external_id),
                    SearchAttributePair(sa.WEBHOOK_ENDPOINT, kick.endpoint_id),
                    SearchAttributePair(sa.WEBHOOK_STATUS, "delivering"),
                ]
            ),
            rpc_timeout=SIGNAL_TIMEOUT,
        )
