"""``python -m chaos --short`` as CI runs it: the real components as processes, SIGKILLed under
retrying load and sent abusive webhooks, and every invariant still holds afterwards.

About 75 s on 2 cores; deselect with ``-m "not chaos"`` where the time budget is tight."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.postgres import find_bindir

ROOT = Path(__file__).resolve().parent.parent
CHECKS = (
    "each event id debited exactly once",
    "every balance equals its ledger",
    "every succeeded PaymentIntent granted exactly once",
    "no purchase left pending",
    "no signup half done",
    "`creditgate check` clean",
    "webhook: the same signed event 20 times",
    "webhook: a forged signature",
    "webhook: an event for an unknown PaymentIntent",
)

pytestmark = pytest.mark.chaos


@pytest.mark.timeout(420)
def test_short_chaos_run_keeps_every_invariant() -> None:
    try:
        find_bindir()
    except FileNotFoundError as exc:
        pytest.skip(f"PostgreSQL server binaries not available: {exc}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDITGATE_")}
    run = subprocess.run(
        [sys.executable, "-m", "chaos", "--short"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "chaos: PASSED" in output, output
    for check in CHECKS:
        assert f"[ok] {check}" in output, f"{check!r} not reported ok:\n{output}"
    assert "[FAIL]" not in output, output
