"""Idempotency keys of ``POST .../purchases``, kept in the database.

A key is bound, per customer, to a hash of the request body and (once made) to the purchase
it made. A repeat with the same body answers with that purchase, however many purchases came
since; the same key with another body is refused, as Stripe does. Keys are kept at least
``KEEP_DAYS`` days, then purged by the worker.
"""

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, update

from creditgate.infra.db import Database
from creditgate.models import PurchaseIdempotencyKey

KEEP_DAYS = 30


def request_hash(body: dict[str, Any]) -> str:
    """A digest of the request's parameters, independent of key order."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def claim(db: Database, customer_id: int, key: str, digest: str) -> PurchaseIdempotencyKey:
    """The key's row: this request's if the key is new, else the one stored first."""
    row = PurchaseIdempotencyKey(customer_id=customer_id, key=key, request_hash=digest)
    try:
        async with db.transaction() as session:
            session.add(row)
    except IntegrityError:
        pass
    async with db.session() as session:
        stored = await session.get(PurchaseIdempotencyKey, (customer_id, key))
    assert stored is not None
    return stored


async def bind(db: Database, customer_id: int, key: str, purchase_id: str) -> None:
    """Record the purchase a key made (once: a key never moves to another purchase)."""
    async with db.transaction() as session:
        await session.exec(
            update(PurchaseIdempotencyKey)
            .where(
                col(PurchaseIdempotencyKey.customer_id) == customer_id,
                col(PurchaseIdempotencyKey.key) == key,
                col(PurchaseIdempotencyKey.purchase_id).is_(None),
            )
            .values(purchase_id=purchase_id)
        )


async def release(db: Database, customer_id: int, key: str) -> None:
    """Forget a key whose request was refused before it made a purchase."""
    async with db.transaction() as session:
        await session.exec(
            delete(PurchaseIdempotencyKey).where(
                col(PurchaseIdempotencyKey.customer_id) == customer_id,
                col(PurchaseIdempotencyKey.key) == key,
                col(PurchaseIdempotencyKey.purchase_id).is_(None),
            )
        )


async def purge(db: Database, now: datetime) -> int:
    """Delete keys older than ``KEEP_DAYS``; returns how many."""
    async with db.transaction() as session:
        result = await session.exec(
            delete(PurchaseIdempotencyKey).where(
                col(PurchaseIdempotencyKey.created_at) < now - timedelta(days=KEEP_DAYS)
            )
        )
    return int(result.rowcount or 0)
