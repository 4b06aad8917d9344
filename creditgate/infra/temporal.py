"""Temporal client construction shared by the API, the worker and the CLI."""

import asyncio
import logging

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from creditgate.infra.settings import Settings

log = logging.getLogger("creditgate.temporal")

MAX_BACKOFF_SECONDS = 10.0


async def connect(settings: Settings) -> Client:
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
    )


async def connect_patiently(settings: Settings, stop: asyncio.Event) -> Client | None:
    """Connect, retrying with backoff while Temporal is unreachable (a worker that starts
    before its server, or during a restart, waits instead of exiting); None once ``stop`` is
    set first."""
    delay = 0.5
    while not stop.is_set():
        try:
            return await connect(settings)
        except RuntimeError as err:  # the SDK's "Failed client connect"
            log.warning(
                "Temporal at %s is unreachable (%s); retrying in %.1f s",
                settings.temporal_address,
                err,
                delay,
            )
        try:
            await asyncio.wait_for(stop.wait(), timeout=delay)
        except TimeoutError:
            delay = min(delay * 2, MAX_BACKOFF_SECONDS)
    return None
