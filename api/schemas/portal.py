"""Bodies of the customer portal: the link an API key asks for, and the JSON the portal's
pages exchange with it (the purchase they follow, the card they save)."""

from datetime import datetime

from pydantic import AnyHttpUrl, BaseModel

from api.schemas.amounts import PositiveAmountIn
from api.schemas.common import RequestBody


class PortalSessionCreate(RequestBody):
    # Where the portal's "Back" link goes (the product's own page).
    return_url: AnyHttpUrl | None = None


class PortalSessionPublic(BaseModel):
    url: str
    expires_at: datetime


class PortalPurchase(RequestBody):
    amount: PositiveAmountIn


class PortalPurchaseStatus(BaseModel):
    id: str
    status: str
    amount: str
    credits: str
    reason: str | None
    client_secret: str | None


class SetupIntentPublic(BaseModel):
    client_secret: str


class CardSaved(RequestBody):
    setup_intent: str


class CardPublic(BaseModel):
    payment_method: str
