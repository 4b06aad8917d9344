"""``python -m chaos --short`` as CI runs it: the real components as processes, SIGKILLed under
retrying load and sent abusive webhooks, and every invariant still holds afterwards.

About 75 s on 2 cores; deselect with ``-m "not chaos"`` where the time budget is tight."""

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from chaos import checks
from chaos.client import RetryingClient, Stats
from chaos.load import Load
from creditgate.devtools.migrate import upgrade
from creditgate.infra.db import Database
from creditgate.models import Customer, Wallet
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


@pytest.mark.chaos
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


# -- the checks catch what they are for (so a passing run means something) ----------------------


@pytest.fixture
async def chaos_db(pg_url: str) -> AsyncIterator[Database]:
    await asyncio.to_thread(upgrade, pg_url)
    db = Database(pg_url)
    yield db
    await db.dispose()


def idle_load() -> Load:
    return Load(RetryingClient("http://127.0.0.1:9"), httpx.AsyncClient(), run="check")


async def test_an_event_sent_but_never_debited_fails_the_run(chaos_db: Database) -> None:
    load = idle_load()
    load.events["evt-lost"] = "nobody"
    check = await checks.events_debited_once(chaos_db, load)
    assert not check.ok
    assert "1 never debited" in check.detail


async def test_a_balance_apart_from_its_ledger_fails_the_run(chaos_db: Database) -> None:
    async with chaos_db.transaction() as session:
        customer = Customer(
            external_id="apart", name="A", email="a@example.com", workflow_id="customer-apart"
        )
        session.add(customer)
        await session.flush()
        assert customer.id is not None
        session.add(Wallet(customer_id=customer.id, balance=Decimal("1.00")))
    check = await checks.balances_equal_ledgers(chaos_db)
    assert not check.ok
    assert "1 differ" in check.detail


def test_a_500_answer_fails_the_run() -> None:
    stats = Stats()
    stats.retried_answers["500 internal_error on POST /v1/customers"] += 1
    assert not checks.clients_saw_no_bug(stats, idle_load()).ok
    stats.retried_answers.clear()
    stats.retried_answers["503 temporal_unavailable on POST /v1/customers"] += 1
    assert checks.clients_saw_no_bug(stats, idle_load()).ok
