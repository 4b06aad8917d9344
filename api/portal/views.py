"""What every portal page shares: the templates, the signed-in customer, errors as pages."""

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, Response

from api.audit import PORTAL_ACTOR
from api.deps import DbDep, SettingsDep
from api.errors import error_response
from api.payment_calls import customer_and_plan
from api.portal import sessions
from api.templates import TEMPLATES
from creditgate.models import Customer
from creditgate.pricing.plan import PlanDefinition

# Billing pages: never cached, never framed by another site, no link token in a Referer.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


@dataclass(frozen=True)
class Account:
    session: sessions.PortalSession
    customer: Customer
    plan: PlanDefinition

    @property
    def external_id(self) -> str:
        return self.session.customer

    @property
    def unit(self) -> str:
        return self.plan.wallet_unit


async def signed_in(request: Request, settings: SettingsDep, db: DbDep) -> Account:
    """The session's customer: the only customer a portal request can see or change."""
    session = sessions.current(settings, request)
    customer, plan = await customer_and_plan(db, session.customer)
    return Account(session, customer, plan)


AccountDep = Annotated[Account, Depends(signed_in)]


async def posted(request: Request, account: AccountDep) -> Account:
    """``signed_in``, for a POST: its CSRF token (header or form field) must match."""
    supplied = request.headers.get(sessions.CSRF_HEADER)
    if supplied is None:
        supplied = (await form_fields(request)).get("csrf_token")
    sessions.check_csrf(account.session, supplied)
    # Who the audit log names for this change (``api.audit``).
    request.scope.setdefault("state", {})[PORTAL_ACTOR] = f"portal:{account.external_id}"
    return account


async def form_fields(request: Request) -> dict[str, str]:
    """An HTML form's fields (urlencoded; the last of repeated names); {} for other bodies."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return {}
    return dict(parse_qsl((await request.body()).decode("utf-8", "replace")))


PostedDep = Annotated[Account, Depends(posted)]


def page(
    request: Request, template: str, account: Account | None, status: int = 200, **context: Any
) -> HTMLResponse:
    response = TEMPLATES.TemplateResponse(
        request,
        f"portal/{template}",
        {
            "account": account,
            "unit": account.unit if account else "",
            "locale": request.app.state.settings.locale,
            **context,
        },
        status_code=status,
    )
    response.headers.update(PAGE_HEADERS)
    return response


async def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, sessions.PortalRefused)
    if "application/json" in request.headers.get("accept", ""):
        return error_response(exc.status, "portal_refused", exc.message)
    return page(request, "message.html", None, exc.status, title=exc.title, message=exc.message)


def install(app: FastAPI) -> None:
    app.add_exception_handler(sessions.PortalRefused, _refused)
