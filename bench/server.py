"""The API under test: ``uvicorn api.main:app`` processes, each its own process group and port,
plus their RSS and CPU."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Self

from creditgate.devtools.managed import Managed, ManagedProcess, send
from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
SAMPLE_INTERVAL = 0.2
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class ApiServer(ManagedProcess):
    """One uvicorn process. Start with ``with ApiServer(...) as api:``; its whole process group
    dies on exit."""

    name = "the API"
    ready_timeout = READY_TIMEOUT
    stop_timeout = STOP_TIMEOUT
    own_group = True

    def __init__(
        self,
        database_url: str,
        api_key: str,
        transactions: int = 4,
        app: str = "api.main:app",
        ready_path: str = "/openapi.json",
    ) -> None:
        super().__init__()
        self.app = app
        self.ready_path = ready_path
        self.database_url = database_url
        self.api_key = api_key
        self.transactions = transactions
        self.port = 0
        # Nothing listens here: proves the hot path never needs Temporal.
        self.temporal_address = f"127.0.0.1:{free_port()}"
        self._log_dir = tempfile.TemporaryDirectory(prefix="creditgate-bench-api-")
        self.log_path = Path(self._log_dir.name) / "api.log"
        self._sampler: threading.Thread | None = None
        self._sampling = threading.Event()
        self.max_rss_kb = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def launch(self) -> subprocess.Popen[bytes]:
        self.port = free_port()
        env = dict(os.environ)
        env.update(
            CREDITGATE_DATABASE_URL=self.database_url,
            CREDITGATE_API_KEY=self.api_key,
            CREDITGATE_TEMPORAL_ADDRESS=self.temporal_address,
            CREDITGATE_ENV="development",
            CREDITGATE_INGEST_TRANSACTIONS=str(self.transactions),
        )
        cmd = [
            sys.executable, "-m", "uvicorn", self.app,
            "--host", "127.0.0.1", "--port", str(self.port),
            "--no-access-log", "--log-level", "warning",
            "--loop", "uvloop", "--http", "httptools",
        ]  # fmt: skip
        with self.log_path.open("wb") as log:
            return subprocess.Popen(
                cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def ready(self) -> bool:
        try:
            self.get(self.ready_path)
        except (OSError, urllib.error.URLError):
            return False
        return True

    def exited(self) -> str | None:
        problem = super().exited()
        return None if problem is None else f"{problem}:\n{self.log_text()}"

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def request(self, method: str, path: str, body: object = None) -> tuple[int, object]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.base_url + path,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self.api_key}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")

    def get(self, path: str) -> object:
        status, body = self.request("GET", path)
        if status != 200:
            raise OSError(f"GET {path}: {status} {body}")
        return body

    # -- processes ---------------------------------------------------------------------------
    def worker_pids(self) -> list[int]:
        return [] if self.process is None else [self.process.pid]

    def rss_kb(self) -> int:
        return sum(_rss_kb(pid) for pid in self.worker_pids())

    def cpu_seconds(self) -> float:
        return sum(self.cpu_seconds_by_process().values())

    def cpu_seconds_by_process(self) -> dict[int, float]:
        return {pid: _cpu_seconds(pid) for pid in self.worker_pids()}

    def wait_idle(
        self, busy_below: float = 0.1, window: float = 0.5, timeout: float = 120.0
    ) -> float:
        """Wait until requests still in flight after a load phase are done (CPU use falls
        below ``busy_below`` of a core); returns the seconds waited."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            before = self.cpu_seconds()
            time.sleep(window)
            if self.cpu_seconds() - before < busy_below * window:
                break
        return time.monotonic() - started

    def start_sampling(self) -> None:
        self._sampling.set()
        self._sampler = threading.Thread(target=self._sample, name="rss-sampler", daemon=True)
        self._sampler.start()

    def _sample(self) -> None:
        while self._sampling.is_set():
            self.max_rss_kb = max(self.max_rss_kb, self.rss_kb())
            time.sleep(SAMPLE_INTERVAL)

    def stop(self) -> None:
        self._sampling.clear()
        if self._sampler is not None:
            self._sampler.join(timeout=2)
            self._sampler = None
        process = self.process
        self.stop_process()
        if process is not None:
            # Workers left behind by a master that died first.
            send(process, signal.SIGKILL, group=True)
        self._log_dir.cleanup()


def _stat_fields(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return []
    # The command name may hold spaces: fields start after its closing parenthesis.
    return raw[raw.rindex(")") + 2 :].split()


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cpu_seconds(pid: int) -> float:
    fields = _stat_fields(pid)
    if len(fields) < 13:
        return 0.0
    # utime, stime: fields 14 and 15 of stat (11 and 12 after the command name).
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class ApiGroup(Managed):
    """``processes`` API processes, each its own ``uvicorn`` on its own port: several API
    instances, as behind a load balancer. wrk splits its threads between the ports
    (``run_wrk(ports=...)``), so every process serves the same number of connections. Under
    ``uvicorn --workers N`` (one shared listening socket) the process that wakes first may
    accept every connection of a phase, and with few keep-alive connections (the batched
    phase's four) one process then did all the work while the other idled."""

    def __init__(self, database_url: str, api_key: str, processes: int, transactions: int) -> None:
        self.servers = [
            ApiServer(database_url, api_key, transactions=transactions) for _ in range(processes)
        ]

    @property
    def ports(self) -> list[int]:
        return [s.port for s in self.servers]

    @property
    def base_url(self) -> str:
        return self.servers[0].base_url

    @property
    def temporal_address(self) -> str:
        return self.servers[0].temporal_address

    @property
    def max_rss_kb(self) -> int:
        """Each process's own maximum, added up (at least the group's maximum at any time)."""
        return sum(s.max_rss_kb for s in self.servers)

    def request(self, method: str, path: str, body: object = None) -> tuple[int, object]:
        return self.servers[0].request(method, path, body)

    def cpu_seconds_by_process(self) -> dict[int, float]:
        return {pid: cpu for s in self.servers for pid, cpu in s.cpu_seconds_by_process().items()}

    def cpu_seconds(self) -> float:
        return sum(self.cpu_seconds_by_process().values())

    def start_sampling(self) -> None:
        for server in self.servers:
            server.start_sampling()

    def wait_idle(self, busy_below: float = 0.1, window: float = 0.5) -> float:
        return sum(s.wait_idle(busy_below / len(self.servers), window) for s in self.servers)

    def start(self) -> Self:
        for server in self.servers:
            server.start()
        return self

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
