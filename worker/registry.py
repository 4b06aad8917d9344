"""What the worker runs, in one place so tests build the same worker as production."""

from collections.abc import Callable, Sequence
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from activities.customers import CustomerActivities
from activities.ledger import LedgerActivities
from creditgate.db import Database
from creditgate.stripe_gateway import StripeGateway
from workflows.customer import CustomerWorkflow

WORKFLOWS: Sequence[type] = (CustomerWorkflow,)


def activities(db: Database, stripe: StripeGateway) -> list[Callable[..., Any]]:
    customer = CustomerActivities(db, stripe)
    ledger = LedgerActivities(db)
    return [customer.create_stripe_customer, customer.register_customer, ledger.expire_grants]


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
