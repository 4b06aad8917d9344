"""The one place that talks to Stripe (or localstripe, which speaks the same API)."""

from dataclasses import dataclass

import stripe

from creditgate.settings import Settings


@dataclass(frozen=True)
class StripeCustomerRef:
    id: str


class StripeGateway:
    def __init__(self, api_key: str, api_base: str, max_network_retries: int = 0) -> None:
        # Retries are the Temporal activity retry policy's job; the SDK's own stay off so an
        # attempt is one request.
        self.client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base.rstrip("/")},
            max_network_retries=max_network_retries,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> "StripeGateway":
        return cls(settings.stripe_api_key, settings.stripe_api_base)

    async def create_customer(
        self, *, external_id: str, name: str, email: str, idempotency_key: str
    ) -> StripeCustomerRef:
        customer = await self.client.v1.customers.create_async(
            {"name": name, "email": email, "metadata": {"creditgate_external_id": external_id}},
            {"idempotency_key": idempotency_key},
        )
        return StripeCustomerRef(id=customer.id)
