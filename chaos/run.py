"""One chaos run: load, faults in order, everything sent again, then the checks."""

import asyncio
import random
import secrets
import time
from dataclasses import dataclass, field

import httpx
from sqlmodel import col, select

from chaos import checks
from chaos.checks import Check
from chaos.client import RetryingClient, Stats
from chaos.faults import Faults
from chaos.load import Load
from chaos.processes import Processes, chaos_environment
from chaos.webhooks import Abuse
from creditgate.devtools.managed import ProcessError
from creditgate.infra.db import Database
from creditgate.models import Purchase
from creditgate.payments.stripe_gateway import StripeGateway

API_DOWNTIME = 1.0
WORKER_DOWNTIME = 3.0
TEMPORAL_DOWNTIME = 6.0
USAGE_PAUSE = 0.1
PURCHASE_PAUSE = 0.3
SETTLE_SECONDS = 120.0


@dataclass(frozen=True)
class Size:
    customers: int  # signed up before the faults
    recharging: int  # of which with auto-recharge
    wave: int  # signed up while Temporal is killed
    api_kills: int
    warmup: float  # seconds of load before the first fault
    gap: float  # seconds of load between faults
    usage_loops: int
    purchase_loops: int


FULL = Size(16, 5, wave=6, api_kills=4, warmup=10, gap=8, usage_loops=3, purchase_loops=2)
SHORT = Size(6, 2, wave=3, api_kills=2, warmup=3, gap=2, usage_loops=2, purchase_loops=1)


@dataclass
class Outcome:
    checks: list[Check]
    stats: Stats
    kills: dict[str, int]
    faults: list[str]
    mid_flight: dict[str, bool] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def report(self, seconds: float) -> str:
        retries = ", ".join(f"{n} after {why}" for why, n in self.stats.retries.most_common())
        errors = ", ".join(f"{n}× {what}" for what, n in self.stats.retried_answers.most_common())
        kills = ", ".join(f"{name} {n}×" for name, n in sorted(self.kills.items()))
        hits = ", ".join(
            f"{what}: {'yes' if hit else 'NO'}" for what, hit in self.mid_flight.items()
        )
        lines = [
            "",
            f"chaos: {'PASSED' if self.ok else 'FAILED'} in {seconds:.0f}s",
            f"  kills (SIGKILL): {kills}; killed while in flight: {hits}",
            f"  requests: {self.stats.requests}; sent again: {retries or 'none'}",
            f"  answers sent again (5xx, busy): {errors or 'none'}",
            "  faults:",
            *(f"    {line}" for line in self.faults),
            "  checks:",
            *(str(c) for c in self.checks),
        ]
        return "\n".join(lines)


async def settle(db: Database) -> int:
    """Wait (bounded) until no purchase or recharge is pending; the number still pending."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        async with db.session() as session:
            pending = len(
                (
                    await session.exec(select(Purchase.id).where(col(Purchase.status) == "pending"))
                ).all()
            )
        if pending == 0 or time.monotonic() > deadline:
            return pending
        await asyncio.sleep(0.5)


async def run(processes: Processes, size: Size) -> Outcome:
    settings = processes.settings
    assert settings is not None
    stats = Stats()
    api = RetryingClient(
        f"http://{settings.api_host}:{settings.api_port}",
        headers={"Authorization": f"Bearer {settings.api_key}"},
        stats=stats,
    )
    stripe_http = httpx.AsyncClient(
        base_url=processes.localstripe_base, auth=(settings.stripe_api_key, ""), timeout=30
    )
    db = Database(settings.database_url)
    load = Load(api, stripe_http, run=secrets.token_hex(3))
    faults = Faults(processes, db)
    stripe = StripeGateway.from_settings(settings)
    abuse = Abuse(api, stripe_http, stripe, db, settings.stripe_webhook_secret)
    failures: list[Check] = []
    try:
        await load.create_plan()
        await load.onboard(load.new_customers(size.customers, size.recharging))
        faults.note(f"{size.customers} customers signed up; load starts")
        stop = asyncio.Event()
        streams = [
            asyncio.create_task(load.usage_stream(stop, USAGE_PAUSE))
            for _ in range(size.usage_loops)
        ] + [
            asyncio.create_task(load.purchase_stream(stop, PURCHASE_PAUSE))
            for _ in range(size.purchase_loops)
        ]
        streams.append(asyncio.create_task(load.recharge_stream(stop)))
        try:
            mid_flight = await inject(faults, load, size)
        except ProcessError as err:
            stop.set()
            await asyncio.gather(*streams, return_exceptions=True)
            failure = Check("every component restarted and kept running", False, str(err))
            return Outcome([failure], stats, dict(processes.kills), faults.log)
        await abuse.run()
        faults.note("webhook abuse sent")
        stop.set()
        for result in await asyncio.gather(*streams, return_exceptions=True):
            if isinstance(result, BaseException):
                failures.append(Check("the load ran to the end", False, repr(result)))
        faults.note(f"load stopped: {len(load.events)} events, {len(load.purchases)} purchases")
        await load.resend_everything()
        faults.note("every signup, event and purchase sent again")
        still = await settle(db)
        faults.note(f"settled ({still} still pending)")
        dead = processes.dead()
        found = [
            *failures,
            Check("no component died on its own", dead is None, dead or "none"),
            await checks.events_debited_once(db, load),
            await checks.balances_equal_ledgers(db),
            await checks.payments_granted_once(db, stripe, abuse),
            await checks.no_purchase_pending(db, load),
            await checks.no_signup_half_done(db, stripe, load),
            await asyncio.to_thread(
                checks.creditgate_check,
                chaos_environment(settings, processes.localstripe_base),
            ),
            *checks.webhook_abuse(abuse),
            checks.clients_saw_no_bug(stats, load),
        ]
    finally:
        await api.close()
        await stripe_http.aclose()
        await db.dispose()
    return Outcome(found, stats, dict(processes.kills), faults.log, mid_flight)


async def inject(faults: Faults, load: Load, size: Size) -> dict[str, bool]:
    """The faults in order, with load running between them; which hit work in flight."""
    await asyncio.sleep(size.warmup)
    for _ in range(size.api_kills):
        await faults.kill_api(API_DOWNTIME)
        await asyncio.sleep(size.gap)
    hit = {"worker mid-purchase": await faults.kill_worker_during("purchase", WORKER_DOWNTIME)}
    await asyncio.sleep(size.gap)
    recharging = [c for c in load.ready() if c.recharge]
    overdrawn = asyncio.create_task(load.overdraw(random.choice(recharging)))
    hit["worker mid-recharge"] = await faults.kill_worker_during("recharge", WORKER_DOWNTIME)
    await overdrawn
    await asyncio.sleep(size.gap)
    load.signup_started.clear()
    wave = load.new_customers(size.wave, recharging=0)
    hit["Temporal mid-signup"] = await faults.kill_temporal_during(
        load.signup_started,
        lambda: load.signups_in_flight > 0,
        load.onboard(wave),
        TEMPORAL_DOWNTIME,
    )
    faults.note(f"{size.wave} more customers signed up through the Temporal outage")
    await asyncio.sleep(size.gap)
    return hit
