"""Buying credits: the page (Stripe.js card element), the purchase it starts, and the JSON
status the page polls until Stripe's webhook has the credits granted (or the payment failed)."""

from decimal import Decimal
from typing import Annotated

from fastapi import Path, Request
from fastapi.responses import HTMLResponse

from api.deps import DbDep, SettingsDep, TemporalDep
from api.errors import ApiError
from api.payment_calls import start_purchase
from api.portal.links import portal
from api.portal.views import AccountDep, PostedDep, page
from api.schemas.payments import PurchaseCreate, PurchasePublic
from api.schemas.portal import PortalPurchase, PortalPurchaseStatus
from creditgate.payments import charges, store

SUGGESTED = [Decimal(n) for n in ("10", "20", "50", "100")]
PurchaseId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


def _status(purchase: PurchasePublic) -> PortalPurchaseStatus:
    return PortalPurchaseStatus(
        id=purchase.id,
        status=purchase.status,
        amount=str(purchase.amount),
        credits=str(purchase.credits),
        reason=purchase.reason,
        client_secret=purchase.client_secret,
    )


@portal.get("/buy", response_class=HTMLResponse, name="buy")
async def buy(request: Request, account: AccountDep, settings: SettingsDep) -> HTMLResponse:
    least, most = charges.charge_bounds(account.plan.currency)
    amounts = [a for a in SUGGESTED if least <= a <= most]
    return page(
        request,
        "buy.html",
        account,
        currency=account.plan.currency.upper(),
        amounts=[(a, charges.credits_for(a, account.plan)) for a in amounts],
        least=least,
        most=most,
        stripe_js_url=settings.stripe_js_url,
        publishable_key=settings.stripe_publishable_key,
    )


@portal.post("/purchases", status_code=201)
async def create_purchase(
    body: PortalPurchase,
    account: PostedDep,
    db: DbDep,
    settings: SettingsDep,
    client: TemporalDep,
) -> PortalPurchaseStatus:
    """A purchase to pay by card with Stripe.js (its ``client_secret``); the same rules as
    ``POST /v1/customers/{id}/purchases``."""
    wanted = PurchaseCreate.model_validate({"amount": f"{body.amount:f}"})
    answer = await start_purchase(wanted, account.customer, account.plan, settings, client, None)
    stored = await store.get_purchase(db, answer.purchase.id)
    assert stored is not None
    return _status(PurchasePublic.of(stored))


@portal.get("/purchases/{purchase_id}", name="purchase_status")
async def purchase_status(
    purchase_id: PurchaseId, account: AccountDep, db: DbDep
) -> PortalPurchaseStatus:
    stored = await store.get_purchase(db, purchase_id)
    if stored is None or stored.customer_id != account.customer.id:
        raise ApiError(404, "not_found", f"no purchase {purchase_id!r}")
    return _status(PurchasePublic.of(stored))
