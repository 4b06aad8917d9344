"""The one Jinja2 environment for every HTML page, with the filters that write amounts, quantities
and times as people read them: ``{{ amount|money(currency) }}``, ``{{ q|quantity }}``,
``{{ at|moment }}``. Each uses the ``locale`` in the template's context (``render`` puts the
configured one there; the default locale otherwise)."""

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.runtime import Context

from creditgate.infra.settings import Settings
from creditgate.values.display import (
    DEFAULT_LOCALE,
    format_amount,
    format_moment,
    format_quantity,
)

TEMPLATES = Jinja2Templates(directory=Path(__file__).resolve().parent / "templates")


def _locale(context: Context) -> str:
    return str(context.get("locale") or DEFAULT_LOCALE)


@pass_context
def money(context: Context, amount: Decimal | str | int, unit: str, credits: bool = False) -> str:
    return format_amount(Decimal(str(amount)), unit, _locale(context), credits=credits)


@pass_context
def quantity(context: Context, value: Decimal | str | int) -> str:
    return format_quantity(Decimal(str(value)), _locale(context))


@pass_context
def moment(context: Context, value: datetime) -> str:
    return format_moment(value, _locale(context))


TEMPLATES.env.filters.update(money=money, quantity=quantity, moment=moment)


def render(request: Request, name: str, context: dict[str, Any]) -> HTMLResponse:
    """``name`` rendered with ``context`` and the configured locale (``CREDITGATE_LOCALE``)."""
    settings: Settings = request.app.state.settings
    return TEMPLATES.TemplateResponse(request, name, {"locale": settings.locale, **context})
