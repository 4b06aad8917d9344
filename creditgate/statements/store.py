"""Statements in the database: reads, and the collection of an amount due."""

from sqlmodel import col, select, update

from creditgate.infra.db import Database
from creditgate.ledger.errors import NotFound
from creditgate.models import Customer, Statement
from creditgate.payments import charges as amounts


async def list_statements(db: Database, customer_id: int) -> list[Statement]:
    async with db.session() as session:
        rows = await session.exec(
            select(Statement)
            .where(Statement.customer_id == customer_id)
            .order_by(col(Statement.number).desc())
        )
        return list(rows.all())


async def get_statement(db: Database, customer_id: int, number: int) -> Statement | None:
    async with db.session() as session:
        return (
            await session.exec(
                select(Statement).where(
                    Statement.customer_id == customer_id, Statement.number == number
                )
            )
        ).first()


async def statement_by_id(db: Database, statement_id: int) -> tuple[Statement, Customer]:
    async with db.session() as session:
        statement = await session.get(Statement, statement_id)
        if statement is None:
            raise NotFound(f"no statement {statement_id}")
        customer = await session.get(Customer, statement.customer_id)
        assert customer is not None
        return statement, customer


def collectable(statement: Statement) -> bool:
    """Stripe cannot charge less than its minimum: such an amount stays as debt and is carried
    to the next statement."""
    return statement.amount_due >= amounts.minimum_charge(statement.currency)


async def set_payment(
    db: Database, statement_id: int, status: str, payment_intent: str | None
) -> None:
    """Record where collection stands; a paid statement stays paid."""
    async with db.transaction() as session:
        await session.exec(
            update(Statement)
            .where(col(Statement.id) == statement_id, col(Statement.payment_status) != "paid")
            .values(payment_status=status, payment_intent=payment_intent)
        )
