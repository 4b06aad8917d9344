"""Payment activities: Stripe PaymentIntents and saved cards, purchase rows, grants, refunds.

A declined card is a business outcome: a non-retryable ``ApplicationError`` of type
``CardDeclined`` that the workflow handles. Network errors, rate limits and Stripe 5xx
propagate and are retried by the activity retry policy; each Stripe call carries an
idempotency key made once by the workflow, so a retry never charges twice.
"""

from decimal import Decimal

from temporalio import activity
from temporalio.exceptions import ApplicationError

from creditgate.infra.db import Database
from creditgate.ledger.customers import get_customer
from creditgate.ledger.errors import NotFound
from creditgate.models import AutoRecharge, Customer, Purchase
from creditgate.payments import charges, store
from creditgate.payments.stripe_gateway import PaymentDeclined, PaymentIntentRef, StripeGateway
from creditgate.plans import catalog as plans
from creditgate.pricing.currency import to_minor_units
from creditgate.statements.periods import expiry_after
from messages.customer import AttachInput
from messages.late_payment import SettledPayment
from messages.purchase import (
    CreateIntentInput,
    FailPurchaseInput,
    GrantedPurchase,
    IntentView,
    OpenPurchaseInput,
    PurchaseRef,
    PurchaseView,
    RefundInput,
    RefundResult,
)
from messages.recharge import PrepareRechargeInput, RechargeTicket, SaveAutoRechargeInput

CARD_DECLINED = "CardDeclined"


def _declined(err: PaymentDeclined) -> ApplicationError:
    return ApplicationError(err.reason, type=CARD_DECLINED, non_retryable=True)


def _view(pi: PaymentIntentRef) -> IntentView:
    failure = None
    if pi.failure_message or pi.failure_code:
        failure = f"{pi.failure_message or 'payment failed'} ({pi.failure_code or 'unknown'})"
    return IntentView(id=pi.id, status=pi.status, client_secret=pi.client_secret, failure=failure)


def purchase_record(purchase: Purchase) -> PurchaseView:
    return PurchaseView(
        id=purchase.id,
        kind=purchase.kind,
        status=purchase.status,
        amount=purchase.amount,
        currency=purchase.currency,
        credits=purchase.credits,
        payment_intent=purchase.payment_intent,
        client_secret=purchase.client_secret,
        reason=purchase.reason,
    )


class PaymentActivities:
    def __init__(self, db: Database, stripe: StripeGateway) -> None:
        self.db = db
        self.stripe = stripe

    @activity.defn
    async def open_purchase(self, input: OpenPurchaseInput) -> PurchaseView:
        customer_id = await store.customer_id_of(self.db, input.external_id)
        stored = await store.open_purchase(
            self.db,
            Purchase(
                id=input.purchase_id,
                customer_id=customer_id,
                kind=input.kind,
                amount=input.amount,
                currency=input.currency,
                credits=input.credits,
                payment_method=input.payment_method,
                expires_at=input.expires_at,
                workflow_id=input.workflow_id,
            ),
        )
        return purchase_record(stored)

    @activity.defn
    async def create_payment_intent(self, input: CreateIntentInput) -> IntentView:
        """Attach the card if asked, create (and with a card, confirm) the PaymentIntent,
        and store its id on the purchase."""
        try:
            if input.payment_method and input.attach_payment_method:
                await self.stripe.attach_payment_method(
                    input.payment_method, input.stripe_customer_id
                )
            pi = await self.stripe.create_payment_intent(
                amount=to_minor_units(input.amount, input.currency),
                currency=input.currency,
                customer=input.stripe_customer_id,
                payment_method=input.payment_method,
                off_session=input.off_session,
                metadata={
                    "creditgate_purchase_id": input.purchase_id,
                    "creditgate_kind": input.kind,
                    "creditgate_customer": input.external_id,
                    "creditgate_workflow_id": input.workflow_id,
                    **input.extra_metadata,
                },
                idempotency_key=input.idempotency_key,
            )
        except PaymentDeclined as err:
            raise _declined(err) from None
        await store.record_intent(self.db, input.purchase_id, pi.id, pi.client_secret)
        return _view(pi)

    @activity.defn
    async def get_payment_intent(self, payment_intent: str) -> IntentView:
        return _view(await self.stripe.get_payment_intent(payment_intent))

    @activity.defn
    async def cancel_payment_intent(self, payment_intent: str) -> IntentView:
        return _view(await self.stripe.cancel_payment_intent(payment_intent))

    @activity.defn
    async def grant_purchase(self, input: PurchaseRef) -> GrantedPurchase:
        granted = await store.grant_purchase(self.db, input.purchase_id)
        return GrantedPurchase(
            grant_id=granted.grant_id, credits=granted.credits, created=granted.created
        )

    @activity.defn
    async def settle_paid_intent(self, payment_intent: str) -> SettledPayment | None:
        """Grant the purchase of a PaymentIntent that Stripe reports succeeded, whatever its
        purchase's status says (a workflow may have given up on it); None when it has not
        succeeded or is not ours."""
        pi = await self.stripe.get_payment_intent(payment_intent)
        if pi.status != "succeeded":
            return None
        purchase = await store.purchase_of_intent(
            self.db, pi.id, pi.metadata.get("creditgate_purchase_id")
        )
        if purchase is None:
            return None
        if pi.amount != to_minor_units(purchase.amount, purchase.currency):
            raise ApplicationError(
                f"PaymentIntent {pi.id} charged {pi.amount} minor units, purchase "
                f"{purchase.id} is {purchase.amount} {purchase.currency}",
                non_retryable=True,
            )
        granted = await store.grant_purchase(self.db, purchase.id)
        stored = await store.get_purchase(self.db, purchase.id)
        assert stored is not None
        async with self.db.session() as session:
            customer = await session.get(Customer, purchase.customer_id)
        assert customer is not None
        closing = customer.status in ("closing", "closed")
        return SettledPayment(
            purchase=purchase_record(stored),
            customer_workflow_id=customer.workflow_id,
            created=granted.created,
            closing_account=customer.external_id if closing else None,
        )

    @activity.defn
    async def fail_purchase(self, input: FailPurchaseInput) -> PurchaseView:
        return purchase_record(await store.fail_purchase(self.db, input.purchase_id, input.reason))

    @activity.defn
    async def read_purchase(self, input: PurchaseRef) -> PurchaseView:
        stored = await store.get_purchase(self.db, input.purchase_id)
        if stored is None:
            raise ApplicationError(f"no purchase {input.purchase_id}", non_retryable=True)
        return purchase_record(stored)

    @activity.defn
    async def find_purchase(self, input: PurchaseRef) -> PurchaseView | None:
        """The purchase, or None while its workflow has not stored it yet."""
        stored = await store.get_purchase(self.db, input.purchase_id)
        return None if stored is None else purchase_record(stored)

    @activity.defn
    async def prepare_recharge(self, input: PrepareRechargeInput) -> RechargeTicket | None:
        """Price one recharge attempt now; ``None`` when available is above the threshold
        again (credits arrived some other way) and nothing needs charging."""
        async with self.db.session() as session:
            stored_customer = await get_customer(session, input.external_id)
            if stored_customer is None:
                raise ApplicationError(f"no customer {input.external_id!r}", non_retryable=True)
            customer = stored_customer.customer
            plan = await plans.definition(session, customer.plan_code, customer.plan_version or 1)
        available = stored_customer.wallet.available
        if available > input.threshold or customer.status in ("closing", "closed"):
            return None
        charge = charges.for_recharge(available, input.recharge_to, plan)
        payment_method = customer.payment_method or input.payment_method
        expires_at = (
            expiry_after(activity.info().started_time, plan.credit_lifetime)
            if plan.credit_lifetime
            else None
        )
        await store.open_purchase(
            self.db,
            Purchase(
                id=input.purchase_id,
                customer_id=customer.id,  # type: ignore[arg-type]
                kind="recharge",
                amount=charge.amount,
                currency=charge.currency,
                credits=charge.credits,
                payment_method=payment_method,
                expires_at=expires_at,
                workflow_id=input.workflow_id,
            ),
        )
        stored = await store.get_purchase(self.db, input.purchase_id)
        assert stored is not None
        return RechargeTicket(
            purchase_id=stored.id,
            amount=stored.amount,
            currency=stored.currency,
            credits=stored.credits,
            available=available,
            payment_method=stored.payment_method or payment_method,
        )

    @activity.defn
    async def attach_payment_method(self, input: AttachInput) -> None:
        """Attach a card to the Stripe customer and save it as theirs."""
        try:
            await self.stripe.attach_payment_method(input.payment_method, input.stripe_customer_id)
        except PaymentDeclined as err:
            raise _declined(err) from None
        await store.save_payment_method(self.db, input.external_id, input.payment_method)

    @activity.defn
    async def save_auto_recharge(self, input: SaveAutoRechargeInput) -> Decimal:
        """Store the settings, arm the ledger's threshold; returns available now."""
        return await store.save_auto_recharge(
            self.db,
            input.external_id,
            AutoRecharge(
                customer_id=0,
                enabled=input.enabled,
                threshold=input.threshold,
                recharge_to=input.recharge_to,
                payment_method=input.payment_method,
                status=input.status,
                disabled_reason=input.disabled_reason,
            ),
        )

    @activity.defn
    async def refund_purchase(self, input: RefundInput) -> RefundResult | None:
        try:
            refunded = await store.refund_purchase(
                self.db, input.payment_intent, input.amount_refunded
            )
        except NotFound:
            return None  # not a Creditgate payment
        return RefundResult(
            purchase_id=refunded.purchase_id,
            credits=refunded.clawback.credits,
            from_grant=refunded.clawback.from_grant,
            charged=refunded.clawback.charged,
            refunded_amount=refunded.refunded_amount,
        )
