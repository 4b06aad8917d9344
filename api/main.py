"""The FastAPI app (``uvicorn api.main:app``)."""

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from temporalio.client import Client

from api import errors
from api.auth import ApiKeyAuth, document_security
from api.body_limit import ContentLengthLimit
from api.deps import TemporalConnection
from api.hot_paths import HotPaths
from api.ledger_schemas import EventBatch
from api.routes import (
    customers,
    health,
    ledger,
    payments,
    plan_migrations,
    plans,
    statements,
    stripe_webhook,
)
from creditgate import __version__
from creditgate.db import Database
from creditgate.ledger.batcher import IngestBatcher
from creditgate.ledger.errors import LedgerError
from creditgate.settings import Settings, get_settings

# 1,000 events with their properties fit well inside.
log = logging.getLogger("creditgate.api")

MAX_BODY_BYTES = 5 * 1024 * 1024


async def _ledger_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, LedgerError)
    return errors.error_response(exc.status, exc.type, exc.message)


async def _database_unavailable(_: Request, exc: Exception) -> JSONResponse:
    # An outage, not a bug: the client may retry (event ids make retries safe).
    log.warning("database unavailable: %s", exc)
    return errors.error_response(
        503, "database_unavailable", "the database is unreachable; retry shortly"
    )


def create_app(
    settings: Settings | None = None,
    db: Database | None = None,
    temporal_client: Client | None = None,
) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned_db = db is None
        app.state.settings = settings
        app.state.db = db or Database(settings.database_url)
        app.state.ingest = IngestBatcher(
            app.state.db,
            timedelta(days=settings.backdating_days),
            concurrency=settings.ingest_transactions,
        )
        app.state.temporal = TemporalConnection(settings, temporal_client)
        # Everything loaded so far lives for the whole process: keep it out of the cyclic
        # collector, whose full passes over it were the API's longest pauses (p99).
        gc.freeze()
        yield
        if owned_db:
            await app.state.db.dispose()

    app = FastAPI(
        title="Creditgate",
        version=__version__,
        summary="Real-time prepaid-credit billing: usage debits, credits, auto-recharge.",
        lifespan=lifespan,
        # Backstop for bodies without Content-Length; ContentLengthLimit answers the rest
        # with the JSON error shape (this limit sits outside it and answers in plain text).
        max_body_size=2 * MAX_BODY_BYTES,
    )
    errors.install(app)
    # Innermost: after the key and size checks, before FastAPI's routing.
    app.add_middleware(HotPaths)
    app.add_middleware(ContentLengthLimit, max_bytes=MAX_BODY_BYTES)
    app.add_middleware(ApiKeyAuth, api_key=settings.api_key, public={stripe_webhook.PATH})
    app.add_exception_handler(LedgerError, _ledger_error)
    app.add_exception_handler(OperationalError, _database_unavailable)
    app.add_exception_handler(ConnectionError, _database_unavailable)
    v1 = APIRouter(prefix="/v1")
    v1.include_router(plans.router)
    v1.include_router(plan_migrations.router)
    v1.include_router(customers.router)
    v1.include_router(ledger.router)
    v1.include_router(payments.router)
    v1.include_router(statements.router)
    app.include_router(v1)
    app.include_router(stripe_webhook.router)
    app.include_router(health.router)
    document_security(app, extra_schemas=[EventBatch], public={stripe_webhook.PATH})
    return app


def __getattr__(name: str) -> FastAPI:
    # ``uvicorn api.main:app`` builds the app on first access, so importing this module in
    # tests does not read the environment.
    if name == "app":
        return create_app()
    raise AttributeError(name)
