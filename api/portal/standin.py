"""A Stripe.js stand-in for localstripe, served by the API only while Stripe is localstripe
(development and tests; production refuses a localstripe base).

localstripe's own ``/js.stripe.com/v3/`` cannot pay a PaymentIntent with a card typed into
its element (its ``confirmCardPayment`` only completes 3-D Secure, and its PaymentIntent
confirm refuses a payment method), and its card inputs have no labels. This stand-in offers
the same calls as Stripe.js — ``Stripe(key).elements().create("card").mount(...)``,
``confirmCardPayment(clientSecret, {payment_method: {card}})`` and ``confirmCardSetup`` —
and does on the server, with the secret key, what Stripe does for them: make the card a
PaymentMethod, attach it to the intent's customer (where localstripe declines its decline
test cards, such as 4000 0000 0000 0002, with Stripe's message) and confirm the intent.
"""

from pathlib import Path
from typing import Any

import httpx
from fastapi import APIRouter
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from api.deps import SettingsDep
from api.errors import ApiError
from creditgate.infra.settings import STANDIN_STRIPE_JS_PATH, Settings

router = APIRouter(prefix="/portal/stripe-standin", include_in_schema=False)
SCRIPT = Path(__file__).resolve().parent / "static" / "stripe-standin.js"


class Card(BaseModel):
    number: str = Field(max_length=30)
    exp_month: str = Field(max_length=2)
    exp_year: str = Field(max_length=4)
    cvc: str = Field(max_length=4)


class Confirm(BaseModel):
    client_secret: str = Field(max_length=200)
    card: Card


@router.get(STANDIN_STRIPE_JS_PATH.removeprefix("/portal/stripe-standin"))
async def script() -> FileResponse:
    return FileResponse(SCRIPT, media_type="text/javascript")


def _stripe(settings: Settings) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=settings.stripe_api_base, auth=(settings.stripe_api_key, ""), timeout=30
    )


def _error(response: httpx.Response) -> dict[str, Any]:
    error = response.json().get("error") or {}
    return {"error": {"type": "card_error", **error}}


def _card_form(card: Card) -> dict[str, str]:
    year = card.exp_year if len(card.exp_year) == 4 else f"20{card.exp_year}"
    fields = {"number": card.number.replace(" ", ""), "exp_month": card.exp_month}
    return {f"card[{k}]": v for k, v in {**fields, "exp_year": year, "cvc": card.cvc}.items()}


async def _intent(stripe: httpx.AsyncClient, path: str, client_secret: str) -> dict[str, Any]:
    response = await stripe.get(path)
    if response.status_code != 200 or response.json().get("client_secret") != client_secret:
        raise ApiError(401, "unauthorized", "no intent with this client secret")
    found: dict[str, Any] = response.json()
    return found


@router.post("/confirm-payment")
async def confirm_payment(body: Confirm, settings: SettingsDep) -> dict[str, Any]:
    path = f"/v1/payment_intents/{body.client_secret.split('_secret_')[0]}"
    async with _stripe(settings) as stripe:
        intent = await _intent(stripe, path, body.client_secret)
        card = {"type": "card", **_card_form(body.card)}
        made = await stripe.post("/v1/payment_methods", data=card)
        if made.status_code != 200:
            return _error(made)
        method = made.json()["id"]
        if intent.get("customer"):
            attached = await stripe.post(
                f"/v1/payment_methods/{method}/attach", data={"customer": intent["customer"]}
            )
            if attached.status_code != 200:
                return _error(attached)
        updated = await stripe.post(path, data={"payment_method": method})
        if updated.status_code != 200:
            return _error(updated)
        confirmed = await stripe.post(f"{path}/confirm")
        if confirmed.status_code != 200:
            return _error(confirmed)
        return {"paymentIntent": confirmed.json()}


@router.post("/confirm-setup")
async def confirm_setup(body: Confirm, settings: SettingsDep) -> dict[str, Any]:
    path = f"/v1/setup_intents/{body.client_secret.split('_secret_')[0]}"
    async with _stripe(settings) as stripe:
        await _intent(stripe, path, body.client_secret)
        confirmed = await stripe.post(
            f"{path}/confirm",
            json={
                "client_secret": body.client_secret,
                "payment_method_data": {
                    "type": "card",
                    "card": {k[5:-1]: v for k, v in _card_form(body.card).items()},
                },
            },
        )
        if confirmed.status_code != 200:
            return _error(confirmed)
        return {"setupIntent": confirmed.json()}
