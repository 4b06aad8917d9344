"""The customer workflow's children (purchases, recharges, period closes): started to outlive
the run that starts them, and noted on its timeline."""

from datetime import timedelta

from temporalio import workflow
from temporalio.types import MethodAsyncSingleParam, ParamType, ReturnType, SelfType
from temporalio.workflow import ParentClosePolicy

from workflows.customer_log import record

with workflow.unsafe.imports_passed_through():
    from messages.customer import CustomerState


async def start_child(
    state: CustomerState,
    run: MethodAsyncSingleParam[SelfType, ParamType, ReturnType],
    arg: ParamType,
    *,
    workflow_id: str,
    run_timeout: timedelta,
    kind: str,
    note: str,
) -> None:
    """Start ``run(arg)`` as ``workflow_id``, then record ``note`` as ``kind``. Raises
    ``WorkflowAlreadyStartedError`` (recording nothing) when that id is running already."""
    await workflow.start_child_workflow(
        run,
        arg,
        id=workflow_id,
        # Children outlive this run when it continues as new. The default id reuse policy
        # (ALLOW_DUPLICATE) lets an id whose child has finished start again, as recharges do.
        parent_close_policy=ParentClosePolicy.ABANDON,
        run_timeout=run_timeout,
    )
    record(state, kind, note)
