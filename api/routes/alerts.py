"""Spend alerts: thresholds on ``available`` that fire ``balance.low`` (docs/events.md)."""

from fastapi import APIRouter

from api.deps import DbDep
from api.schemas.alerts import AlertsIn, AlertsOut
from api.schemas.common import ERRORS
from creditgate.events import alert_settings
from creditgate.values.identifiers import ExternalId

router = APIRouter(prefix="/customers/{external_id}/alerts", tags=["alerts"], responses=ERRORS)


@router.put("", response_model=AlertsOut)
async def save_alerts(external_id: ExternalId, body: AlertsIn, db: DbDep) -> AlertsOut:
    """Replace the customer's spend alerts (the plan's default until then)."""
    return AlertsOut.of(await alert_settings.save(db, external_id, body.thresholds))


@router.get("", response_model=AlertsOut)
async def read_alerts(external_id: ExternalId, db: DbDep) -> AlertsOut:
    return AlertsOut.of(await alert_settings.read(db, external_id))
