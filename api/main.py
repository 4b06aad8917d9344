"""The FastAPI app (``uvicorn api.main:app``)."""

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.types import Receive, Scope, Send
from temporalio.client import Client

from api import errors
from api.audit import AuditTrail
from api.auth import ApiKey, ApiKeyAuth, document_security
from api.body_limit import ContentLengthLimit
from api.deps import TemporalConnection
from api.hot_paths import HotPaths
from api.portal import routes as portal
from api.routes import (
    access,
    alerts,
    closure,
    customer_changes,
    customer_events,
    customers,
    health,
    ledger,
    metadata,
    operators,
    payments,
    plan_migrations,
    plans,
    statements,
    stripe_webhook,
    webhook_endpoints,
)
from api.schemas.ledger import EventBatch
from api.webhook_events import document_events
from creditgate import __version__
from creditgate.infra.db import Database
from creditgate.infra.settings import Settings, get_settings
from creditgate.ledger.batcher import IngestBatcher
from creditgate.ledger.errors import LedgerError

log = logging.getLogger("creditgate.api")

# 1,000 events with their properties fit well inside.
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


class CreditgateApi(FastAPI):
    """FastAPI, with the ordinary case of the two hot routes answered ahead of its
    middleware stack (``api.hot_paths``); everything else goes through it as usual.
    With ``hot_paths`` None, every request does (the routes answer as the hot path would)."""

    hot_paths: HotPaths | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.hot_paths is None or not await self.hot_paths(scope, receive, send):
            await self.routed(scope, receive, send)

    async def routed(self, scope: Scope, receive: Receive, send: Send) -> None:
        await super().__call__(scope, receive, send)


def create_app(
    settings: Settings | None = None,
    db: Database | None = None,
    temporal_client: Client | None = None,
) -> CreditgateApi:
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

    app = CreditgateApi(
        title="Creditgate",
        version=__version__,
        summary="Real-time prepaid-credit billing: usage debits, credits, auto-recharge.",
        lifespan=lifespan,
        # Backstop for bodies without Content-Length; ContentLengthLimit answers the rest
        # with the JSON error shape (this limit sits outside it and answers in plain text).
        max_body_size=2 * MAX_BODY_BYTES,
    )
    errors.install(app)
    api_key = ApiKey(settings.api_key, lambda: app.state.db)
    app.hot_paths = HotPaths(app, app.routed, api_key, MAX_BODY_BYTES)
    app.add_middleware(AuditTrail, db=lambda: app.state.db)
    app.add_middleware(ContentLengthLimit, max_bytes=MAX_BODY_BYTES)
    app.add_middleware(ApiKeyAuth, api_key=api_key, public={stripe_webhook.PATH})
    app.add_exception_handler(LedgerError, _ledger_error)
    app.add_exception_handler(OperationalError, _database_unavailable)
    app.add_exception_handler(ConnectionError, _database_unavailable)
    v1 = APIRouter(prefix="/v1")
    v1.include_router(plans.router)
    v1.include_router(plan_migrations.router)
    v1.include_router(customers.router)
    v1.include_router(customer_changes.router)
    v1.include_router(closure.router)
    v1.include_router(ledger.router)
    v1.include_router(operators.router)
    v1.include_router(payments.router)
    v1.include_router(statements.router)
    v1.include_router(access.router)
    v1.include_router(portal.router)
    v1.include_router(webhook_endpoints.router)
    v1.include_router(alerts.router)
    v1.include_router(customer_events.router)
    v1.include_router(metadata.router)
    app.include_router(v1)
    portal.install(app, settings)
    app.include_router(stripe_webhook.router)
    app.include_router(health.router)
    document_events(app)
    document_security(app, extra_schemas=[EventBatch], public={stripe_webhook.PATH})
    return app


def __getattr__(name: str) -> CreditgateApi:
    # ``uvicorn api.main:app`` builds the app on first access, so importing this module in
    # tests does not read the environment.
    if name == "app":
        return create_app()
    raise AttributeError(name)
