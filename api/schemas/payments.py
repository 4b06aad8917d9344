"""Bodies of the payment routes: purchases, the saved card, auto-recharge."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, StringConstraints, model_validator

from api.schemas.amounts import AmountIn, PositiveAmountIn
from api.schemas.common import RequestBody, UtcDatetime
from creditgate.models import AutoRecharge, Purchase
from creditgate.values.money import MoneyStr

PaymentMethodId = Annotated[
    str, StringConstraints(min_length=4, max_length=100, pattern=r"^(pm|card|src)_[A-Za-z0-9_]+$")
]


class PurchaseCreate(RequestBody):
    """Exactly one of ``amount`` (money to pay) or ``credits`` (what to buy)."""

    amount: PositiveAmountIn | None = None
    credits: PositiveAmountIn | None = None
    payment_method: PaymentMethodId | None = None
    expires_at: UtcDatetime | None = None

    @model_validator(mode="after")
    def _one_of(self) -> "PurchaseCreate":
        if (self.amount is None) == (self.credits is None):
            raise ValueError("give exactly one of amount or credits")
        return self


class PurchasePublic(BaseModel):
    id: str
    kind: Literal["purchase", "recharge"]
    status: Literal["pending", "granted", "failed"]
    amount: MoneyStr
    currency: str
    credits: MoneyStr
    payment_intent: str | None
    client_secret: str | None
    reason: str | None
    expires_at: datetime | None = None
    refunded_amount: MoneyStr | None = None
    clawed_back: MoneyStr | None = None
    created_at: datetime | None = None
    metadata: dict[str, str] = {}

    @classmethod
    def of(cls, p: Purchase) -> "PurchasePublic":
        return cls(
            id=p.id,
            kind="recharge" if p.kind == "recharge" else "purchase",
            status=p.status,
            amount=p.amount,
            currency=p.currency,
            credits=p.credits,
            payment_intent=p.payment_intent,
            client_secret=p.client_secret if p.status == "pending" else None,
            reason=p.reason,
            expires_at=p.expires_at,
            refunded_amount=p.refunded_amount,
            clawed_back=p.clawed_back,
            created_at=p.created_at,
            metadata=p.metadata_,
        )


class PaymentMethodSet(RequestBody):
    payment_method: PaymentMethodId


class PaymentMethodPublic(BaseModel):
    payment_method: str


class AutoRechargeSet(RequestBody):
    enabled: bool
    threshold: AmountIn
    recharge_to: PositiveAmountIn
    payment_method: PaymentMethodId | None = None

    @model_validator(mode="after")
    def _order(self) -> "AutoRechargeSet":
        if not self.recharge_to > self.threshold:
            raise ValueError("recharge_to must be greater than threshold")
        return self


class AutoRechargePublic(BaseModel):
    enabled: bool
    threshold: MoneyStr
    recharge_to: MoneyStr
    payment_method: str | None
    status: Literal["enabled", "disabled", "failed"]
    disabled_reason: str | None

    @classmethod
    def of(cls, a: AutoRecharge) -> "AutoRechargePublic":
        return cls(
            enabled=a.enabled,
            threshold=a.threshold,
            recharge_to=a.recharge_to,
            payment_method=a.payment_method,
            status=a.status,
            disabled_reason=a.disabled_reason,
        )
