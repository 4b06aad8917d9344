"""PeriodCloseWorkflow (``period-{external_id}-{index}``): one billing period ends.

Waits out the grace window for late events, then closes the period in one ledger
transaction (freeze, expiry, rating, true-up, statement). An amount due (arrears usage, or
debt on a prepaid plan) is collected off-session on the saved card, each attempt with its own
idempotency key and a purchase row (kind ``invoice``) whose grant pays the debt; declines are
retried on the dunning schedule, each attempt priced from what is still owed then (nothing
owed, nothing charged). The customer workflow hears the outcome by signal.
"""

import contextlib
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError

from workflows import events
from workflows.activity_calls import call
from workflows.purchase import PAID, declined_reason

with workflow.unsafe.imports_passed_through():
    from activities.payments import PaymentActivities
    from activities.periods import PeriodActivities
    from creditgate.events.catalogue import (
        EventType,
        StatementClosed,
        StatementPaid,
        StatementPaymentFailed,
    )
    from messages.period import (
        ClosePeriodInput,
        InvoiceInput,
        InvoiceTicket,
        PeriodClosed,
        PeriodCloseInput,
        StatementPaymentOutcome,
        StatementSummary,
    )
    from messages.purchase import CreateIntentInput, FailPurchaseInput, PurchaseRef


# Runs from before a closing account could end the grace early.
END_GRACE_PATCH = "period-close-end-grace-v1"


def period_workflow_id(external_id: str, period_index: int) -> str:
    return f"period-{external_id}-{period_index}"


@workflow.defn
class PeriodCloseWorkflow:
    @workflow.init
    def __init__(self, input: PeriodCloseInput) -> None:
        self.external_id = input.external_id
        self.statement: StatementSummary | None = None
        self.statement_number = 0
        self.attempts = 0
        self.idempotency_keys: dict[int, str] = {}
        self.invoice_ids: dict[int, str] = {}
        self._grace_ended = False

    @workflow.run
    async def run(self, input: PeriodCloseInput) -> PeriodClosed:
        grace_ends = input.period_end + timedelta(seconds=input.grace_seconds)
        if grace_ends > workflow.now():
            if workflow.patched(END_GRACE_PATCH):
                with contextlib.suppress(TimeoutError):
                    await workflow.wait_condition(
                        lambda: self._grace_ended,
                        timeout=grace_ends - workflow.now(),
                        timeout_summary="grace for late events",
                    )
            else:
                await workflow.sleep(grace_ends - workflow.now(), summary="grace for late events")
        statement = await call(
            PeriodActivities.close_period,
            ClosePeriodInput(
                external_id=input.external_id,
                period_index=input.period_index,
                period_start=input.period_start,
                period_end=input.period_end,
                reanchor=input.reanchor,
            ),
        )
        self.statement = statement
        self.statement_number = statement.number
        await events.record(
            input.external_id,
            EventType.statement_closed,
            f"statement.closed:{statement.statement_id}",
            StatementClosed(
                statement_id=statement.statement_id,
                number=statement.number,
                amount_due=statement.amount_due,
                currency=statement.currency,
                period_index=input.period_index,
                period_start=input.period_start,
                period_end=input.period_end,
                closing_balance=statement.closing_balance,
                payment_status=statement.payment_status,
            ),
        )
        collection, reason = statement.payment_status, None
        if statement.payment_status == "pending":
            collection, reason = await self._collect(statement)
        closed = PeriodClosed(
            message_id=f"period-closed:{input.period_index}",
            period_index=input.period_index,
            number=statement.number,
            amount_due=statement.amount_due,
            currency=statement.currency,
            collection=collection,
            reason=reason,
        )
        parent = workflow.info().parent
        if parent is not None:
            await workflow.get_external_workflow_handle(parent.workflow_id).signal(
                "period_closed", closed
            )
        return closed

    async def _collect(self, statement: StatementSummary) -> tuple[str, str | None]:
        delays = await call(PeriodActivities.dunning_schedule)
        reason: str | None = None
        for attempt in range(1, len(delays) + 2):
            self.attempts = attempt
            ticket = await call(
                PeriodActivities.open_invoice,
                InvoiceInput(
                    statement_id=statement.statement_id,
                    purchase_id=self.invoice_ids.setdefault(
                        attempt, f"inv_{workflow.uuid4().hex[:24]}"
                    ),
                    workflow_id=workflow.info().workflow_id,
                ),
            )
            if ticket.settled is not None:
                return ticket.settled, None  # nothing left to charge
            payment_intent, reason = await self._charge(ticket, attempt)
            if reason is None:
                await call(
                    PeriodActivities.record_statement_payment,
                    StatementPaymentOutcome(
                        statement_id=statement.statement_id,
                        status="paid",
                        payment_intent=payment_intent,
                    ),
                )
                await events.record(
                    self.external_id,
                    EventType.statement_paid,
                    f"statement.paid:{statement.statement_id}",
                    StatementPaid(**self._facts(statement), payment_intent=payment_intent),
                )
                return "paid", None
            await call(
                PaymentActivities.fail_purchase,
                FailPurchaseInput(purchase_id=ticket.purchase_id, reason=reason),
            )
            retry_in = timedelta(seconds=delays[attempt - 1]) if attempt <= len(delays) else None
            await events.record(
                self.external_id,
                EventType.statement_payment_failed,
                f"statement.payment_failed:{statement.statement_id}-{attempt}",
                StatementPaymentFailed(
                    **self._facts(statement),
                    attempt=attempt,
                    reason=reason,
                    next_attempt_at=None if retry_in is None else workflow.now() + retry_in,
                ),
            )
            if retry_in is not None:
                await workflow.sleep(
                    retry_in,
                    summary=f"dunning: retry collection (attempt {attempt + 1})",
                )
        await call(
            PeriodActivities.record_statement_payment,
            StatementPaymentOutcome(statement_id=statement.statement_id, status="failed"),
        )
        await call(PeriodActivities.suspend_for_nonpayment, self.external_id)
        return "unpaid", reason

    def _facts(self, statement: StatementSummary) -> dict[str, Any]:
        return {
            "statement_id": statement.statement_id,
            "number": statement.number,
            "amount_due": statement.amount_due,
            "currency": statement.currency,
        }

    async def _charge(self, ticket: InvoiceTicket, attempt: int) -> tuple[str | None, str | None]:
        """Charge the saved card once; (payment intent, None) when paid, else the reason."""
        if ticket.payment_method is None:
            return None, "no saved card (PUT .../payment-method)"
        key = self.idempotency_keys.setdefault(attempt, f"cg-invoice-{workflow.uuid4()}")
        try:
            intent = await call(
                PaymentActivities.create_payment_intent,
                CreateIntentInput(
                    purchase_id=ticket.purchase_id,
                    kind="invoice",
                    external_id=self.external_id,
                    stripe_customer_id=ticket.stripe_customer_id,
                    amount=ticket.amount,
                    currency=ticket.currency,
                    payment_method=ticket.payment_method,
                    attach_payment_method=False,
                    off_session=True,
                    idempotency_key=key,
                    workflow_id=workflow.info().workflow_id,
                    extra_metadata={"creditgate_statement": str(self.statement_number)},
                ),
            )
        except ActivityError as err:
            reason = declined_reason(err)
            if reason is None:
                raise
            return None, reason
        if intent.status != PAID:
            intent = await call(PaymentActivities.cancel_payment_intent, intent.id)
        if intent.status != PAID:
            return intent.id, intent.failure or f"payment {intent.status}"
        await call(PaymentActivities.grant_purchase, PurchaseRef(purchase_id=ticket.purchase_id))
        return intent.id, None

    @workflow.signal
    def end_grace(self) -> None:
        """No late event can come any more (the account is closing): close now."""
        self._grace_ended = True

    @workflow.query(name="state")
    def get_state(self) -> StatementSummary | None:
        return self.statement
