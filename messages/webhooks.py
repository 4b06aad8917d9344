"""Delivering a customer's events to one webhook endpoint (``WebhookDeliveryWorkflow``)."""

from typing import Literal

from pydantic import BaseModel


class WebhookDeliveryInput(BaseModel):
    endpoint: int  # webhook_endpoints.id
    endpoint_id: str
    customer_id: int
    external_id: str
    # Seconds to wait after each failed attempt (settings ``webhook_retry_delays``).
    retry_delays: list[int]


class StreamRef(BaseModel):
    endpoint: int
    customer_id: int


class NextDelivery(BaseModel):
    # deliver: ``delivery`` is the customer's oldest pending event for the endpoint;
    # idle: nothing pending; blocked: a delivery failed for good and waits for an operator;
    # stopped: the endpoint is disabled or deleted.
    state: Literal["deliver", "idle", "blocked", "stopped"]
    delivery: int | None = None
    generation: int = 0
    sequence: int = 0


class AttemptInput(BaseModel):
    delivery: int
    generation: int
    # The last attempt: failing, the delivery is marked failed and the endpoint failing.
    final: bool


class AttemptResult(BaseModel):
    # delivered: a 2xx (now or by an earlier attempt); stale: reset or removed meanwhile.
    outcome: Literal["delivered", "stale"]


# ApplicationError types the attempt raises (non-retryable: the workflow schedules retries).
DELIVERY_FAILED = "WebhookDeliveryFailed"
ENDPOINT_GONE = "WebhookEndpointGone"
