"""What the worker runs, in one place so tests build the same worker as production."""

from collections.abc import Callable, Sequence
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from activities.closure import ClosureActivities
from activities.customers import CustomerActivities
from activities.events import EventActivities
from activities.ledger import LedgerActivities
from activities.operators import OperatorActivities
from activities.payments import PaymentActivities
from activities.periods import PeriodActivities
from activities.plan_changes import PlanChangeActivities
from activities.plan_migrations import PlanMigrationActivities
from activities.webhooks import WebhookActivities
from creditgate.infra.db import Database
from creditgate.infra.settings import Settings
from creditgate.payments.stripe_gateway import StripeGateway
from workflows.customer import CustomerWorkflow
from workflows.late_payment import LatePaymentWorkflow
from workflows.period_close import PeriodCloseWorkflow
from workflows.plan_migration import PlanMigrationWorkflow
from workflows.purchase import PurchaseWorkflow
from workflows.recharge import RechargeWorkflow
from workflows.webhook_delivery import WebhookDeliveryWorkflow

WORKFLOWS: Sequence[type] = (
    CustomerWorkflow,
    PurchaseWorkflow,
    RechargeWorkflow,
    PeriodCloseWorkflow,
    PlanMigrationWorkflow,
    LatePaymentWorkflow,
    WebhookDeliveryWorkflow,
)


def activities(
    db: Database, stripe: StripeGateway, settings: Settings | None = None
) -> list[Callable[..., Any]]:
    customer = CustomerActivities(db, stripe)
    closing = ClosureActivities(db, stripe)
    settings = settings or Settings()
    periods = PeriodActivities(db, settings)
    ledger = LedgerActivities(db)
    operators = OperatorActivities(db)
    payments = PaymentActivities(db, stripe)
    migrations = PlanMigrationActivities(db)
    plan_changes = PlanChangeActivities(db)
    events = EventActivities(db)
    webhooks = WebhookActivities(
        db, settings.webhook_timeout_seconds, bool(settings.webhook_allow_private_networks)
    )
    return [
        events.record_event,
        webhooks.next_webhook_delivery,
        webhooks.attempt_webhook_delivery,
        customer.create_stripe_customer,
        customer.register_customer,
        closing.begin_closure,
        closing.settle_holds,
        closing.refundable_purchases,
        closing.refund_unspent,
        closing.forfeit_credits,
        closing.detach_cards,
        closing.finish_closure,
        ledger.expire_grants,
        operators.apply_operator_change,
        operators.record_audit,
        payments.open_purchase,
        payments.create_payment_intent,
        payments.get_payment_intent,
        payments.cancel_payment_intent,
        payments.grant_purchase,
        payments.settle_paid_intent,
        payments.fail_purchase,
        payments.read_purchase,
        payments.find_purchase,
        payments.prepare_recharge,
        payments.attach_payment_method,
        payments.save_auto_recharge,
        payments.refund_purchase,
        plan_changes.schedule_plan,
        migrations.open_migration,
        migrations.move_batch,
        migrations.finish_migration,
        periods.billing_schedule,
        periods.close_period,
        periods.dunning_schedule,
        periods.open_invoice,
        periods.record_statement_payment,
        periods.suspend_for_nonpayment,
    ]


def build_worker(
    client: Client,
    task_queue: str,
    db: Database,
    stripe: StripeGateway,
    settings: Settings | None = None,
    **kwargs: Any,
) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        workflows=list(WORKFLOWS),
        activities=activities(db, stripe, settings),
        **kwargs,
    )
