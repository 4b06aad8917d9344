"""Statements: JSON, a printable HTML view, and the upcoming one (the open period now)."""

from pathlib import Path as FilePath
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from api.deps import DbDep
from api.errors import ApiError
from api.schemas import ERRORS
from api.statement_schemas import StatementList, StatementPublic
from creditgate.infra.db import Database
from creditgate.ledger.errors import NotFound
from creditgate.models import Statement
from creditgate.payments import store as payments
from creditgate.statements import store
from creditgate.statements.close import preview_period
from creditgate.values.identifiers import ExternalId

router = APIRouter(
    prefix="/customers/{external_id}/statements", tags=["statements"], responses=ERRORS
)
Number = Annotated[int, Path(ge=1, le=1_000_000)]
TEMPLATES = Jinja2Templates(directory=FilePath(__file__).resolve().parent.parent / "templates")


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
    """A printable statement (the invoice document for an amount due)."""
    statement = StatementPublic.of(await _statement(db, external_id, number))
    return TEMPLATES.TemplateResponse(
        request, "statement.html", {"s": statement, "customer": external_id}
    )
