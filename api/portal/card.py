"""The saved card (a SetupIntent confirmed with Stripe.js) and auto-recharge settings."""

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from api.deps import DbDep, SettingsDep, TemporalDep
from api.errors import ApiError
from api.payment_calls import save_card, set_auto_recharge
from api.portal.links import portal
from api.portal.views import Account, AccountDep, PostedDep, form_fields, page
from api.schemas.payments import AutoRechargeSet
from api.schemas.portal import CardPublic, CardSaved, SetupIntentPublic
from creditgate.infra.db import Database
from creditgate.infra.settings import Settings
from creditgate.payments import charges, store
from creditgate.payments.stripe_gateway import StripeGateway


async def _card_page(
    request: Request, account: Account, db: Database, settings: Settings, **context: object
) -> HTMLResponse:
    return page(
        request,
        "card.html",
        account,
        status=422 if context.get("error") else 200,
        recharge=await store.get_auto_recharge(db, account.external_id),
        has_card=account.customer.payment_method is not None,
        recharge_max=charges.recharge_limit(account.plan),
        stripe_js_url=settings.stripe_js_url,
        publishable_key=settings.stripe_publishable_key,
        **context,
    )


def _problem(error: Any) -> str:
    field = ".".join(str(part) for part in error["loc"]).replace("_", " ")
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{field}: {message}" if field else message


@portal.get("/card", response_class=HTMLResponse, name="card")
async def card(
    request: Request, account: AccountDep, db: DbDep, settings: SettingsDep, saved: str = ""
) -> HTMLResponse:
    return await _card_page(request, account, db, settings, saved=saved)


@portal.post("/card/setup-intents", status_code=201)
async def new_setup_intent(account: PostedDep, settings: SettingsDep) -> SetupIntentPublic:
    if account.customer.stripe_customer_id is None:
        raise ApiError(409, "conflict", "the customer's signup has not finished yet")
    intent = await StripeGateway.from_settings(settings).create_setup_intent(
        customer=account.customer.stripe_customer_id
    )
    assert intent.client_secret is not None
    return SetupIntentPublic(client_secret=intent.client_secret)


@portal.post("/card")
async def card_saved(
    body: CardSaved, account: PostedDep, settings: SettingsDep, client: TemporalDep
) -> CardPublic:
    """Save the card of a SetupIntent Stripe.js confirmed; only this customer's own."""
    intent = await StripeGateway.from_settings(settings).get_setup_intent(body.setup_intent)
    if intent.customer != account.customer.stripe_customer_id or intent.payment_method is None:
        raise ApiError(404, "not_found", "no such card setup for this customer")
    if intent.status != "succeeded":
        raise ApiError(422, "validation_error", f"the card setup is {intent.status}")
    saved = await save_card(settings, client, account.customer, intent.payment_method)
    return CardPublic(payment_method=saved)


@portal.post("/auto-recharge", response_class=HTMLResponse)
async def auto_recharge(
    request: Request, account: PostedDep, db: DbDep, settings: SettingsDep, client: TemporalDep
) -> Response:
    fields = await form_fields(request)
    try:
        wanted = AutoRechargeSet(
            enabled=fields.get("enabled") == "on",
            threshold=fields.get("threshold", ""),
            recharge_to=fields.get("recharge_to", ""),
        )
        await set_auto_recharge(
            settings,
            client,
            account.customer,
            account.plan,
            enabled=wanted.enabled,
            threshold=wanted.threshold,
            recharge_to=wanted.recharge_to,
        )
    except ValidationError as err:
        problems = "; ".join(_problem(e) for e in err.errors())
        return await _card_page(request, account, db, settings, error=problems, fields=fields)
    except ApiError as err:
        return await _card_page(request, account, db, settings, error=err.message, fields=fields)
    return RedirectResponse(f"{request.url_for('card').path}?saved=1", status_code=303)
