"""WebhookDeliveryWorkflow (``webhook-{endpoint_id}-{external_id}``): one customer's events
to one endpoint, one at a time in sequence order.

The worker's dispatcher signals it (``wake``, with start) whenever rows are pending. It asks
for the oldest pending delivery and makes attempts, one HTTP POST per activity, waiting out
``retry_delays`` between them (days of retries are a workflow loop with durable timers, not
an activity retry policy). After the last attempt the delivery is failed, the endpoint
failing, and the workflow waits for an operator's retry or replay (``wake``); the
customer's later events wait behind it. 410 disables the endpoint and the workflow ends.
"""

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

from workflows import search_attributes as sa
from workflows.activity_calls import call

with workflow.unsafe.imports_passed_through():
    from activities.webhooks import WebhookActivities
    from messages.webhooks import (
        ENDPOINT_GONE,
        AttemptInput,
        NextDelivery,
        StreamRef,
        WebhookDeliveryInput,
    )

# Deliveries before continuing as new: keeps the history short.
DELIVERIES_PER_RUN = 200
# A blocked stream looks again this often, so one of a deleted endpoint ends.
BLOCKED_RECHECK = timedelta(days=1)


def webhook_workflow_id(endpoint_id: str, external_id: str) -> str:
    return f"webhook-{endpoint_id}-{external_id}"


@workflow.defn
class WebhookDeliveryWorkflow:
    @workflow.init
    def __init__(self, input: WebhookDeliveryInput) -> None:
        self._woken = False
        self._status = ""

    @workflow.signal
    def wake(self) -> None:
        """New or reset deliveries are pending."""
        self._woken = True

    @workflow.query
    def status(self) -> str:
        return self._status

    @workflow.run
    async def run(self, input: WebhookDeliveryInput) -> None:
        stream = StreamRef(endpoint=input.endpoint, customer_id=input.customer_id)
        delivered = 0
        while True:
            self._woken = False
            step = await call(WebhookActivities.next_webhook_delivery, stream)
            if step.state == "deliver":
                if await self._deliver(input, step):
                    delivered += 1
                if delivered >= DELIVERIES_PER_RUN:
                    await workflow.wait_condition(workflow.all_handlers_finished)
                    workflow.continue_as_new(input)
                continue
            if step.state == "blocked":
                self._set_status("failing")
                await workflow.wait_condition(lambda: self._woken, timeout=BLOCKED_RECHECK)
                continue
            if step.state == "idle" and self._woken:
                continue  # woken while looking: look again
            self._set_status("idle")
            await workflow.wait_condition(workflow.all_handlers_finished)
            if not self._woken:
                return

    async def _deliver(self, input: WebhookDeliveryInput, step: NextDelivery) -> bool:
        """Attempts until delivered or the last fails; True when delivered."""
        assert step.delivery is not None
        self._set_status("delivering")
        for attempt, delay in enumerate([*input.retry_delays, None]):
            try:
                result = await call(
                    WebhookActivities.attempt_webhook_delivery,
                    AttemptInput(
                        delivery=step.delivery, generation=step.generation, final=delay is None
                    ),
                )
                return result.outcome == "delivered"
            except ActivityError as err:
                cause = err.cause
                if isinstance(cause, ApplicationError) and cause.type == ENDPOINT_GONE:
                    return False
                if delay is None:
                    return False
                workflow.logger.info(
                    "delivery %s attempt %d failed; next in %ds", step.delivery, attempt + 1, delay
                )
                self._set_status("retrying")
                await workflow.sleep(delay)
        return False

    def _set_status(self, status: str) -> None:
        if status != self._status:
            self._status = status
            workflow.upsert_search_attributes([sa.WEBHOOK_STATUS.value_set(status)])
