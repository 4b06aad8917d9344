"""Purchases, the saved card and auto-recharge: each is an update on ``CustomerWorkflow``."""

from typing import Annotated

from fastapi import APIRouter, Header, Response, status

from api.deps import CustomerDep, DbDep, SettingsDep, TemporalDep
from api.errors import ApiError
from api.payment_calls import plan_of, save_card, set_auto_recharge, start_purchase
from api.schemas.common import ERROR_CONTENT, ERRORS, PurchaseIdPath
from api.schemas.payments import (
    AutoRechargePublic,
    AutoRechargeSet,
    PaymentMethodPublic,
    PaymentMethodSet,
    PurchaseCreate,
    PurchasePublic,
)
from creditgate.infra.db import Database
from creditgate.payments import idempotency, store
from creditgate.values.identifiers import ExternalId

router = APIRouter(tags=["payments"], responses=ERRORS)


@router.post(
    "/customers/{external_id}/purchases",
    status_code=status.HTTP_201_CREATED,
    response_model=PurchasePublic,
    responses={
        200: {
            "model": PurchasePublic,
            "description": "Repeat of an Idempotency-Key: the purchase made the first time",
        },
        402: {
            "content": ERROR_CONTENT,
            "description": "The card was declined; the purchase is `failed` (see GET)",
        },
        422: {
            "content": ERROR_CONTENT,
            "description": "Invalid, or an Idempotency-Key reused with another body",
        },
    },
)
async def create_purchase(
    stored: CustomerDep,
    body: PurchaseCreate,
    response: Response,
    db: DbDep,
    settings: SettingsDep,
    client: TemporalDep,
    idempotency_key: Annotated[str | None, Header(min_length=1, max_length=200)] = None,
) -> PurchasePublic:
    """Buy credits: ``amount`` (money) or ``credits``. With a card (``payment_method``, or
    the saved one) it is charged at once; otherwise confirm ``client_secret`` with Stripe.js.
    Credits are granted only when Stripe reports the payment succeeded; until then the
    purchase is ``pending``. An ``Idempotency-Key`` is kept for at least 30 days, bound to
    the body: a repeat answers with the same purchase, another body with the same key is a
    422 ``idempotency_error``."""
    customer = stored.customer
    plan = await plan_of(db, customer)
    assert customer.id is not None
    if idempotency_key is not None:
        made = await _claim_key(db, customer.id, idempotency_key, body)
        if made is not None:
            return await _answer(db, made, response, created=False)
    try:
        answer = await start_purchase(body, customer, plan, settings, client, idempotency_key)
    except ApiError as err:
        if idempotency_key is not None and err.status in (409, 422):
            await idempotency.release(db, customer.id, idempotency_key)  # nothing was made
        raise
    if idempotency_key is not None:
        await idempotency.bind(db, customer.id, idempotency_key, answer.purchase.id)
    return await _answer(db, answer.purchase.id, response, answer.created)


async def _claim_key(db: Database, customer_id: int, key: str, body: PurchaseCreate) -> str | None:
    """The purchase an earlier request with this key made, if any; 422 when that request
    had another body."""
    digest = idempotency.request_hash(body.model_dump(mode="json"))
    stored = await idempotency.claim(db, customer_id, key, digest)
    if stored.request_hash != digest:
        raise ApiError(
            422,
            "idempotency_error",
            "this Idempotency-Key was used with a different request body; use a new key "
            "for a new purchase",
        )
    return stored.purchase_id


async def _answer(
    db: Database, purchase_id: str, response: Response, created: bool
) -> PurchasePublic:
    stored = await store.get_purchase(db, purchase_id)
    if stored is None:
        raise ApiError(500, "internal_error", "purchase started but not stored")
    public = PurchasePublic.of(stored)
    if public.status == "failed":
        raise ApiError(
            402,
            "card_declined",
            public.reason or "payment failed",
            purchase=public.model_dump(mode="json"),
        )
    if not created:
        response.status_code = status.HTTP_200_OK
    return public


@router.get("/purchases/{purchase_id}", response_model=PurchasePublic)
async def read_purchase(purchase_id: PurchaseIdPath, db: DbDep) -> PurchasePublic:
    stored = await store.get_purchase(db, purchase_id)
    if stored is None:
        raise ApiError(404, "not_found", f"no purchase {purchase_id!r}")
    return PurchasePublic.of(stored)


@router.get("/customers/{external_id}/purchases", response_model=list[PurchasePublic])
async def list_purchases(stored: CustomerDep, db: DbDep) -> list[PurchasePublic]:
    """The customer's purchases and auto-recharge attempts, newest first (last 100)."""
    assert stored.customer.id is not None
    return [PurchasePublic.of(p) for p in await store.list_purchases(db, stored.customer.id)]


@router.put("/customers/{external_id}/payment-method", response_model=PaymentMethodPublic)
async def set_payment_method(
    stored: CustomerDep,
    body: PaymentMethodSet,
    settings: SettingsDep,
    client: TemporalDep,
) -> PaymentMethodPublic:
    """Attach a card to the customer's Stripe customer and save it for off-session charges
    (auto-recharge, arrears). 402 when Stripe declines it."""
    saved = await save_card(settings, client, stored.customer, body.payment_method)
    return PaymentMethodPublic(payment_method=saved)


@router.put("/customers/{external_id}/auto-recharge", response_model=AutoRechargePublic)
async def configure_auto_recharge(
    stored: CustomerDep,
    body: AutoRechargeSet,
    db: DbDep,
    settings: SettingsDep,
    client: TemporalDep,
) -> AutoRechargePublic:
    """Enable, change or disable auto-recharge. When available falls to ``threshold``, the
    saved card is charged off-session for ``recharge_to − available`` (rounded up to the
    currency's minor unit, at least Stripe's minimum charge). Declines are retried on a
    schedule; after the last, auto-recharge turns itself off (``status: failed``, with the
    reason) until this PUT enables it again — which, below the threshold, recharges at once."""
    customer = stored.customer
    await set_auto_recharge(
        settings,
        client,
        customer,
        await plan_of(db, customer),
        enabled=body.enabled,
        threshold=body.threshold,
        recharge_to=body.recharge_to,
        payment_method=body.payment_method,
    )
    return await read_auto_recharge(customer.external_id, db)


@router.get("/customers/{external_id}/auto-recharge", response_model=AutoRechargePublic)
async def read_auto_recharge(external_id: ExternalId, db: DbDep) -> AutoRechargePublic:
    stored = await store.get_auto_recharge(db, external_id)
    if stored is None:
        raise ApiError(404, "not_found", f"auto-recharge was never set for {external_id!r}")
    return AutoRechargePublic.of(stored)
