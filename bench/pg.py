"""The throwaway PostgreSQL cluster and the pgbench baseline (a debit-shaped transaction).

The baseline lives in its own database (``pgbench_debit``) with two tables shaped like the
ledger's hot write: a wallet row whose balance is updated and an append-only entry row.
"""

import math
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.support.postgres import PostgresCluster

BASELINE_DB = "pgbench_debit"

# One debit: move a wallet's balance and append a ledger row carrying the new balance.
DEBIT_SCRIPT = """\
\\set wid random(1, :wallets)
\\set n random(1, 2000000000)
BEGIN;
UPDATE bench_wallets SET balance = balance - 0.0025, updated_at = now()
  WHERE id = :wid RETURNING balance \\gset
INSERT INTO bench_entries (wallet_id, kind, amount, balance_after, event_id, created_at)
  VALUES (:wid, 'debit', -0.0025, :balance, 'evt-' || :client_id || '-' || :n, now());
END;
"""

SCHEMA = """
CREATE TABLE bench_wallets (
    id integer PRIMARY KEY,
    balance numeric(38, 12) NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE bench_entries (
    id bigserial PRIMARY KEY,
    wallet_id integer NOT NULL REFERENCES bench_wallets (id),
    kind varchar(20) NOT NULL,
    amount numeric(38, 12) NOT NULL,
    balance_after numeric(38, 12) NOT NULL,
    event_id varchar(200),
    created_at timestamptz NOT NULL
);
CREATE INDEX ix_bench_entries_wallet ON bench_entries (wallet_id, id);
"""


@dataclass(frozen=True)
class PgbenchResult:
    label: str
    tps: float
    transactions: int
    failed: int
    latency_avg_ms: float
    p50_ms: float
    p99_ms: float


def start_cluster() -> PostgresCluster:
    return PostgresCluster().start()


def create_baseline_tables(cluster: PostgresCluster, wallets: int) -> None:
    cluster.create_database(BASELINE_DB)
    cluster.psql(SCHEMA, BASELINE_DB)
    cluster.psql(
        "INSERT INTO bench_wallets (id, balance) "
        f"SELECT g, 1000000 FROM generate_series(1, {int(wallets)}) g; ANALYZE;",
        BASELINE_DB,
    )


def balance_read_script(sql: str, customer_prefix: str, customers: int) -> str:
    """The API's balance read (``sql``, its one parameter an external id) as a pgbench script
    over ``customers`` customers named ``<customer_prefix><n>``."""
    query = " ".join(sql.split()).replace("$1::VARCHAR", f"('{customer_prefix}' || :n)")
    if query == " ".join(sql.split()):
        raise ValueError("the balance read's parameter is no longer $1::VARCHAR")
    return f"\\set n random(0, {int(customers) - 1})\n{query};\n"


def run_pgbench(
    cluster: PostgresCluster,
    *,
    label: str,
    wallets: int,
    seconds: int,
    clients: int = 16,
    threads: int = 2,
    script: str = DEBIT_SCRIPT,
    database: str = BASELINE_DB,
    protocol: str = "simple",
) -> PgbenchResult:
    """``pgbench -n -M <protocol> -c 16 -j 2 -T <secs> -f <script>``; latencies from its
    per-transaction log. By default the debit-shaped baseline."""
    with tempfile.TemporaryDirectory(prefix="creditgate-pgbench-") as tmp:
        script_path = Path(tmp) / "script.sql"
        script_path.write_text(script)
        cmd = [
            cluster.bin("pgbench"), "-n", "-M", protocol, "-c", str(clients),
            "-j", str(threads), "-T", str(seconds), "-f", str(script_path),
            "-D", f"wallets={int(wallets)}", "-l", f"--log-prefix={tmp}/txn",
            "-h", "127.0.0.1", "-p", str(cluster.port), "-U", "postgres", database,
        ]  # fmt: skip
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120)
        if result.returncode != 0:
            raise RuntimeError(f"pgbench failed ({result.returncode}):\n{result.stderr}")
        latencies = _logged_latencies_us(Path(tmp))
    summary = _parse_summary(result.stdout)
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    return PgbenchResult(
        label=label,
        tps=summary.get("tps", 0.0),
        transactions=int(summary.get("transactions", len(latencies))),
        failed=int(summary.get("failed", 0)),
        latency_avg_ms=summary.get("latency_avg_ms", 0.0),
        p50_ms=p50 / 1000,
        p99_ms=p99 / 1000,
    )


def _parse_summary(stdout: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for raw in stdout.splitlines():
        line = raw.strip()
        if line.startswith("tps = "):
            out["tps"] = float(line.split()[2])
        elif line.startswith("latency average = "):
            out["latency_avg_ms"] = float(line.split()[3])
        elif line.startswith("number of transactions actually processed:"):
            out["transactions"] = float(line.split(":")[1].split()[0])
        elif line.startswith("number of failed transactions:"):
            out["failed"] = float(line.split(":")[1].split()[0])
    if "tps" not in out:
        raise RuntimeError(f"could not read pgbench's output:\n{stdout}")
    return out


def _logged_latencies_us(directory: Path) -> list[float]:
    # Per-transaction log: client_id transaction_no time_us script_no epoch epoch_us
    latencies: list[float] = []
    for log in directory.glob("txn.*"):
        for line in log.read_text().splitlines():
            fields = line.split()
            if len(fields) >= 3 and fields[2].isdigit():
                latencies.append(float(fields[2]))
    return latencies


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, math.ceil(pct / 100 * len(ordered)) - 1)
    return ordered[rank]
