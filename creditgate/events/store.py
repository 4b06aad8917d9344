"""Recording and reading a customer's events.

``record`` is the only writer: it bumps ``customers.last_event_sequence`` and inserts the event
in one transaction, so sequences are gap-free (a rolled-back insert rolls the bump back too) and
two writers for one customer queue on the customer row. The business ``key`` makes recording
idempotent: an activity retried after its commit gets the event it already recorded.
"""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from creditgate.infra.db import Database
from creditgate.models import Customer, CustomerEvent


class UnknownCustomer(LookupError):
    pass


async def _existing(session: AsyncSession, customer_id: int, key: str) -> CustomerEvent | None:
    rows = await session.exec(
        select(CustomerEvent).where(
            CustomerEvent.customer_id == customer_id, CustomerEvent.key == key
        )
    )
    return rows.first()


async def record(
    db: Database,
    external_id: str,
    type: str,
    key: str,
    data: dict[str, Any],
    created_at: datetime,
) -> CustomerEvent:
    """Record one event for the customer, once per ``key``."""
    for _ in range(2):
        try:
            async with db.transaction() as session:
                customer = (
                    await session.exec(select(Customer).where(Customer.external_id == external_id))
                ).first()
                if customer is None or customer.id is None:
                    raise UnknownCustomer(external_id)
                found = await _existing(session, customer.id, key)
                if found is not None:
                    return found
                connection = await session.connection()
                bumped = await connection.execute(
                    update(Customer)
                    .where(col(Customer.id) == customer.id)
                    .values(last_event_sequence=col(Customer.last_event_sequence) + 1)
                    .returning(col(Customer.last_event_sequence))
                )
                event = CustomerEvent(
                    event_id=f"evt_{uuid.uuid4().hex}",
                    customer_id=customer.id,
                    external_id=external_id,
                    sequence=bumped.scalar_one(),
                    type=type,
                    key=key,
                    data=data,
                    created_at=created_at,
                )
                session.add(event)
                await session.flush()
                return event
        except IntegrityError:
            # The same key recorded concurrently: the other writer's event is the one.
            continue
    async with db.session() as session:
        customer_id = (
            await session.exec(select(Customer.id).where(Customer.external_id == external_id))
        ).one()
        assert customer_id is not None
        found = await _existing(session, customer_id, key)
        if found is None:
            raise RuntimeError(f"event {key!r} of {external_id!r} could not be recorded")
        return found


async def insert_events(conn: AsyncConnection, rows: list[dict[str, Any]], now: datetime) -> None:
    """Record events inside a ledger transaction that holds the customers' locks (grant
    created or expired): the same sequence bump as ``record``, in that transaction. Their keys
    name a change that happens once, so they cannot collide."""
    by_customer: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        by_customer.setdefault(row["customer_id"], []).append(row)
    for customer_id, events in sorted(by_customer.items()):
        bumped = await conn.execute(
            update(Customer)
            .where(col(Customer.id) == customer_id)
            .values(last_event_sequence=col(Customer.last_event_sequence) + len(events))
            .returning(col(Customer.last_event_sequence))
        )
        last = bumped.scalar_one()
        await conn.execute(
            insert(CustomerEvent),
            [
                {
                    **event,
                    "event_id": f"evt_{uuid.uuid4().hex}",
                    "sequence": last - len(events) + n,
                    "created_at": now,
                }
                for n, event in enumerate(events, start=1)
            ],
        )


async def events_after(
    db: Database, external_id: str, after_sequence: int = 0, limit: int = 100
) -> list[CustomerEvent]:
    """A customer's events with ``sequence > after_sequence``, oldest first."""
    async with db.session() as session:
        rows = await session.exec(
            select(CustomerEvent)
            .where(
                CustomerEvent.customer_id
                == select(Customer.id).where(Customer.external_id == external_id).scalar_subquery(),
                col(CustomerEvent.sequence) > after_sequence,
            )
            .order_by(col(CustomerEvent.sequence))
            .limit(limit)
        )
        return list(rows.all())
