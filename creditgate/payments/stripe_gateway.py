"""The one place that talks to Stripe (or localstripe, which speaks the same API)."""

from dataclasses import dataclass

import stripe

from creditgate.infra.settings import Settings


@dataclass(frozen=True)
class StripeCustomerRef:
    id: str


@dataclass(frozen=True)
class PaymentIntentRef:
    id: str
    status: str
    amount: int  # minor units
    currency: str
    client_secret: str | None
    metadata: dict[str, str]
    customer: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None


@dataclass(frozen=True)
class SetupIntentRef:
    id: str
    status: str
    customer: str | None
    payment_method: str | None
    client_secret: str | None


def _setup_intent(intent: stripe.SetupIntent) -> SetupIntentRef:
    data = intent.to_dict()
    method = data.get("payment_method")
    return SetupIntentRef(
        id=data["id"],
        status=data["status"],
        customer=data.get("customer"),
        payment_method=method if isinstance(method, str) or method is None else method["id"],
        client_secret=data.get("client_secret"),
    )


@dataclass(frozen=True)
class RefundRef:
    id: str
    amount: int  # minor units
    purchase: str | None  # the Creditgate purchase it names (an account closure's refunds)


class PaymentDeclined(Exception):
    """Stripe refused the card (a business outcome, not an outage)."""

    def __init__(self, code: str | None, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def reason(self) -> str:
        return f"{self.message} ({self.code})" if self.code else self.message


def _intent(pi: stripe.PaymentIntent) -> PaymentIntentRef:
    data = pi.to_dict()
    error = data.get("last_payment_error") or {}
    return PaymentIntentRef(
        id=data["id"],
        status=data["status"],
        amount=int(data["amount"]),
        currency=str(data["currency"]).upper(),
        client_secret=data.get("client_secret"),
        metadata=dict(data.get("metadata") or {}),
        customer=data.get("customer"),
        failure_code=error.get("code"),
        failure_message=error.get("message"),
    )


def _declined(err: stripe.StripeError) -> PaymentDeclined:
    code = getattr(err, "code", None)
    return PaymentDeclined(code, err.user_message or str(err))


class StripeGateway:
    """Customers, saved cards and PaymentIntents. Card errors become ``PaymentDeclined``;
    connection errors, rate limits and 5xx propagate for the activity retry policy."""

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

    async def update_customer(self, customer: str, *, name: str, email: str) -> None:
        await self.client.v1.customers.update_async(customer, {"name": name, "email": email})

    async def attach_payment_method(self, payment_method: str, customer: str) -> None:
        try:
            await self.client.v1.payment_methods.attach_async(
                payment_method, {"customer": customer}
            )
        except stripe.CardError as err:
            raise _declined(err) from None
        except stripe.InvalidRequestError as err:
            raise PaymentDeclined(
                err.code or "invalid_payment_method", str(err.user_message or err)
            ) from None

    async def create_payment_intent(
        self,
        *,
        amount: int,
        currency: str,
        customer: str,
        payment_method: str | None,
        off_session: bool,
        metadata: dict[str, str],
        idempotency_key: str,
    ) -> PaymentIntentRef:
        params: dict[str, object] = {
            "amount": amount,
            "currency": currency.lower(),
            "customer": customer,
            "metadata": metadata,
        }
        if payment_method is not None:
            params |= {"payment_method": payment_method, "confirm": True}
            if off_session:
                params["off_session"] = True
        try:
            pi = await self.client.v1.payment_intents.create_async(
                params,  # type: ignore[arg-type]
                {"idempotency_key": idempotency_key},
            )
        except stripe.CardError as err:
            raise _declined(err) from None
        return _intent(pi)

    async def get_payment_intent(self, payment_intent: str) -> PaymentIntentRef:
        return _intent(await self.client.v1.payment_intents.retrieve_async(payment_intent))

    async def cancel_payment_intent(self, payment_intent: str) -> PaymentIntentRef:
        """Cancel unless it already finished; either way, return where it ended."""
        try:
            return _intent(await self.client.v1.payment_intents.cancel_async(payment_intent))
        except stripe.InvalidRequestError:
            return await self.get_payment_intent(payment_intent)

    async def list_payment_intents(self) -> list[PaymentIntentRef]:
        found: list[PaymentIntentRef] = []
        params: dict[str, object] = {"limit": 100}
        while True:
            page = await self.client.v1.payment_intents.list_async(params)  # type: ignore[arg-type]
            found += [_intent(pi) for pi in page.data]
            if not page.has_more or not page.data:
                return found
            params["starting_after"] = page.data[-1].id

    async def refund(
        self, *, payment_intent: str, amount: int, idempotency_key: str, metadata: dict[str, str]
    ) -> str:
        """Refund ``amount`` (minor units) of a paid PaymentIntent; the refund's id. Stripe's
        refusal (already refunded, a disputed charge) is ``PaymentDeclined``."""
        try:
            refund = await self.client.v1.refunds.create_async(
                {"payment_intent": payment_intent, "amount": amount, "metadata": metadata},
                {"idempotency_key": idempotency_key},
            )
        except stripe.InvalidRequestError as err:
            raise PaymentDeclined(
                err.code or "refund_refused", str(err.user_message or err)
            ) from None
        return refund.id

    async def refunds_of(self, payment_intent: str) -> list[RefundRef]:
        page = await self.client.v1.refunds.list_async(
            {"payment_intent": payment_intent, "limit": 100}
        )
        return [
            RefundRef(
                id=r.id,
                amount=r.amount,
                purchase=str(getattr(r.metadata, "creditgate_purchase", "")) or None,
            )
            for r in page.data
        ]

    async def customer_cards(self, customer: str) -> list[str]:
        params: dict[str, object] = {"customer": customer, "type": "card", "limit": 100}
        page = await self.client.v1.payment_methods.list_async(params)  # type: ignore[arg-type]
        return [pm.id for pm in page.data]

    async def detach_payment_method(self, payment_method: str) -> None:
        """Detach a card from its customer; one already detached (or gone) is done."""
        try:
            await self.client.v1.payment_methods.detach_async(payment_method)
        except stripe.InvalidRequestError:
            return

    async def create_setup_intent(self, *, customer: str) -> SetupIntentRef:
        """A SetupIntent for saving a card for off-session use (confirmed by Stripe.js)."""
        params: dict[str, object] = {
            "customer": customer,
            "usage": "off_session",
            "payment_method_types": ["card"],
        }
        intent = await self.client.v1.setup_intents.create_async(params)  # type: ignore[arg-type]
        return _setup_intent(intent)

    async def get_setup_intent(self, setup_intent: str) -> SetupIntentRef:
        return _setup_intent(await self.client.v1.setup_intents.retrieve_async(setup_intent))
