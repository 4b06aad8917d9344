"""What the worker runs, in one place so tests build the same worker as production."""

from collections.abc import Callable, Sequence
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from activities.customers import CustomerActivities
from activities.ledger import LedgerActivities
from activities.payments import PaymentActivities
from creditgate.db import Database
from creditgate.stripe_gateway import StripeGateway
from workflows.customer import CustomerWorkflow
from workflows.purchase import PurchaseWorkflow
from workflows.recharge import RechargeWorkflow

WORKFLOWS: Sequence[type] = (CustomerWorkflow, PurchaseWorkflow, RechargeWorkflow)


def activities(db: Database, stripe: StripeGateway) -> list[Callable[..., Any]]:
    customer = CustomerActivities(db, stripe)
    ledger = LedgerActivities(db)
    payments = PaymentActivities(db, stripe)
    return [
        customer.create_stripe_customer,
        customer.register_customer,
        ledger.expire_grants,
        payments.open_purchase,
        payments.create_payment_intent,
        payments.get_payment_intent,
        payments.cancel_payment_intent,
        payments.grant_purchase,
        payments.fail_purchase,
        payments.read_purchase,
        payments.prepare_recharge,
        payments.attach_payment_method,
        payments.save_auto_recharge,
        payments.refund_purchase,
    ]


def build_worker(
    client: Client, task_queue: str, db: Database, stripe: StripeGateway, **kwargs: Any
) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        workflows=list(WORKFLOWS),
        activities=activities(db, stripe),
        **kwargs,
    )
