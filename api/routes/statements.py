"""Statements: JSON, a printable HTML page and a PDF, and the upcoming one (the open period
now)."""

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from api.deps import CustomerDep, DbDep, SettingsDep
from api.errors import ApiError
from api.schemas.common import ERRORS
from api.schemas.statements import StatementList, StatementPublic
from api.templates import render
from creditgate.infra.db import Database
from creditgate.ledger.customers import CustomerWithWallet
from creditgate.models import Statement
from creditgate.statements import document, store
from creditgate.statements.close import preview_period
from creditgate.statements.pdf import statement_pdf

router = APIRouter(
    prefix="/customers/{external_id}/statements", tags=["statements"], responses=ERRORS
)
Number = Annotated[int, Path(ge=1, le=1_000_000)]


def _id(stored: CustomerWithWallet) -> int:
    assert stored.customer.id is not None
    return stored.customer.id


async def _statement(db: Database, stored: CustomerWithWallet, number: int) -> Statement:
    found = await store.get_statement(db, _id(stored), number)
    if found is None:
        external_id = stored.customer.external_id
        raise ApiError(404, "not_found", f"no statement {number} for {external_id!r}")
    return found


@router.get("", response_model=StatementList)
async def list_statements(stored: CustomerDep, db: DbDep) -> StatementList:
    """Closed statements, newest first."""
    rows = await store.list_statements(db, _id(stored))
    return StatementList(data=[StatementPublic.of(s) for s in rows])


@router.get("/upcoming", response_model=StatementPublic)
async def upcoming_statement(stored: CustomerDep, db: DbDep) -> StatementPublic:
    """The open period's statement as it would close now, current to the last event (like
    Stripe's upcoming invoice); nothing is written."""
    preview = await preview_period(db, stored.customer.external_id)
    return StatementPublic.of(preview, status="upcoming")


@router.get("/{number}", response_model=StatementPublic)
async def read_statement(stored: CustomerDep, number: Number, db: DbDep) -> StatementPublic:
    return StatementPublic.of(await _statement(db, stored, number))


@router.get("/{number}/html", response_class=HTMLResponse)
async def statement_html(
    request: Request, stored: CustomerDep, number: Number, db: DbDep
) -> HTMLResponse:
    """A printable statement (the invoice document for an amount due), amounts written for
    ``CREDITGATE_LOCALE``."""
    external_id = stored.customer.external_id
    statement = await _statement(db, stored, number)
    return render(request, "statement.html", document.template_context(statement, external_id))


@router.get(
    "/{number}/pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "The statement PDF"}},
)
async def statement_pdf_file(
    stored: CustomerDep, number: Number, db: DbDep, settings: SettingsDep
) -> Response:
    """The statement page as a PDF download."""
    external_id = stored.customer.external_id
    statement = await _statement(db, stored, number)
    return await pdf_response(statement, external_id, settings.locale)


async def pdf_response(statement: Statement, external_id: str, locale: str) -> Response:
    """The statement as a PDF download (the API's route and the portal's)."""
    # A few milliseconds of CPU: off the event loop, which serves the hot path.
    pdf = await run_in_threadpool(statement_pdf, statement, external_id, locale)
    filename = f"statement-{external_id}-{statement.number}.pdf"
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
