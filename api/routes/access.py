"""API keys (admin only) and the audit log."""

from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import AwareDatetime

from api.deps import DbDep
from api.errors import ApiError
from api.schemas.access import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyPublic,
    AuditEntryPublic,
    AuditPage,
    KeyIdPath,
)
from api.schemas.common import ERRORS
from creditgate.access import audit, keys
from creditgate.models import KeyScope

router = APIRouter(tags=["access"], responses=ERRORS)


@router.post("/api-keys", status_code=status.HTTP_201_CREATED, response_model=ApiKeyCreated)
async def create_key(body: ApiKeyCreate, db: DbDep) -> ApiKeyCreated:
    """A new key; the key itself is in this answer only."""
    record, key = await keys.create(db, body.name, KeyScope(body.scope))
    return ApiKeyCreated(**ApiKeyPublic.of(record).model_dump(), key=key)


@router.get("/api-keys", response_model=list[ApiKeyPublic])
async def list_keys(db: DbDep) -> list[ApiKeyPublic]:
    return [ApiKeyPublic.of(record) for record in await keys.list_keys(db)]


@router.delete("/api-keys/{key_id}", response_model=ApiKeyPublic)
async def revoke_key(key_id: KeyIdPath, db: DbDep) -> ApiKeyPublic:
    """Revoke a key: every API process refuses it from the next request on."""
    try:
        return ApiKeyPublic.of(await keys.revoke(db, key_id))
    except keys.UnknownKey:
        raise ApiError(404, "not_found", f"no API key {key_id!r}") from None


@router.get("/audit-log", response_model=AuditPage)
async def audit_log(
    db: DbDep,
    before: Annotated[int | None, Query(ge=1)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    actor: Annotated[str | None, Query(max_length=200, pattern=r"^[^\x00]*$")] = None,
    action: Annotated[str | None, Query(max_length=200, pattern=r"^[^\x00]*$")] = None,
    target: Annotated[str | None, Query(max_length=500, pattern=r"^[^\x00]*$")] = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
) -> AuditPage:
    """Changes made through the API, newest first; filter by actor (the key's name), action
    (``"POST /v1/customers/{external_id}/grants"``), target path prefix and time."""
    found = await audit.entries(
        db,
        before_id=before,
        limit=limit + 1,
        actor=actor,
        action=action,
        target=target,
        since=since,
        until=until,
    )
    page = found[:limit]
    more = len(found) > limit and page
    return AuditPage(
        entries=[AuditEntryPublic.of(entry) for entry in page],
        next_before=page[-1].id if more else None,
    )
