"""The Stripe webhook's answer."""

from pydantic import BaseModel


class WebhookAck(BaseModel):
    received: bool = True
    id: str
    type: str
    duplicate: bool
