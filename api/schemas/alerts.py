"""Spend alerts in the API (``PUT``/``GET /v1/customers/{external_id}/alerts``)."""

from pydantic import BaseModel, Field, field_validator

from api.schemas.common import RequestBody
from creditgate.events.alert_settings import AlertSettings
from creditgate.events.alerts import MAX_ALERTS, AlertThreshold
from creditgate.pricing.validation import duplicate_alerts
from creditgate.values.money import MoneyStr


class AlertsIn(RequestBody):
    """Thresholds on ``available``, each ``{"amount": "5.00"}`` or ``{"percent": "20"}`` (of
    the last purchase or grant); an empty list switches alerts off."""

    thresholds: list[AlertThreshold] = Field(max_length=MAX_ALERTS)

    @field_validator("thresholds")
    @classmethod
    def _distinct(cls, thresholds: list[AlertThreshold]) -> list[AlertThreshold]:
        errors = duplicate_alerts("thresholds", thresholds)
        if errors:
            raise ValueError("; ".join(errors))
        return thresholds


class AlertsOut(BaseModel):
    # As given: each ``{"amount": ...}`` or ``{"percent": ...}``.
    thresholds: list[dict[str, str]]
    # The amounts of ``available`` that fire ``balance.low`` now, highest first.
    amounts: list[MoneyStr]
    # The last purchase or grant's amount, which percentages are of (None: none yet).
    base: MoneyStr | None

    @classmethod
    def of(cls, settings: AlertSettings) -> "AlertsOut":
        thresholds = [threshold.stored() for threshold in settings.thresholds]
        return cls(thresholds=thresholds, amounts=settings.amounts, base=settings.base)
