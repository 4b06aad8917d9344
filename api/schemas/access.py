"""Bodies of the API-key and audit-log routes."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, StringConstraints

from api.schemas.common import RequestBody
from creditgate.models import ApiKeyRecord, AuditEntry, KeyScope
from creditgate.values.identifiers import STORABLE

KeyName = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=STORABLE)]
KeyIdPath = Annotated[
    str, StringConstraints(min_length=1, max_length=40, pattern=r"^key_[0-9a-f]+$")
]


class ApiKeyCreate(RequestBody):
    name: KeyName
    scope: Literal["admin", "ingest", "read"]


class ApiKeyPublic(BaseModel):
    id: str
    name: str
    scope: KeyScope
    prefix: str
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, record: ApiKeyRecord) -> "ApiKeyPublic":
        return cls.model_validate(record, from_attributes=True)


class ApiKeyCreated(ApiKeyPublic):
    # Shown this once: only its hash is kept.
    key: str


class AuditEntryPublic(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    status: int
    request_id: str
    details: dict[str, Any]

    @classmethod
    def of(cls, entry: AuditEntry) -> "AuditEntryPublic":
        return cls.model_validate(entry, from_attributes=True)


class AuditPage(BaseModel):
    entries: list[AuditEntryPublic]
    # Pass as ``before`` for the next (older) page; null on the last page.
    next_before: int | None
