"""``creditgate dev``: the whole stack on embedded defaults, as child processes.

Temporal dev server (SQLite file under .creditgate/), localstripe (unless a real Stripe key is
configured; its store is kept under .creditgate/localstripe/), migrations, the worker and the
API. Ctrl-C or SIGTERM stops every child.
"""

import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from sqlalchemy.engine import make_url

from creditgate.devtools.managed import ProcessError, port_busy, reap, send, wait_until
from creditgate.devtools.migrate import upgrade
from creditgate.infra.settings import DATA_DIR, DEV_API_KEY, Settings

SEARCH_ATTRIBUTES = {
    "CreditgateCustomerId": "Keyword",
    "CreditgateStatus": "Keyword",
    "CreditgateEntitled": "Bool",
    "CreditgateAutoRecharge": "Keyword",
}
# localstripe pickles its whole store to this fixed path after every write and loads it at
# start: one file shared by every localstripe on the machine (test fixtures, other checkouts).
LOCALSTRIPE_PICKLE = Path("/tmp/localstripe.pickle")
# Run a command with "$0" bind-mounted over /tmp, in a mount namespace of its own.
PRIVATE_TMP_SCRIPT = 'mount --bind "$0" /tmp && exec "$@"'
PR_SET_PDEATHSIG = 1


class DevStackError(ProcessError):
    pass


def _die_with_parent() -> None:
    # Children get SIGTERM if `creditgate dev` itself is killed, so nothing is left behind.
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def port_taken(host: str, port: int) -> bool:
    """A server could not listen on ``host:port``: something listens there or holds it bound."""
    if port_busy(host, port):
        return True
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def _host_port(address: str, default_port: int) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return (host or "localhost"), int(port or default_port)


def _bin(name: str) -> str:
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if not found:
        raise DevStackError(f"{name!r} not found: run `make run` (it installs the local extras)")
    return found


def private_tmp_prefix(directory: Path) -> list[str] | None:
    """An argv prefix that runs localstripe with ``directory`` as its /tmp, or None where
    mount namespaces are not allowed (then localstripe shares the machine-wide pickle)."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return None
    flags = ["--mount"] if os.geteuid() == 0 else ["--user", "--map-root-user", "--mount"]
    prefix = [unshare, *flags, "sh", "-c", PRIVATE_TMP_SCRIPT, str(directory.resolve())]
    try:
        # Also proves localstripe and this interpreter are still reachable under a private /tmp.
        probe = subprocess.run(
            [*prefix, sys.executable, "-m", "localstripe", "--help"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return prefix if probe.returncode == 0 else None


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log: IO[bytes] | None = None


@dataclass
class DevStack:
    settings: Settings
    data_dir: Path = DATA_DIR
    children: list[Child] = field(default_factory=list)
    # True when localstripe writes its store straight into data_dir (a private /tmp).
    localstripe_isolated: bool = False

    @property
    def ui_port(self) -> int:
        return self.settings.temporal_ui_port

    @property
    def temporal_host_port(self) -> tuple[str, int]:
        return _host_port(self.settings.temporal_address, 7233)

    @property
    def localstripe_port(self) -> int:
        return _host_port(self.settings.stripe_api_base.split("//", 1)[-1], 8420)[1]

    def check_ports(self) -> None:
        wanted = [("API", self.settings.api_host, self.settings.api_port)]
        host, port = self.temporal_host_port
        wanted += [("Temporal", host, port), ("Temporal UI", "127.0.0.1", self.ui_port)]
        if self.settings.uses_localstripe:
            wanted.append(("localstripe", "127.0.0.1", self.localstripe_port))
        busy = [f"port {p} ({what})" for what, h, p in wanted if port_taken(h, p)]
        if busy:
            raise DevStackError(
                "already in use: " + ", ".join(busy) + ". Stop whatever listens there "
                "(an earlier `make run`?) or change the port in the settings."
            )

    def spawn(self, name: str, argv: list[str], log_to_file: bool = False) -> Child:
        log = open(self.data_dir / "logs" / f"{name}.log", "ab") if log_to_file else None  # noqa: SIM115
        process = subprocess.Popen(
            argv,
            stdout=log or None,
            stderr=subprocess.STDOUT if log else None,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
            start_new_session=True,
        )
        child = Child(name, process, log)
        self.children.append(child)
        return child

    def dead_child(self) -> str | None:
        for child in self.children:
            code = child.process.poll()
            if code is not None:
                where = f" (see {self.data_dir / 'logs' / child.name}.log)" if child.log else ""
                return f"{child.name} exited with status {code}{where}"
        return None

    def start_temporal(self) -> Child:
        host, port = self.temporal_host_port
        argv = [
            _bin("temporal"),
            "server",
            "start-dev",
            "--db-filename",
            str(self.data_dir / "temporal.db"),
            "--ip",
            "127.0.0.1" if host in ("localhost", "127.0.0.1") else host,
            "--port",
            str(port),
            "--ui-port",
            str(self.ui_port),
            "--namespace",
            self.settings.temporal_namespace,
            "--log-level",
            "warn",
        ]
        for key, kind in SEARCH_ATTRIBUTES.items():
            argv += ["--search-attribute", f"{key}={kind}"]
        child = self.spawn("temporal", argv, log_to_file=True)
        wait_until(
            lambda: port_busy("127.0.0.1", port), 60, f"Temporal on port {port}", self.dead_child
        )
        wait_until(
            lambda: port_busy("127.0.0.1", self.ui_port), 60, "the Temporal UI", self.dead_child
        )
        return child

    @property
    def localstripe_dir(self) -> Path:
        return self.data_dir / "localstripe"

    def start_localstripe(self) -> None:
        self.localstripe_dir.mkdir(parents=True, exist_ok=True)
        saved = self.localstripe_dir / LOCALSTRIPE_PICKLE.name
        argv = [sys.executable, "-m", "localstripe", "--port", str(self.localstripe_port)]
        if not saved.exists():
            argv.append("--from-scratch")
        prefix = private_tmp_prefix(self.localstripe_dir)
        self.localstripe_isolated = prefix is not None
        if prefix is not None:
            argv = prefix + argv  # localstripe's /tmp/localstripe.pickle is our saved file
        elif saved.exists():
            shutil.copyfile(saved, LOCALSTRIPE_PICKLE)
        self.spawn("localstripe", argv, log_to_file=True)
        wait_until(
            lambda: port_busy("127.0.0.1", self.localstripe_port),
            30,
            "localstripe",
            self.dead_child,
        )

    def register_webhook(self) -> None:
        """Point localstripe's webhooks at the API (localstripe keeps them in memory only, so
        this runs on every start)."""
        body = json.dumps(
            {
                "url": self.api_url() + "/v1/stripe/webhook",
                "secret": self.settings.stripe_webhook_secret,
            }
        ).encode()
        request = urllib.request.Request(
            f"{self.settings.stripe_api_base.rstrip('/')}/_config/webhooks/creditgate",
            data=body,
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()

    def save_localstripe(self) -> None:
        # Without a private /tmp, copy the shared file next to our data (best effort: another
        # localstripe on the machine may have written it last).
        started = any(child.name == "localstripe" for child in self.children)
        if started and not self.localstripe_isolated and LOCALSTRIPE_PICKLE.exists():
            partial = self.localstripe_dir / f"{LOCALSTRIPE_PICKLE.name}.partial"
            shutil.copyfile(LOCALSTRIPE_PICKLE, partial)
            partial.replace(self.localstripe_dir / LOCALSTRIPE_PICKLE.name)

    def api_url(self) -> str:
        return f"http://{self.settings.api_host}:{self.settings.api_port}"

    def api_healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.api_url() + "/healthz", timeout=2) as resp:
                return bool(resp.status == 200)
        except OSError:
            return False

    def start(self) -> None:
        (self.data_dir / "logs").mkdir(parents=True, exist_ok=True)
        self.check_ports()
        print("creditgate dev: starting Temporal dev server …", flush=True)
        self.start_temporal()
        if self.settings.uses_localstripe:
            print("creditgate dev: starting localstripe …", flush=True)
            self.start_localstripe()
            self.register_webhook()
        print("creditgate dev: applying migrations …", flush=True)
        upgrade(self.settings.database_url)
        self.start_worker()
        self.start_api()

    def start_worker(self, log_to_file: bool = False) -> Child:
        return self.spawn("worker", [sys.executable, "-m", "worker"], log_to_file)

    def start_api(self, log_to_file: bool = False) -> Child:
        child = self.spawn(
            "api",
            [
                sys.executable,
                "-m",
                "uvicorn",
                "api.main:app",
                "--host",
                self.settings.api_host,
                "--port",
                str(self.settings.api_port),
                *("--timeout-keep-alive", str(self.settings.api_keep_alive_seconds)),
                *("--loop", "uvloop", "--http", "httptools", "--no-access-log"),
            ],
            log_to_file,
        )
        wait_until(self.api_healthy, 60, f"the API at {self.api_url()}/healthz", self.dead_child)
        return child

    def banner(self) -> str:
        # The development key is public (it is in the README); a configured one is a secret.
        shown_key = self.settings.api_key == DEV_API_KEY
        key = self.settings.api_key if shown_key else "$CREDITGATE_API_KEY"
        database = make_url(self.settings.database_url).render_as_string(hide_password=True)
        lines = [
            "",
            "Creditgate is running.",
            f"  API            {self.api_url()}   (docs: {self.api_url()}/docs)",
            f"  API key        {key if shown_key else 'the value of CREDITGATE_API_KEY'}",
            f"  Temporal UI    http://localhost:{self.ui_port}",
            f"  Temporal       {self.settings.temporal_address}",
            f"  Stripe         {self.settings.stripe_api_base}"
            + ("   (localstripe)" if self.settings.uses_localstripe else ""),
            f"  Database       {database}",
            f"  Logs           {self.data_dir / 'logs'}/",
            "",
            "Try (the README walks through plans, credits, usage and holds):",
            f"  curl -s -X POST {self.api_url()}/v1/customers \\",
            f'       -H "Authorization: Bearer {key}" \\',
            "       -H 'Content-Type: application/json' \\",
            '       -d \'{"external_id": "user_demo", "name": "Demo", '
            '"email": "demo@example.com"}\'',
            "",
            "Open the customer portal for a customer (the link works for "
            f"{self.settings.portal_link_minutes:g} minutes):",
            f"  curl -s -X POST {self.api_url()}/v1/customers/user_demo/portal-sessions \\",
            f'       -H "Authorization: Bearer {key}"',
            '  then open the "url" it answers in a browser'
            + (
                " (pay with the test card 4242 4242 4242 4242)."
                if self.settings.uses_localstripe
                else "."
            ),
            "",
            "Ctrl-C stops everything.",
        ]
        return "\n".join(lines)

    def watch(self, stop_requested: Callable[[], bool]) -> int:
        last_saved = 0.0
        while not stop_requested():
            if problem := self.dead_child():
                print(f"creditgate dev: {problem}; stopping", file=sys.stderr, flush=True)
                return 1
            if time.monotonic() - last_saved > 5:
                self.save_localstripe()
                last_saved = time.monotonic()
            time.sleep(0.3)
        return 0

    def stop(self) -> None:
        for child in reversed(self.children):
            if child.process.poll() is None:
                send(child.process, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for child in reversed(self.children):
            reap(child.process, max(0.1, deadline - time.monotonic()))
            if child.log:
                child.log.close()
        self.save_localstripe()
        self.children.clear()


def run_dev(settings: Settings) -> int:
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    stack = DevStack(settings)
    stopping = False

    def _request_stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _request_stop)
    signal.signal(signal.SIGTERM, _request_stop)
    status = 0
    try:
        stack.start()
        print(stack.banner(), flush=True)
        status = stack.watch(lambda: stopping)
    except ProcessError as err:
        print(f"creditgate dev: {err}", file=sys.stderr, flush=True)
        status = 2
    finally:
        print("creditgate dev: stopping …", flush=True)
        stack.stop()
        print("creditgate dev: stopped", flush=True)
    return status
