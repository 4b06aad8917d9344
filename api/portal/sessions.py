"""Portal links and sessions, signed with the portal secret (itsdangerous).

A link carries one customer's external id and is good for ``portal_link_minutes``; opening it
sets a session cookie for that customer alone, good for ``portal_session_minutes``. Every
portal route takes its customer from the session, never from the URL or the body, and every
POST carries the session's CSRF token.
"""

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fastapi import Request, Response
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from creditgate.infra.settings import Settings

COOKIE = "creditgate_portal"
CSRF_HEADER = "x-csrf-token"
LINK_SALT = "creditgate.portal.link"
SESSION_SALT = "creditgate.portal.session"


class PortalRefused(Exception):
    """A link or session that cannot be used; shown as an HTML page with ``status``."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message


@dataclass(frozen=True)
class PortalSession:
    customer: str  # external id
    csrf: str
    return_url: str | None


def _signer(settings: Settings, salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.portal_secret, salt=salt)


def make_link_token(
    settings: Settings, external_id: str, return_url: str | None
) -> tuple[str, datetime]:
    token = _signer(settings, LINK_SALT).dumps({"customer": external_id, "return_url": return_url})
    return token, datetime.now(UTC) + timedelta(minutes=settings.portal_link_minutes)


def open_link(settings: Settings, token: str) -> PortalSession:
    """The session a link opens; ``PortalRefused`` when it expired or was altered."""
    try:
        data = _signer(settings, LINK_SALT).loads(
            token, max_age=round(settings.portal_link_minutes * 60)
        )
    except SignatureExpired:
        raise PortalRefused(
            410,
            "This link has expired",
            "Portal links work for a few minutes only. Go back to the product and open the "
            "billing portal again for a new link.",
        ) from None
    except BadSignature:
        raise PortalRefused(
            400,
            "This link is not valid",
            "The link is incomplete or was changed. Go back to the product and open the "
            "billing portal again.",
        ) from None
    return PortalSession(
        customer=str(data["customer"]),
        csrf=secrets.token_urlsafe(24),
        return_url=data.get("return_url"),
    )


def set_cookie(
    settings: Settings, request: Request, response: Response, session: PortalSession
) -> None:
    value = _signer(settings, SESSION_SALT).dumps(
        {"customer": session.customer, "csrf": session.csrf, "return_url": session.return_url}
    )
    response.set_cookie(
        COOKIE,
        value,
        max_age=int(settings.portal_session_minutes * 60),
        path="/portal",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def current(settings: Settings, request: Request) -> PortalSession:
    """The request's portal session; ``PortalRefused`` (401) without a valid one."""
    value = request.cookies.get(COOKIE)
    if value:
        try:
            data = _signer(settings, SESSION_SALT).loads(
                value, max_age=round(settings.portal_session_minutes * 60)
            )
            return PortalSession(str(data["customer"]), str(data["csrf"]), data.get("return_url"))
        except BadSignature:
            pass
    raise PortalRefused(
        401,
        "Your billing session has ended",
        "Go back to the product and open the billing portal again.",
    )


def check_csrf(session: PortalSession, supplied: str | None) -> None:
    if not supplied or not secrets.compare_digest(supplied, session.csrf):
        raise PortalRefused(403, "This form has expired", "Reload the page and try again.")
