"""``POST /v1/customers/{id}/portal-sessions`` (API key) makes a link; ``GET /portal/open``
opens it: a session cookie for that customer, then the overview."""

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse

from api.deps import DbDep, SettingsDep
from api.payment_calls import customer_and_plan
from api.portal import sessions
from api.portal.views import PAGE_HEADERS
from api.schemas.common import ERRORS
from api.schemas.portal import PortalSessionCreate, PortalSessionPublic
from creditgate.values.identifiers import ExternalId

router = APIRouter(tags=["customer portal"], responses=ERRORS)
portal = APIRouter(prefix="/portal", include_in_schema=False)


@router.post("/customers/{external_id}/portal-sessions", status_code=201)
async def create_portal_session(
    external_id: ExternalId,
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    body: PortalSessionCreate | None = None,
) -> PortalSessionPublic:
    """A link to the hosted customer portal for this customer alone, to open without an API
    key; it works for ``CREDITGATE_PORTAL_LINK_MINUTES`` (10 by default). Send the customer
    to ``url`` straight away: anyone holding the link sees this customer's billing."""
    await customer_and_plan(db, external_id)  # 404 for an unknown customer
    return_url = str(body.return_url) if body and body.return_url else None
    token, expires_at = sessions.make_link_token(settings, external_id, return_url)
    url = request.url_for("open_portal").include_query_params(token=token)
    return PortalSessionPublic(url=str(url), expires_at=expires_at)


@portal.get("/open")
async def open_portal(
    request: Request, settings: SettingsDep, token: Annotated[str, Query(max_length=4000)] = ""
) -> RedirectResponse:
    session = sessions.open_link(settings, token)
    response = RedirectResponse(
        request.url_for("overview").path, status_code=303, headers=PAGE_HEADERS
    )
    sessions.set_cookie(settings, request, response, session)
    return response
