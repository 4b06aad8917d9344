"""Statements: the list, each one as a page (with its PDF where the app serves one), and the
open period's preview."""

from typing import Annotated

from fastapi import Path, Request
from fastapi.responses import HTMLResponse, Response

from api.deps import DbDep, SettingsDep
from api.portal.links import portal
from api.portal.sessions import PortalRefused
from api.portal.views import PAGE_HEADERS, Account, AccountDep, page
from api.routes.statements import pdf_response
from api.schemas.statements import StatementPublic
from creditgate.infra.db import Database
from creditgate.models import Statement
from creditgate.statements import store
from creditgate.statements.close import preview_period

Number = Annotated[int, Path(ge=1, le=1_000_000)]
PDF_ROUTE = "portal_statement_pdf"


def pdf_url(request: Request, number: int) -> str:
    return str(request.url_for(PDF_ROUTE, number=number).path)


@portal.get("/statements", response_class=HTMLResponse, name="statements")
async def statements(request: Request, account: AccountDep, db: DbDep) -> HTMLResponse:
    assert account.customer.id is not None
    rows = [StatementPublic.of(s) for s in await store.list_statements(db, account.customer.id)]
    upcoming = StatementPublic.of(await preview_period(db, account.external_id), status="upcoming")
    return page(
        request,
        "statements.html",
        account,
        statements=rows,
        upcoming=upcoming,
        pdf_urls={s.number: pdf_url(request, s.number) for s in rows if s.number},
    )


async def _statement(account: Account, db: Database, number: int) -> Statement:
    assert account.customer.id is not None
    found = await store.get_statement(db, account.customer.id, number)
    if found is None:
        raise PortalRefused(404, "No such statement", f"You have no statement number {number}.")
    return found


@portal.get("/statements/{number}/pdf", name=PDF_ROUTE)
async def statement_pdf(
    number: Number, account: AccountDep, db: DbDep, settings: SettingsDep
) -> Response:
    found = await _statement(account, db, number)
    response = await pdf_response(found, account.external_id, settings.locale)
    response.headers.update(PAGE_HEADERS)
    return response


@portal.get("/statements/{number}", response_class=HTMLResponse, name="statement")
async def statement(
    request: Request, number: Number, account: AccountDep, db: DbDep
) -> HTMLResponse:
    found = await _statement(account, db, number)
    return page(
        request,
        "statement.html",
        account,
        s=StatementPublic.of(found),
        pdf_url=pdf_url(request, number),
    )
