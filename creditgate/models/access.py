from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlmodel import Field, SQLModel

from creditgate.infra.sqltypes import UTCDateTime
from creditgate.models.common import timestamp_field
from creditgate.models.ledger import BigId


class KeyScope(StrEnum):
    admin = "admin"  # everything
    ingest = "ingest"  # usage events and holds only
    read = "read"  # GET only, keys and the audit log excepted


class ApiKeyRecord(SQLModel, table=True):
    """An API key issued by an admin: only its SHA-256 is stored (the key is 256 random bits,
    so a fast hash is as safe as a slow one and costs nothing per request)."""

    __tablename__ = "api_keys"

    id: str = Field(max_length=40, primary_key=True)
    name: str = Field(max_length=100)
    scope: KeyScope = Field(sa_type=String(20))
    # The first characters of the key, to tell keys apart in a list.
    prefix: str = Field(max_length=20)
    digest: str = Field(max_length=64, unique=True)
    created_at: datetime = timestamp_field()
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class AuditEntry(SQLModel, table=True):
    """One change made through the API, the portal or an operator update."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_actor", "actor", "id"),
    )

    id: int | None = Field(default=None, sa_type=BigId, primary_key=True)
    at: datetime = timestamp_field()
    actor: str = Field(max_length=200)
    action: str = Field(max_length=200)
    target: str = Field(max_length=500)
    status: int
    request_id: str = Field(max_length=100)
    details: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
