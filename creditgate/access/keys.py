"""Scoped API keys: issued, listed and revoked by an admin; looked up on every request, so a
revocation holds at once in every API process (the bootstrap key from settings needs no
lookup)."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import col, select

from creditgate.infra.db import Database
from creditgate.models import ApiKeyRecord, KeyScope

# Issued keys start with this, so a lookup is only tried for something that can be one.
KEY_PREFIX = "cg_"
BOOTSTRAP_NAME = "bootstrap"


@dataclass(frozen=True)
class Principal:
    """Who a request acts for: a key's name (or ``bootstrap``) and its scope."""

    name: str
    scope: KeyScope
    key_id: str | None = None


class UnknownKey(LookupError):
    pass


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def create(db: Database, name: str, scope: KeyScope) -> tuple[ApiKeyRecord, str]:
    """A new key: its record, and the key itself (shown this once, never stored)."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    record = ApiKeyRecord(
        id=f"key_{secrets.token_hex(8)}",
        name=name,
        scope=scope,
        prefix=key[:10],
        digest=digest(key),
    )
    async with db.transaction() as session:
        session.add(record)
    return record, key


async def list_keys(db: Database) -> list[ApiKeyRecord]:
    async with db.session() as session:
        rows = await session.exec(select(ApiKeyRecord).order_by(col(ApiKeyRecord.created_at)))
        return list(rows.all())


async def revoke(db: Database, key_id: str) -> ApiKeyRecord:
    """Revoke a key (revoking a revoked key changes nothing and returns it as it is)."""
    async with db.transaction() as session:
        record = await session.get(ApiKeyRecord, key_id)
        if record is None:
            raise UnknownKey(key_id)
        if record.revoked_at is None:
            record.revoked_at = datetime.now(UTC)
            session.add(record)
        return record


async def lookup(db: Database, key: str) -> Principal | None:
    """The principal of an issued, unrevoked key; None for anything else."""
    if not key.startswith(KEY_PREFIX):
        return None
    async with db.session() as session:
        record = (
            await session.exec(
                select(ApiKeyRecord).where(
                    ApiKeyRecord.digest == digest(key), col(ApiKeyRecord.revoked_at).is_(None)
                )
            )
        ).first()
    if record is None:
        return None
    return Principal(name=record.name, scope=KeyScope(record.scope), key_id=record.id)
