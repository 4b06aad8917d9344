"""One way to call an activity method from a workflow: timeout and retry policy in one place."""

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar, overload

from temporalio import workflow
from temporalio.common import RetryPolicy

A = TypeVar("A")
R = TypeVar("R")

ACTIVITY_TIMEOUT = timedelta(seconds=30)
# Network errors and Stripe 5xx are retried until they pass; declines are non-retryable
# ApplicationErrors that the workflow handles.
ACTIVITY_RETRY = RetryPolicy(maximum_interval=timedelta(minutes=1))


@overload
async def call(fn: Callable[[Any], Awaitable[R]], /) -> R: ...


@overload
async def call(fn: Callable[[Any, A], Awaitable[R]], arg: A, /) -> R: ...


async def call(fn: Callable[..., Awaitable[R]], *args: Any) -> R:
    return await workflow.execute_activity_method(
        fn, *args, start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=ACTIVITY_RETRY
    )
