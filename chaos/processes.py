"""The real components as separate processes, each killable with SIGKILL and restartable.

PostgreSQL is a throwaway cluster (``tests.support.postgres``); Temporal, localstripe, the
worker and the API are started by the same code as ``make run`` (``creditgate.devtools.devstack``),
with Temporal's SQLite file kept in the run's directory so a restart finds every workflow.
"""

import os
import secrets
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

from creditgate.devtools.devstack import Child, DevStack
from creditgate.devtools.managed import Managed, ManagedProcess, port_busy, wait_until
from creditgate.devtools.migrate import upgrade
from creditgate.infra.settings import Settings
from tests.support.ports import free_port
from tests.support.postgres import PostgresCluster

KILL_WAIT_SECONDS = 30
WORKER_READY_SECONDS = 60
WORKER_READY = b"worker polling task queue"  # what ``python -m worker`` logs once connected
ROOT = Path(__file__).resolve().parents[1]


def _free_ports(count: int) -> list[int]:
    ports: set[int] = set()
    while len(ports) < count:
        ports.add(free_port())
    return sorted(ports)


def chaos_environment(settings: Settings, stripe_base: str) -> dict[str, str]:
    """What the worker and the API read: the stack's settings, Stripe through the proxy, and
    short payment schedules so polls and retries happen within the run."""
    return {
        "CREDITGATE_ENV": settings.env,
        "CREDITGATE_API_KEY": settings.api_key,
        "CREDITGATE_DATABASE_URL": settings.database_url,
        "CREDITGATE_TEMPORAL_ADDRESS": settings.temporal_address,
        "CREDITGATE_STRIPE_API_KEY": settings.stripe_api_key,
        "CREDITGATE_STRIPE_API_BASE": stripe_base,
        "CREDITGATE_STRIPE_WEBHOOK_SECRET": settings.stripe_webhook_secret,
        "CREDITGATE_API_HOST": settings.api_host,
        "CREDITGATE_API_PORT": str(settings.api_port),
        "CREDITGATE_SIGNUP_WAIT_SECONDS": "10",
        "CREDITGATE_PAYMENT_WAIT_SECONDS": "15",
        "CREDITGATE_PURCHASE_POLL_SECONDS": "2",
        "CREDITGATE_PURCHASE_POLL_MAX_SECONDS": "4",
        "CREDITGATE_RECHARGE_RETRY_DELAYS": "2,2",
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": str(ROOT),  # the Stripe proxy runs ``chaos`` and ``tests.support``
    }


class ProxyProcess(ManagedProcess):
    """``chaos.stripe_proxy`` in front of localstripe, logging into ``log_path``."""

    name = "the Stripe proxy"
    ready_timeout = 30.0
    stop_timeout = KILL_WAIT_SECONDS
    own_group = True

    def __init__(self, upstream: str, port: int, log_path: Path) -> None:
        super().__init__()
        self.upstream, self.port, self.log_path = upstream, port, log_path

    def launch(self) -> subprocess.Popen[bytes]:
        with self.log_path.open("ab") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "chaos.stripe_proxy", self.upstream, str(self.port)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def ready(self) -> bool:
        return port_busy("127.0.0.1", self.port)


@dataclass
class Processes(Managed):
    """``with Processes() as p:`` starts everything; ``kill(name)`` / ``restart(name)``."""

    workdir: Path = field(
        default_factory=lambda: Path(tempfile.mkdtemp(prefix="creditgate-chaos-"))
    )
    postgres: PostgresCluster = field(default_factory=PostgresCluster)
    settings: Settings | None = None
    stack: DevStack | None = None
    proxy: ProxyProcess | None = None
    proxy_port: int = 0
    kills: dict[str, int] = field(default_factory=dict)

    # -- start and stop ------------------------------------------------------------------
    def start(self) -> Self:
        self.postgres.start()
        database_url = self.postgres.create_database("creditgate")
        api, temporal, ui, stripe, proxy = _free_ports(5)
        self.settings = Settings(
            env="development",  # localstripe and a throwaway cluster, whatever .env says
            api_key="cg_chaos_" + secrets.token_hex(20),
            database_url=database_url,
            temporal_address=f"127.0.0.1:{temporal}",
            temporal_ui_port=ui,
            stripe_api_key="sk_test_chaos_" + secrets.token_hex(8),
            stripe_api_base=f"http://127.0.0.1:{stripe}",
            stripe_webhook_secret="whsec_" + secrets.token_hex(24),
            api_port=api,
        )
        self.proxy_port = proxy
        (self.workdir / "logs").mkdir(parents=True, exist_ok=True)
        os.environ.update(chaos_environment(self.settings, self.stripe_base))
        self.stack = DevStack(self.settings, data_dir=self.workdir)
        self.stack.start_temporal()
        self.stack.start_localstripe()
        self.stack.register_webhook()  # localstripe's webhooks go straight to the API
        self._start_proxy()
        upgrade(database_url)
        self._start_worker()
        self.stack.start_api(log_to_file=True)
        return self

    def _start_worker(self) -> None:
        """Start the worker and wait until it is connected to Temporal and polling."""
        assert self.stack is not None
        log = self.workdir / "logs" / "worker.log"
        before = log.read_bytes().count(WORKER_READY) if log.exists() else 0
        self.stack.start_worker(log_to_file=True)
        wait_until(
            lambda: log.read_bytes().count(WORKER_READY) > before,
            WORKER_READY_SECONDS,
            "the worker to poll Temporal",
            self.stack.dead_child,
        )

    @property
    def stripe_base(self) -> str:
        """Stripe as the worker and the API see it: the idempotency proxy."""
        return f"http://127.0.0.1:{self.proxy_port}"

    @property
    def localstripe_base(self) -> str:
        assert self.settings is not None
        return self.settings.stripe_api_base

    def _start_proxy(self) -> None:
        log = self.workdir / "logs" / "stripe-proxy.log"
        self.proxy = ProxyProcess(self.localstripe_base, self.proxy_port, log).start()

    def stop(self) -> None:
        if self.stack is not None:
            self.stack.stop()
        if self.proxy is not None:
            self.proxy.stop()
        self.postgres.stop()

    # -- faults --------------------------------------------------------------------------
    def _child(self, name: str) -> Child:
        assert self.stack is not None
        for child in self.stack.children:
            if child.name == name:
                return child
        raise KeyError(name)

    def kill(self, name: str) -> None:
        """SIGKILL ``name`` (its whole process group) and forget it."""
        assert self.stack is not None
        child = self._child(name)
        os.killpg(child.process.pid, signal.SIGKILL)
        child.process.wait(timeout=KILL_WAIT_SECONDS)
        if child.log is not None:
            child.log.close()
        self.stack.children.remove(child)
        self.kills[name] = self.kills.get(name, 0) + 1

    def restart(self, name: str) -> None:
        """Start ``name`` again (Temporal on the same SQLite file); returns once it serves."""
        stack = self.stack
        assert stack is not None
        if name == "temporal":
            stack.start_temporal()
        elif name == "worker":
            self._start_worker()
        else:
            stack.start_api(log_to_file=True)

    def dead(self) -> str | None:
        """A component that exited on its own (not one we killed)."""
        assert self.stack is not None
        return self.stack.dead_child()
