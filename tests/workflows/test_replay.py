"""Invariant 8: every workflow history recorded in tests/histories/ replays against the current
code. A failure here means a change would break running workflows: version it
(``workflow.patched``) instead of re-recording. Record new histories with ``make histories``."""

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner

from worker.registry import WORKFLOWS

HISTORIES = Path(__file__).resolve().parent.parent / "histories"
FILES = sorted(HISTORIES.glob("*.json"))


def load(path: Path) -> WorkflowHistory:
    data: dict[str, Any] = json.loads(path.read_text())
    started = data["events"][0]["workflowExecutionStartedEventAttributes"]
    # Histories written by WorkflowHistory.to_json() carry no id of their own; the server
    # records it on the start event.
    return WorkflowHistory.from_json(started.get("workflowId") or f"replay-{path.stem}", data)


def test_the_recorded_histories_are_there() -> None:
    recorded = {p.name for p in FILES}
    assert {"customer_signup.json", "customer_continued.json"} <= recorded
    assert {"purchase.json", "recharge.json"} <= recorded
    assert {"customer_period.json", "period_close.json"} <= recorded
    # Runs recorded before billing periods existed replay through workflow.patched.
    assert {
        "customer_signup_before_periods.json",
        "customer_continued_before_periods.json",
    } <= recorded
    assert "plan_migration.json" in recorded
    assert "webhook_delivery.json" in recorded


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
async def test_recorded_history_replays_against_current_code(path: Path) -> None:
    history = load(path)
    replayer = Replayer(workflows=list(WORKFLOWS), data_converter=pydantic_data_converter)
    # Raises on any nondeterminism (and on any other workflow task failure).
    result = await replayer.replay_workflow(history)
    assert result.replay_failure is None


# -- the check itself catches an incompatible change ------------------------------------------


@workflow.defn(name="CustomerWorkflow")
class RegistersBeforeStripe:
    """A CustomerWorkflow that reordered its signup: not compatible with recorded runs."""

    @workflow.run
    async def run(self, input: dict[str, Any]) -> None:
        await workflow.execute_activity(
            "register_customer", input, start_to_close_timeout=timedelta(seconds=30)
        )


async def test_replay_detects_a_reordered_workflow() -> None:
    replayer = Replayer(
        workflows=[RegistersBeforeStripe],
        data_converter=pydantic_data_converter,
        workflow_runner=UnsandboxedWorkflowRunner(),
    )
    with pytest.raises(workflow.NondeterminismError):
        await replayer.replay_workflow(load(HISTORIES / "customer_signup.json"))
