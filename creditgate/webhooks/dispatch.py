"""Fanning a customer's new events out to the endpoints (``webhook_deliveries`` rows), and
the rows whose (endpoint, customer) workflow must be signalled.

The dispatcher follows each customer's gap-free ``sequence`` with a cursor per customer
(``webhook_cursors``), not ``customer_events.id``: ids are taken at insert and committed out
of order on PostgreSQL, but one customer's events commit in sequence order (its writers queue
on the customer row). A customer's rows and its cursor are written in one transaction, moved
only from the value read, so two dispatchers never both fan the same events out.
"""

import contextlib
import uuid
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select, update

from creditgate.infra.db import Database
from creditgate.models import (
    Customer,
    CustomerEvent,
    WebhookCursor,
    WebhookDelivery,
    WebhookEndpoint,
)
from creditgate.webhooks.event_types import subscribed


def new_delivery(endpoint: WebhookEndpoint, event: CustomerEvent) -> WebhookDelivery:
    assert endpoint.id is not None and event.id is not None
    return WebhookDelivery(
        delivery_id=f"whd_{uuid.uuid4().hex}",
        endpoint_id=endpoint.id,
        event_pk=event.id,
        event_id=event.event_id,
        event_type=event.type,
        customer_id=event.customer_id,
        external_id=event.external_id,
        sequence=event.sequence,
    )


async def fan_out(db: Database, limit: int = 100) -> int:
    """Fan out the new events of up to ``limit`` customers; returns how many had some."""
    dispatched = func.coalesce(WebhookCursor.dispatched_sequence, 0)
    async with db.session() as session:
        behind = (
            await session.exec(
                select(Customer.id, dispatched)
                .outerjoin(WebhookCursor, col(WebhookCursor.customer_id) == col(Customer.id))
                .where(col(Customer.last_event_sequence) > dispatched)
                .limit(limit)
            )
        ).all()
    for customer_id, cursor in behind:
        assert customer_id is not None
        with contextlib.suppress(IntegrityError):  # another dispatcher fanned them out first
            await _fan_out_customer(db, customer_id, cursor)
    return len(behind)


async def _fan_out_customer(db: Database, customer_id: int, cursor: int) -> None:
    async with db.transaction() as session:
        events = list(
            (
                await session.exec(
                    select(CustomerEvent)
                    .where(
                        CustomerEvent.customer_id == customer_id,
                        col(CustomerEvent.sequence) > cursor,
                    )
                    .order_by(col(CustomerEvent.sequence))
                )
            ).all()
        )
        if not events:
            return
        endpoints = (
            await session.exec(select(WebhookEndpoint).where(col(WebhookEndpoint.enabled)))
        ).all()
        for event in events:
            for endpoint in endpoints:
                if (event.id or 0) > endpoint.after_event and subscribed(
                    endpoint.event_types, event.type
                ):
                    session.add(new_delivery(endpoint, event))
        last = events[-1].sequence
        if cursor == 0 and await session.get(WebhookCursor, customer_id) is None:
            session.add(WebhookCursor(customer_id=customer_id, dispatched_sequence=last))
        else:
            moved = await session.exec(
                update(WebhookCursor)
                .where(
                    col(WebhookCursor.customer_id) == customer_id,
                    col(WebhookCursor.dispatched_sequence) == cursor,
                )
                .values(dispatched_sequence=last)
            )
            if moved.rowcount != 1:
                raise IntegrityError("cursor moved", None, Exception("concurrent dispatch"))
        await session.flush()


@dataclass
class Kick:
    """Pending rows of one (endpoint, customer) whose workflow must be signalled."""

    endpoint: int
    endpoint_id: str
    customer_id: int
    external_id: str
    rows: list[tuple[int, int]] = field(default_factory=list)  # (delivery pk, generation)


async def kicks(db: Database, limit: int = 500) -> list[Kick]:
    async with db.session() as session:
        rows = (
            await session.exec(
                select(WebhookDelivery, WebhookEndpoint.endpoint_id)
                .join(WebhookEndpoint, col(WebhookEndpoint.id) == col(WebhookDelivery.endpoint_id))
                .where(
                    col(WebhookDelivery.needs_kick),
                    col(WebhookDelivery.status) == "pending",
                    col(WebhookEndpoint.enabled),
                )
                .order_by(col(WebhookDelivery.id))
                .limit(limit)
            )
        ).all()
    grouped: dict[tuple[int, int], Kick] = {}
    for row, endpoint_id in rows:
        assert row.id is not None
        kick = grouped.setdefault(
            (row.endpoint_id, row.customer_id),
            Kick(row.endpoint_id, endpoint_id, row.customer_id, row.external_id),
        )
        kick.rows.append((row.id, row.generation))
    return list(grouped.values())


async def kicked(db: Database, rows: list[tuple[int, int]]) -> None:
    """Clear the marks of rows signalled (a row reset meanwhile keeps its new mark)."""
    by_generation: dict[int, list[int]] = defaultdict(list)
    for pk, generation in rows:
        by_generation[generation].append(pk)
    async with db.transaction() as session:
        for generation, pks in by_generation.items():
            await session.exec(
                update(WebhookDelivery)
                .where(
                    col(WebhookDelivery.id).in_(pks), col(WebhookDelivery.generation) == generation
                )
                .values(needs_kick=False)
            )
