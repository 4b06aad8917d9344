"""The worker's background loops: a pass, then a pause, until the worker stops."""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable


async def pause(stop: asyncio.Event, seconds: float) -> None:
    """Sleep ``seconds``, or less once ``stop`` is set."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def repeat(
    stop: asyncio.Event,
    one_pass: Callable[[], Awaitable[bool]],
    interval: float,
    log: logging.Logger,
    what: str,
) -> None:
    """Run ``one_pass`` until ``stop`` is set, pausing ``interval`` seconds between passes
    unless it returns True (more work is waiting). A pass that raises is logged and the loop
    goes on: the next pass retries."""
    while not stop.is_set():
        again = False
        try:
            again = await one_pass()
        except Exception:
            log.exception("%s failed; retrying", what)
        if not again:
            await pause(stop, interval)
