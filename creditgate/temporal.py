"""Temporal client construction shared by the API, the worker and the CLI."""

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from creditgate.settings import Settings


async def connect(settings: Settings) -> Client:
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
    )
