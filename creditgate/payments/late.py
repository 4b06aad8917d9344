"""Starting ``LatePaymentWorkflow`` for a succeeded PaymentIntent (webhook and reconciliation)."""

import contextlib

from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from workflows.late_payment import LatePaymentWorkflow, late_payment_workflow_id


async def settle_late(client: Client, task_queue: str, payment_intent: str) -> None:
    """Have the PaymentIntent's purchase granted; once per PaymentIntent (a run that failed
    may be started again)."""
    with contextlib.suppress(WorkflowAlreadyStartedError):
        await client.start_workflow(
            LatePaymentWorkflow.run,
            payment_intent,
            id=late_payment_workflow_id(payment_intent),
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
        )
