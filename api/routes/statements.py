"""Statements: JSON, a printable HTML page and a PDF, and the upcoming one (the open period
now)."""

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from api.deps import DbDep, SettingsDep
from api.errors import ApiError
from api.schemas import ERRORS
from api.statement_schemas import StatementList, StatementPublic
from api.templates import render
from creditgate.infra.db import Database
from creditgate.ledger.errors import NotFound
from creditgate.models import Statement
from creditgate.payments import store as payments
from creditgate.statements import document, store
from creditgate.statements.close import preview_period
from creditgate.statements.pdf import statement_pdf
from creditgate.values.identifiers import ExternalId

router = APIRouter(
    prefix="/customers/{external_id}/statements", tags=["statements"], responses=ERRORS
)
Number = Annotated[int, Path(ge=1, le=1_000_000)]


async def _customer_id(db: Database, external_id: str) -> int:
    try:
        return await payments.customer_id_of(db, external_id)
    except NotFound as err:
        raise ApiError(404, "not_found", str(err)) from None


async def _statement(db: Database, external_id: str, number: int) -> Statement:
    found = await store.get_statement(db, await _customer_id(db, external_id), number)
    if found is None:
        raise ApiError(404, "not_found", f"no statement {number} for {external_id!r}")
    return found


@router.get("", response_model=StatementList)
async def list_statements(external_id: ExternalId, db: DbDep) -> StatementList:
    """Closed statements, newest first."""
    rows = await store.list_statements(db, await _customer_id(db, external_id))
    return StatementList(data=[StatementPublic.of(s) for s in rows])


@router.get("/upcoming", response_model=StatementPublic)
async def upcoming_statement(external_id: ExternalId, db: DbDep) -> StatementPublic:
    """The open period's statement as it would close now, current to the last event (like
    Stripe's upcoming invoice); nothing is written."""
    await _customer_id(db, external_id)
    return StatementPublic.of(await preview_period(db, external_id), status="upcoming")


@router.get("/{number}", response_model=StatementPublic)
async def read_statement(external_id: ExternalId, number: Number, db: DbDep) -> StatementPublic:
    return StatementPublic.of(await _statement(db, external_id, number))


@router.get("/{number}/html", response_class=HTMLResponse)
async def statement_html(
    request: Request, external_id: ExternalId, number: Number, db: DbDep
) -> HTMLResponse:
    """A printable statement (the invoice document for an amount due), amounts written for
    ``CREDITGATE_LOCALE``."""
    statement = await _statement(db, external_id, number)
    return render(request, "statement.html", document.template_context(statement, external_id))


@router.get(
    "/{number}/pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "The statement PDF"}},
)
async def statement_pdf_file(
    external_id: ExternalId, number: Number, db: DbDep, settings: SettingsDep
) -> Response:
    """The statement page as a PDF download."""
    statement = await _statement(db, external_id, number)
    # A few milliseconds of CPU: off the event loop, which serves the hot path.
    pdf = await run_in_threadpool(statement_pdf, statement, external_id, settings.locale)
    filename = f"statement-{external_id}-{number}.pdf"
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
