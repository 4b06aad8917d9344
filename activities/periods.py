"""Period activities: the billing schedule, the close, and collecting a statement's amount."""

from datetime import UTC, datetime

from sqlmodel import select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from creditgate.infra.db import Database
from creditgate.infra.settings import Settings
from creditgate.ledger.customers import get_customer
from creditgate.models import Purchase, Wallet
from creditgate.payments import charges, store
from creditgate.plans import catalog as plans
from creditgate.statements import store as statements
from creditgate.statements.close import PeriodToClose, close_period, suspend_for_nonpayment
from creditgate.statements.periods import period_index
from messages.period import (
    BillingSchedule,
    ClosePeriodInput,
    InvoiceInput,
    InvoiceTicket,
    StatementPaymentOutcome,
    StatementSummary,
)


class PeriodActivities:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    @activity.defn
    async def billing_schedule(self, external_id: str) -> BillingSchedule:
        async with self.db.session() as session:
            stored = await get_customer(session, external_id)
            if stored is None:
                raise ApplicationError(f"no customer {external_id!r}", non_retryable=True)
            c = stored.customer
            plan = await plans.definition(session, c.plan_code, c.plan_version or 1)
        return BillingSchedule(
            anchor=c.period_anchor,
            every=plan.period.every,
            unit=plan.period.unit,
            grace_seconds=plan.grace_seconds,
            billing=plan.billing,
            current_index=max(0, period_index(c.period_anchor, plan.period, datetime.now(UTC))),
        )

    @activity.defn
    async def close_period(self, input: ClosePeriodInput) -> StatementSummary:
        statement = await close_period(
            self.db,
            PeriodToClose(
                input.external_id,
                input.period_index,
                input.period_start,
                input.period_end,
                reanchor=input.reanchor,
            ),
        )
        if statement.payment_status == "pending" and not statements.collectable(statement):
            statement.payment_status = "below_minimum"
            assert statement.id is not None
            await statements.set_payment(self.db, statement.id, "below_minimum", None)
        assert statement.id is not None
        return StatementSummary(
            statement_id=statement.id,
            number=statement.number,
            amount_due=statement.amount_due,
            currency=statement.currency,
            closing_balance=statement.closing_balance,
            payment_status=statement.payment_status,
        )

    @activity.defn
    async def dunning_schedule(self) -> list[int]:
        """Seconds to wait after each failed collection attempt (from the worker's settings)."""
        return self.settings.dunning_retry_delays

    @activity.defn
    async def open_invoice(self, input: InvoiceInput) -> InvoiceTicket:
        """Price one attempt to collect a statement from what is still owed now: the debt,
        at most the statement's amount due (a purchase or an earlier, late payment may have
        paid some or all of it). Opens its purchase row (kind ``invoice``) unless nothing
        can be charged; then the statement's collection is settled here."""
        statement, customer = await statements.statement_by_id(self.db, input.statement_id)
        assert customer.id is not None and customer.stripe_customer_id is not None
        async with self.db.session() as session:
            plan = await plans.definition(session, statement.plan_code, statement.plan_version)
            wallet = (
                await session.exec(select(Wallet).where(Wallet.customer_id == customer.id))
            ).one()
        owed = min(
            statement.amount_due,
            charges.round_up_to_minor(wallet.debt * plan.credit_price, statement.currency),
        )
        ticket = InvoiceTicket(
            purchase_id=input.purchase_id,
            amount=owed,
            currency=statement.currency,
            stripe_customer_id=customer.stripe_customer_id,
            payment_method=customer.payment_method,
        )
        if owed < charges.minimum_charge(statement.currency) or owed <= 0:
            ticket.settled = "paid" if owed <= 0 else "below_minimum"
            assert statement.id is not None
            await statements.set_payment(self.db, statement.id, ticket.settled, None)
            return ticket
        await store.open_purchase(
            self.db,
            Purchase(
                id=input.purchase_id,
                customer_id=customer.id,
                kind="invoice",
                amount=owed,
                currency=statement.currency,
                credits=charges.credits_for(owed, plan),
                payment_method=customer.payment_method,
                workflow_id=input.workflow_id,
            ),
        )
        return ticket

    @activity.defn
    async def suspend_for_nonpayment(self, external_id: str) -> None:
        await suspend_for_nonpayment(self.db, external_id)

    @activity.defn
    async def record_statement_payment(self, input: StatementPaymentOutcome) -> None:
        await statements.set_payment(
            self.db, input.statement_id, input.status, input.payment_intent
        )
