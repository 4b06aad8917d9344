"""Request dependencies: settings, database, Temporal client, the customer a path names."""

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from api.errors import ApiError
from creditgate.infra.db import Database
from creditgate.infra.settings import Settings
from creditgate.infra.temporal import connect
from creditgate.ledger.customers import CustomerWithWallet, get_customer
from creditgate.values.identifiers import ExternalId


class TemporalConnection:
    """Connects on first use, so the API can start (and report unhealthy) before Temporal."""

    def __init__(self, settings: Settings, client: Client | None = None) -> None:
        self._settings = settings
        self._client = client
        self._lock = asyncio.Lock()

    async def get(self) -> Client:
        if self._client is None:
            async with self._lock:
                if self._client is None:
                    self._client = await connect(self._settings)
        return self._client


# Dependencies are ``async def`` so FastAPI runs them on the event loop, not in its
# threadpool (a thread hop per dependency per request on the hot path).
async def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def get_session(db: Annotated[Database, Depends(get_db)]) -> AsyncIterator[AsyncSession]:
    async with db.session() as session:
        yield session


async def get_temporal(request: Request) -> Client:
    connection: TemporalConnection = request.app.state.temporal
    try:
        return await connection.get()
    except RuntimeError as err:
        raise ApiError(503, "temporal_unavailable", f"Temporal is unreachable: {err}") from err


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
DbDep = Annotated[Database, Depends(get_db)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
TemporalDep = Annotated[Client, Depends(get_temporal)]


def customer_not_found(external_id: str) -> ApiError:
    return ApiError(404, "not_found", f"no customer with external_id {external_id!r}")


async def get_customer_or_404(external_id: ExternalId, db: DbDep) -> CustomerWithWallet:
    """The customer (with its wallet) of the path's ``{external_id}``, read in a session of
    its own that is closed before the route runs (a route that then waits on Temporal holds
    no database connection). Being a dependency, it runs before the route's body and query
    are validated: an unknown customer is a 404 whatever else is wrong."""
    async with db.session() as session:
        stored = await get_customer(session, external_id)
    if stored is None:
        raise customer_not_found(external_id)
    return stored


# Routes with it take ``{external_id}`` from it (declaring the path parameter again would
# report an invalid id twice).
CustomerDep = Annotated[CustomerWithWallet, Depends(get_customer_or_404)]
