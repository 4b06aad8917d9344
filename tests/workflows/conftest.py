"""Workflow unit-test fixture: ``units`` (see ``tests/workflows/units.py``)."""

import uuid
from collections.abc import AsyncIterator

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.support.time_skipping import register_search_attributes
from tests.workflows.units import Units
from worker.registry import WORKFLOWS


@pytest.fixture
async def units(time_skipping_env: WorkflowEnvironment) -> AsyncIterator[Units]:
    await register_search_attributes(time_skipping_env.client)
    units = Units(time_skipping_env, f"units-{uuid.uuid4().hex[:8]}")
    async with Worker(
        units.client,
        task_queue=units.task_queue,
        workflows=list(WORKFLOWS),
        activities=units.doubles.all(),
    ):
        yield units
