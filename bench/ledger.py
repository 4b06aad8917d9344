"""Hot-path benchmark: ``python -m bench.ledger`` (``make bench``). Not a test.

Starts a throwaway PostgreSQL, measures a debit-shaped pgbench transaction as the baseline,
then starts the API (``uvicorn api.main:app``, 1 and then 2 processes, each on its own port
with wrk's threads split between them) and drives it with wrk from a
separate process: single events, 1,000-event batches, one hot wallet, balance reads. Prints
each figure, its ratio to the pgbench baseline and whether it meets the issue's target. The
balance read one at a time is compared with a bare ASGI app doing one ``SELECT 1`` under the
same uvicorn (``bench.floor_app``) and with its own query run by pgbench, each one at a time
just before it: what this host allows without Creditgate's code. Every phase says how busy the
machine was and how much CPU the hypervisor gave other guests (steal).
Temporal is not started: the API points at a closed port, so the hot path must not need it.
"""

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from types import FrameType

from bench import fixtures
from bench.load import WRK_MISSING, WrkResult, run_wrk, wrk_path
from bench.pg import (
    BASELINE_DB,
    PgbenchResult,
    balance_read_script,
    create_baseline_tables,
    run_pgbench,
    start_cluster,
)
from bench.server import ApiGroup, ApiServer
from creditgate.checks.ledger import Violation, check
from creditgate.infra.db import Database
from creditgate.ledger.reads import PG_BALANCE_SQL
from tests.support.postgres import PostgresCluster

API_KEY = "cg_bench_key"
WARMUP_SECONDS = 2


@dataclass(frozen=True)
class Target:
    op: str  # ">=" or "<="
    limit: float

    def met(self, value: float) -> bool:
        return value >= self.limit if self.op == ">=" else value <= self.limit

    def __str__(self) -> str:
        return f"{self.op} {self.limit:,.0f}"


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    unit: str
    target: Target | None = None
    baseline: float | None = None
    basis: str = ""  # what of pgbench's the ratio divides by
    errors: int = 0

    @property
    def ratio(self) -> float | None:
        return self.value / self.baseline if self.baseline else None

    @property
    def result(self) -> str:
        if self.errors:
            return f"ERR ({self.errors} failed requests)"
        if self.target is None:
            return ""
        return "pass" if self.target.met(self.value) else "MISS"


SINGLE_RPS = Target(">=", 1000)
SINGLE_P99 = Target("<=", 20)
BATCH_EPS = Target(">=", 20_000)
BALANCE_P99 = Target("<=", 3)
RSS_MB = Target("<=", 300)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.ledger", description=__doc__)
    parser.add_argument("--seconds", type=int, default=10, help="length of each phase")
    parser.add_argument("--customers", type=int, default=1000, help="customers to spread over")
    parser.add_argument(
        "--workers", default="1,2", help="API process counts to measure (one uvicorn and port each)"
    )
    parser.add_argument(
        "--transactions",
        default="4,1",
        help="group-commit transactions in flight per API process, one per --workers count"
        " (measured best on 2 cores: 4 with one process, 1 each with two)",
    )
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections")
    parser.add_argument("--threads", type=int, default=2, help="wrk and pgbench threads")
    parser.add_argument("--batch-size", type=int, default=1000, help="events per batch request")
    parser.add_argument(
        "--batch-connections", type=int, default=4, help="concurrent batch requests"
    )
    parser.add_argument(
        "--without-alerts",
        action="store_true",
        help="customers without spend alerts (to measure what configured alerts cost)",
    )
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    parser.add_argument(
        "--markdown",
        metavar="PATH",
        help="also write the table as Markdown (for docs/performance.md)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="afterwards, verify the ledger invariants (creditgate check) over everything written",
    )
    args = parser.parse_args(argv)
    args.worker_counts = [int(w) for w in args.workers.split(",") if w.strip()]
    per_process = [int(t) for t in args.transactions.split(",") if t.strip()]
    if len(per_process) != len(args.worker_counts) or min(per_process, default=0) < 1:
        parser.error("--transactions needs one count of at least 1 per --workers value")
    args.transactions_for = dict(zip(args.worker_counts, per_process, strict=True))
    return args


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    if wrk_path() is None:
        print(WRK_MISSING, file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _interrupt)
    cluster: PostgresCluster | None = None
    started = time.monotonic()
    try:
        _say(f"machine: {os.cpu_count()} CPUs, load average {_loadavg()}")
        _say("starting a throwaway PostgreSQL ...")
        cluster = start_cluster()
        spread, hot = _baseline(cluster, args)
        figures = _baseline_figures(spread, hot)
        url = cluster.create_database(fixtures.APP_DB)
        _say(f"migrating and adding {args.customers} customers + 1 hot one ...")
        setup_started = time.monotonic()
        fixtures.prepare(url, args.customers, alerts=not args.without_alerts)
        _say(f"  ready in {time.monotonic() - setup_started:.0f}s")
        for workers in args.worker_counts:
            figures += _measure_api(cluster, url, workers, args, spread, hot)
        if args.check:
            _check_ledger(url)
    finally:
        if cluster is not None:
            cluster.stop()
    _say(f"load average at the end {_loadavg()}; took {time.monotonic() - started:.0f}s")
    _print_table(figures)
    if args.markdown:
        _write_markdown(args.markdown, figures, args)
    if args.json:
        with open(args.json, "w") as out:
            json.dump([{**asdict(f), "ratio": f.ratio, "result": f.result} for f in figures], out)
    return 1 if any(f.errors for f in figures) else 0


def _baseline(
    cluster: PostgresCluster, args: argparse.Namespace
) -> tuple[PgbenchResult, PgbenchResult]:
    create_baseline_tables(cluster, args.customers)
    _say(
        f"pgbench: {args.connections} clients, UPDATE wallet + INSERT entry over "
        f"{args.customers} wallets, {args.seconds}s ..."
    )
    stolen = HostMeter()
    spread = run_pgbench(
        cluster,
        label="spread",
        wallets=args.customers,
        seconds=args.seconds,
        clients=args.connections,
        threads=args.threads,
    )
    _say(f"  {_pg_line(spread)}, {stolen.since()}")
    _say(f"pgbench: the same on ONE wallet row, {args.seconds}s ...")
    stolen = HostMeter()
    hot = run_pgbench(
        cluster,
        label="hot",
        wallets=1,
        seconds=args.seconds,
        clients=args.connections,
        threads=args.threads,
    )
    _say(f"  {_pg_line(hot)}, {stolen.since()}")
    cluster.drop_database(BASELINE_DB)
    return spread, hot


def _baseline_figures(spread: PgbenchResult, hot: PgbenchResult) -> list[Figure]:
    return [
        Figure("pgbench debit tps (baseline)", spread.tps, "tps", baseline=spread.tps, basis="tps"),
        Figure("pgbench debit p50", spread.p50_ms, "ms", baseline=spread.p50_ms, basis="p50"),
        Figure("pgbench debit p99", spread.p99_ms, "ms", baseline=spread.p99_ms, basis="p99"),
        Figure("pgbench one-row debit tps", hot.tps, "tps", baseline=spread.tps, basis="tps"),
        Figure("pgbench one-row debit p99", hot.p99_ms, "ms", baseline=spread.p99_ms, basis="p99"),
    ]


def _measure_api(
    cluster: PostgresCluster,
    url: str,
    workers: int,
    args: argparse.Namespace,
    pg: PgbenchResult,
    pg_hot: PgbenchResult,
) -> list[Figure]:
    transactions = args.transactions_for[workers]
    ports_note = ", one port each, wrk's threads split between them" if workers > 1 else ""
    _say(
        f"API: {workers} uvicorn api.main:app process(es){ports_note}"
        f" ({transactions} ledger transactions in flight per process) ..."
    )
    tag = f"[{workers}w]"
    with ApiGroup(url, API_KEY, processes=workers, transactions=transactions) as api:
        _check_without_temporal(api)
        api.start_sampling()
        cpu_ms: dict[str, float] = {}

        def load(mode: str, phase: str, seconds: int, **kw: int | str) -> WrkResult:
            per_process0, stolen = api.cpu_seconds_by_process(), HostMeter()
            cpu0 = sum(per_process0.values())
            result = run_wrk(
                api.base_url,
                mode=mode,
                prefix=f"w{workers}-{phase}",
                api_key=API_KEY,
                seconds=seconds,
                threads=_wrk_threads(args.threads, workers, int(kw.get("connections", 1))),
                ports=api.ports if workers > 1 else None,
                customer_prefix=fixtures.CUSTOMER_PREFIX,
                customers=args.customers,
                hot_customer=fixtures.HOT_CUSTOMER,
                **kw,  # type: ignore[arg-type]
            )
            per_process = api.cpu_seconds_by_process()
            cpu = sum(per_process.values()) - cpu0
            per_request = cpu / result.requests * 1000 if result.requests else 0.0
            cpu_ms[phase] = per_request
            # Each keep-alive connection stays with the process that accepted it: a phase
            # whose connections all went to one process shows here as "x% / 0%".
            split = " / ".join(
                f"{(used - per_process0.get(pid, 0.0)) / result.seconds * 100:.0f}%"
                for pid, used in per_process.items()
            )
            _say(
                f"  {phase}: {result.rps:,.0f} req/s, p50 {result.p50_ms:.1f} ms, "
                f"p99 {result.p99_ms:.1f} ms, max {result.max_ms:.0f} ms, "
                f"API CPU {cpu / result.seconds * 100:.0f}% ({per_request:.2f} ms/request"
                + (f"; per process {split}" if len(per_process) > 1 else "")
                + ")"
                + (f", errors {result.errors}" if result.errors else "")
                + f", {stolen.since()}"
            )
            if result.requests == 0:
                _say(f"    no {phase} request completed in {seconds}s: give it more --seconds")
            # Requests wrk left in flight must not eat into the next phase.
            drained = api.wait_idle()
            if drained > 1.5:
                _say(f"    waited {drained:.1f}s for requests still in flight")
            return result

        load("events", "warmup", WARMUP_SECONDS, connections=args.connections)
        single = load("events", "single", args.seconds, connections=args.connections)
        _check_rows(cluster, f"w{workers}-single", single.requests)
        batched = load(
            "events",
            "batch",
            args.seconds,
            connections=args.batch_connections,
            batch=args.batch_size,
        )
        _check_rows(cluster, f"w{workers}-batch", batched.requests * args.batch_size)
        hot = load("hot", "hot", args.seconds, connections=args.connections)
        _check_rows(cluster, f"w{workers}-hot", hot.requests)
        balance = load("balance", "balance", args.seconds, connections=args.connections)
        # The read's own latency, one request at a time (at c=16 the p99 above is queueing),
        # just after the same query straight from pgbench: the floor this host allows.
        read_seconds = max(3, args.seconds // 2)
        pg_read = _pgbench_balance_read(cluster, args.customers, read_seconds)
        floor = _floor_read(url, read_seconds)
        balance_one = load("balance", "balance-c1", read_seconds, connections=1)
        rss_mb = api.max_rss_kb / 1024
        _say(f"  API RSS max {rss_mb:.0f} MB over {workers} process(es) (each one's maximum)")
    events_per_s = batched.rps * args.batch_size
    c = args.connections
    return [
        _fig(f"single-event req/s {tag} c={c}", single.rps, "req/s", SINGLE_RPS, pg.tps, "tps",
             single),
        _fig(f"single-event p50 {tag}", single.p50_ms, "ms", None, pg.p50_ms, "p50", single),
        _fig(f"single-event p99 {tag}", single.p99_ms, "ms", SINGLE_P99, pg.p99_ms, "p99",
             single),
        _fig(f"batched events/s {tag} c={args.batch_connections}", events_per_s, "events/s",
             BATCH_EPS, pg.tps, "tps", batched),
        _fig(f"batched request p99 {tag}", batched.p99_ms, "ms", None, None, "", batched),
        _fig(f"hot wallet req/s {tag} c={c}", hot.rps, "req/s", None, pg_hot.tps, "1-row tps",
             hot),
        _fig(f"hot wallet p99 {tag}", hot.p99_ms, "ms", None, pg_hot.p99_ms, "1-row p99", hot),
        Figure(f"single-event API CPU {tag}", cpu_ms["single"], "ms/request"),
        _fig(f"balance read req/s {tag} c={c}", balance.rps, "req/s", None, pg.tps, "tps",
             balance),
        _fig(f"balance read p99 {tag} c={c}", balance.p99_ms, "ms", None, pg.p99_ms, "p99",
             balance),
        Figure(f"pgbench balance read p99 {tag} c=1", pg_read.p99_ms, "ms"),
        _fig(f"bare ASGI + SELECT 1 p99 {tag} c=1", floor.p99_ms, "ms", None, None, "", floor),
        _fig(f"balance read p99 {tag} c=1", balance_one.p99_ms, "ms", BALANCE_P99,
             floor.p99_ms, "bare p99", balance_one),
        Figure(f"balance read API CPU {tag}", cpu_ms["balance"], "ms/request"),
        Figure(f"API RSS max {tag}", rss_mb, "MB", RSS_MB),
    ]  # fmt: skip


def _pgbench_balance_read(cluster: PostgresCluster, customers: int, seconds: int) -> PgbenchResult:
    """The API's balance-read query run by pgbench, one client, prepared: PostgreSQL's round
    trip and the query without the API (host steal shows here first)."""
    _say(f"  pgbench: the balance read's query, 1 client, {seconds}s ...")
    stolen = HostMeter()
    result = run_pgbench(
        cluster,
        label="balance read",
        wallets=customers,
        seconds=seconds,
        clients=1,
        threads=1,
        script=balance_read_script(PG_BALANCE_SQL, fixtures.CUSTOMER_PREFIX, customers),
        database=fixtures.APP_DB,
        protocol="prepared",
    )
    _say(f"    {_pg_line(result)}, {stolen.since()}")
    return result


def _floor_read(url: str, seconds: int) -> WrkResult:
    """``bench.floor_app`` (a bare ASGI app doing one ``SELECT 1``) one request at a time:
    the least any Python HTTP service with a database round trip costs on this host now."""
    _say(f"  bare ASGI app + one asyncpg SELECT 1 (bench/floor_app.py), 1 connection, {seconds}s")
    with ApiServer(url, API_KEY, app="bench.floor_app:app", ready_path="/") as floor:
        cpu0, stolen = floor.cpu_seconds(), HostMeter()
        result = run_wrk(
            floor.base_url, mode="balance", prefix="floor", api_key=API_KEY, seconds=seconds,
            connections=1, threads=1, customer_prefix=fixtures.CUSTOMER_PREFIX,
        )  # fmt: skip
        cpu_us = (floor.cpu_seconds() - cpu0) / max(result.requests, 1) * 1e6
    _say(
        f"    {result.rps:,.0f} req/s, p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms, "
        f"max {result.max_ms:.0f} ms, CPU {cpu_us:.0f} µs/request, {stolen.since()}"
    )
    return result


def _wrk_threads(wanted: int, processes: int, connections: int) -> int:
    """wrk threads for a phase: no more than its connections, and at least one per API
    process (each thread connects to one process)."""
    return max(1, min(connections, max(wanted, processes)))


def _fig(
    name: str,
    value: float,
    unit: str,
    target: Target | None,
    baseline: float | None,
    basis: str,
    run: WrkResult,
) -> Figure:
    return Figure(name, value, unit, target, baseline, basis, errors=run.error_count)


def _check_without_temporal(api: ApiGroup) -> None:
    status, body = api.request("GET", f"/v1/customers/{fixtures.customer_id(0)}/balance")
    if status != 200:
        raise RuntimeError(f"balance read failed without Temporal: {status} {body}")
    status, body = api.request(
        "POST",
        "/v1/events",
        {"events": [{"id": "probe", "customer": fixtures.HOT_CUSTOMER, "event_type": "tokens",
                     "properties": {"count": 1, "model": "gpt-4o"}}]},
    )  # fmt: skip
    results = body.get("results") if isinstance(body, dict) else None
    if status != 200 or not results or results[0].get("status") not in ("debited", "duplicate"):
        raise RuntimeError(f"event ingest failed without Temporal: {status} {body}")
    status, health = api.request("GET", "/healthz")
    checks = health.get("checks") if isinstance(health, dict) else health
    _say(
        f"  Temporal is not running (address {api.temporal_address}): /healthz {status} "
        f"{checks}; events and balance answer 200 without it"
    )


def _check_rows(cluster: PostgresCluster, prefix: str, answered: int) -> None:
    """The answered events are really in usage_events (every id of this phase debited once)."""
    stored = int(
        cluster.psql(
            f"SELECT count(*) FROM usage_events WHERE event_id LIKE '{prefix}-%'", fixtures.APP_DB
        ).strip()
    )
    # Requests still in flight when wrk stops may commit after it stopped counting.
    if stored < answered:
        raise RuntimeError(f"{prefix}: {answered} events answered but only {stored} stored")
    _say(f"    {stored:,} events stored for {answered:,} answered")


def _check_ledger(url: str) -> None:
    _say("checking the ledger invariants over everything the run wrote ...")
    violations = asyncio.run(_violations(url))
    for violation in violations[:20]:
        _say(f"  {violation}")
    if violations:
        raise RuntimeError(f"{len(violations)} ledger invariant violations")
    _say("  no violations")


async def _violations(url: str) -> list[Violation]:
    db = Database(url)
    try:
        return await check(db)
    finally:
        await db.dispose()


def _rows(figures: list[Figure]) -> list[tuple[str, str, str, str, str]]:
    rows = [("figure", "value", "target", "vs pgbench", "result")]
    for f in figures:
        value = f"{f.value:,.0f} {f.unit}" if f.value >= 100 else f"{f.value:,.2f} {f.unit}"
        target = f"{f.target} {f.unit}" if f.target else ""
        ratio = f"{f.ratio:.2f}× {f.basis}" if f.ratio is not None else ""
        rows.append((f.name, value, target, ratio, f.result))
    return rows


def _write_markdown(path: str, figures: list[Figure], args: argparse.Namespace) -> None:
    rows = _rows(figures)
    lines = [
        f"`python -m bench.ledger --seconds {args.seconds}` on {os.cpu_count()} CPUs, "
        f"{time.strftime('%Y-%m-%d')}:",
        "",
        "| " + " | ".join(rows[0]) + " |",
        "|" + "---|" * len(rows[0]),
        *("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows[1:]),
    ]
    with open(path, "w") as out:
        out.write("\n".join(lines) + "\n")


def _print_table(figures: list[Figure]) -> None:
    rows = _rows(figures)
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    line: Callable[[tuple[str, ...]], str] = lambda row: "  ".join(  # noqa: E731
        cell.ljust(width) for cell, width in zip(row, widths, strict=True)
    ).rstrip()
    print()
    print(line(rows[0]))
    print("  ".join("-" * w for w in widths))
    for row in rows[1:]:
        print(line(row))
    print(
        "\nvs pgbench: throughput ÷ pgbench tps, latency ÷ pgbench latency at the same "
        "percentile (hot wallet: against pgbench on one row)."
    )


def _pg_line(result: PgbenchResult) -> str:
    return (
        f"{result.tps:,.0f} tps, avg {result.latency_avg_ms:.2f} ms, p50 {result.p50_ms:.2f} ms, "
        f"p99 {result.p99_ms:.2f} ms, {result.failed} failed"
    )


class HostMeter:
    """How busy the machine was since it was made (/proc/stat): the share of CPU time spent
    working (a phase near 100% was CPU-bound) and the share the hypervisor gave to other
    guests ("steal": how shared the host was)."""

    def __init__(self) -> None:
        self.start = self._ticks()

    @staticmethod
    def _ticks() -> tuple[int, int, int]:
        """(idle incl. iowait, steal, total) in clock ticks."""
        try:
            with open("/proc/stat") as stat:
                fields = [int(x) for x in stat.readline().split()[1:]]
        except OSError:
            return 0, 0, 0
        steal = fields[7] if len(fields) > 7 else 0
        return fields[3] + fields[4], steal, sum(fields)

    def since(self) -> str:
        ticks = zip(self._ticks(), self.start, strict=True)
        idle, steal, total = (now - then for now, then in ticks)
        if not total:
            return "host steal unknown"
        busy = (total - idle - steal) / total * 100
        return f"machine busy {busy:.0f}%, host steal {steal / total * 100:.0f}%"


def _loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _say(message: str) -> None:
    print(message, flush=True)


if __name__ == "__main__":
    status = 1
    try:
        status = main()
    except KeyboardInterrupt:
        print("\ninterrupted; everything started was stopped", file=sys.stderr)
        status = 130
    except Exception as err:
        print(f"bench failed: {err}", file=sys.stderr)
        import traceback

        traceback.print_exc()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
