"""``creditgate dev`` as a user runs it: the whole stack from one command, stopped by SIGTERM,
state kept under ./.creditgate across restarts, and a clear refusal when a port is taken."""

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.ports import free_port, port_is_free

BIN = Path(sys.executable).parent
CREDITGATE = BIN / "creditgate"
TEMPORAL = BIN / "temporal"
API_KEY = "cg_dev_key"  # the development default `creditgate dev` runs with
BANNER = "Creditgate is running."
START_TIMEOUT = 90.0
STOP_TIMEOUT = 30.0


@dataclass(frozen=True)
class Ports:
    api: int
    temporal: int
    ui: int
    stripe: int

    @classmethod
    def free(cls) -> "Ports":
        ports: set[int] = set()
        while len(ports) < 4:
            ports.add(free_port())
        return cls(*sorted(ports))

    def all(self) -> list[int]:
        return [self.api, self.temporal, self.ui, self.stripe]

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CREDITGATE_")}
        env.update(
            CREDITGATE_API_PORT=str(self.api),
            CREDITGATE_TEMPORAL_ADDRESS=f"127.0.0.1:{self.temporal}",
            CREDITGATE_TEMPORAL_UI_PORT=str(self.ui),
            CREDITGATE_STRIPE_API_BASE=f"http://localhost:{self.stripe}",
            # A loaded machine must not turn the first signup into a 202.
            CREDITGATE_SIGNUP_WAIT_SECONDS="60",
        )
        return env


class DevCommand:
    """``creditgate dev`` in ``cwd``, its combined output read by a thread (children included)."""

    def __init__(self, cwd: Path, ports: Ports) -> None:
        self.ports = ports
        self.process = subprocess.Popen(
            [str(CREDITGATE), "dev"],
            cwd=cwd,
            env=ports.environment(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        self._lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self._lines.append(line)
                self._changed.notify_all()

    @property
    def output(self) -> str:
        with self._changed:
            return "".join(self._lines)

    def wait_for_output(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not any(text in line for line in self._lines):
                if self.process.poll() is not None:
                    raise AssertionError(f"creditgate dev exited before {text!r}:\n{self.output}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no {text!r} within {timeout}s:\n{self.output}")
                self._changed.wait(min(remaining, 0.5))

    def wait(self, timeout: float) -> int:
        try:
            status = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"creditgate dev still running:\n{self.output}") from None
        # The rest of the output, up to end of file (once no child holds the pipe either).
        self._reader.join(timeout=10)
        return status

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.wait(STOP_TIMEOUT)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@contextmanager
def running(cwd: Path, ports: Ports) -> Iterator[DevCommand]:
    """Started and showing its banner; the caller stops it (killed if the test fails first)."""
    dev = DevCommand(cwd, ports)
    try:
        dev.wait_for_output(BANNER, START_TIMEOUT)
        yield dev
    finally:
        dev.kill()


def processes_in(directory: Path) -> list[str]:
    """Command lines of live processes whose working directory is ``directory``."""
    directory = directory.resolve()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if Path(os.readlink(proc / "cwd")) == directory:
                found.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except OSError:
            continue
    return found


def assert_everything_stopped(directory: Path, ports: Ports) -> None:
    busy = [port for port in ports.all() if not port_is_free(port)]
    assert busy == [], f"still listening on {busy}"
    assert processes_in(directory) == []


def describe_workflow(ports: Ports, workflow_id: str) -> dict[str, Any]:
    result = subprocess.run(
        [str(TEMPORAL), "workflow", "describe", "-w", workflow_id,
         "--address", f"127.0.0.1:{ports.temporal}", "-o", "json"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    info: dict[str, Any] = json.loads(result.stdout)["workflowExecutionInfo"]
    return info


def localstripe_customers(ports: Ports, external_id: str) -> list[str]:
    # localstripe accepts any sk_test_ key.
    response = httpx.get(
        f"http://localhost:{ports.stripe}/v1/customers",
        headers={"Authorization": "Bearer sk_test_x"},
        params={"limit": 100},
    )
    assert response.status_code == 200, response.text
    return [
        c["id"]
        for c in response.json()["data"]
        if (c.get("metadata") or {}).get("creditgate_external_id") == external_id
    ]


def buy_with_a_card(ports: Ports, api: str, auth: dict[str, str], external_id: str) -> str:
    """A purchase against the dev stack: a card made in localstripe, then POST .../purchases."""
    card = httpx.post(
        f"http://localhost:{ports.stripe}/v1/payment_methods",
        headers={"Authorization": "Bearer sk_test_x"},
        data={
            "type": "card",
            "card[number]": "4242424242424242",
            "card[exp_month]": "12",
            "card[exp_year]": "2034",
            "card[cvc]": "123",
        },
    )
    assert card.status_code == 200, card.text
    bought = httpx.post(
        f"{api}/v1/customers/{external_id}/purchases",
        json={"amount": "15.00", "payment_method": card.json()["id"]},
        headers=auth,
        timeout=90,
    )
    assert bought.status_code == 201, bought.text
    purchase_id: str = bought.json()["id"]
    return purchase_id


def purchase_status(api: str, auth: dict[str, str], purchase_id: str) -> str:
    response = httpx.get(f"{api}/v1/purchases/{purchase_id}", headers=auth)
    assert response.status_code == 200, response.text
    status: str = response.json()["status"]
    return status


def webhooks_received(data_dir: Path, event_type: str) -> int:
    with sqlite3.connect(data_dir / "creditgate.db") as db:
        row = db.execute("SELECT count(*) FROM stripe_events WHERE type = ?", (event_type,))
        count: int = row.fetchone()[0]
        return count


def test_dev_runs_the_stack_stops_cleanly_and_keeps_state(tmp_path: Path) -> None:
    ports = Ports.free()
    api = f"http://127.0.0.1:{ports.api}"
    auth = {"Authorization": f"Bearer {API_KEY}"}
    external_id = f"dev-{uuid.uuid4().hex[:8]}"
    signup = {"external_id": external_id, "name": "Jane Doe", "email": "jane@example.com"}

    with running(tmp_path, ports) as dev:
        # dev itself, Temporal, localstripe, the worker and the API, all in this directory.
        assert len(processes_in(tmp_path)) >= 5, processes_in(tmp_path)
        assert f"{api}" in dev.output and f"http://localhost:{ports.ui}" in dev.output
        health = httpx.get(f"{api}/healthz")
        assert health.status_code == 200
        assert health.json()["checks"] == {"database": "ok", "temporal": "ok"}
        assert httpx.get(f"http://127.0.0.1:{ports.ui}/").status_code == 200

        created = httpx.post(f"{api}/v1/customers", json=signup, headers=auth, timeout=90)
        assert created.status_code == 201, created.text
        stripe_id = created.json()["stripe_customer_id"]
        info = describe_workflow(ports, f"customer-{external_id}")
        assert info["status"] == "WORKFLOW_EXECUTION_STATUS_RUNNING"
        assert info["type"]["name"] == "CustomerWorkflow"
        assert localstripe_customers(ports, external_id) == [stripe_id]

        again = httpx.post(f"{api}/v1/customers", json=signup, headers=auth, timeout=90)
        assert again.status_code == 200, again.text
        assert again.json() == created.json()

        # A purchase completes end to end: localstripe's webhook reaches the API.
        purchase_id = buy_with_a_card(ports, api, auth, external_id)
        deadline = time.monotonic() + 60
        while (status := purchase_status(api, auth, purchase_id)) == "pending":
            assert time.monotonic() < deadline, "the purchase stayed pending"
            time.sleep(0.2)
        assert status == "granted"
        assert webhooks_received(tmp_path / ".creditgate", "payment_intent.succeeded") >= 1
        balance = httpx.get(f"{api}/v1/customers/{external_id}/balance", headers=auth)
        assert balance.json()["available"] == "15"

        assert dev.stop() == 0, dev.output
        assert "creditgate dev: stopped" in dev.output
    assert_everything_stopped(tmp_path, ports)
    # Its state lives in the working directory, nowhere else.
    assert (tmp_path / ".creditgate" / "creditgate.db").is_file()
    assert (tmp_path / ".creditgate" / "temporal.db").is_file()

    with running(tmp_path, ports) as dev:
        fetched = httpx.get(f"{api}/v1/customers/{external_id}", headers=auth)
        assert fetched.status_code == 200, fetched.text
        assert fetched.json()["stripe_customer_id"] == stripe_id
        assert localstripe_customers(ports, external_id) == [stripe_id]
        info = describe_workflow(ports, f"customer-{external_id}")
        assert info["status"] == "WORKFLOW_EXECUTION_STATUS_RUNNING"
        repeated = httpx.post(f"{api}/v1/customers", json=signup, headers=auth, timeout=90)
        assert repeated.status_code == 200, repeated.text
        assert repeated.json()["stripe_customer_id"] == stripe_id

        assert dev.stop() == 0, dev.output
    assert_everything_stopped(tmp_path, ports)


@pytest.mark.parametrize("listening", [True, False], ids=["listening", "bound only"])
def test_dev_refuses_a_busy_api_port_and_starts_nothing(tmp_path: Path, listening: bool) -> None:
    ports = Ports.free()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", ports.api))
        if listening:
            squatter.listen()
        started = time.monotonic()
        dev = DevCommand(tmp_path, ports)
        try:
            status = dev.wait(30)
        finally:
            dev.kill()
        elapsed = time.monotonic() - started

    assert status != 0, dev.output
    assert elapsed < 20, f"took {elapsed:.1f}s to refuse"
    assert f"port {ports.api}" in dev.output
    assert "Traceback" not in dev.output
    others = [ports.temporal, ports.ui, ports.stripe]
    assert [p for p in others if not port_is_free(p)] == []
    assert processes_in(tmp_path) == []
    assert not (tmp_path / ".creditgate" / "temporal.db").exists()
    assert not (tmp_path / ".creditgate" / "creditgate.db").exists()


def test_the_demo_runs_against_a_fresh_dev_stack_and_check_passes(tmp_path: Path) -> None:
    """``creditgate demo`` right after ``creditgate dev`` (what the README tells a newcomer),
    then ``creditgate check`` over what it did."""
    ports = Ports.free()
    with running(tmp_path, ports) as dev:
        demo = subprocess.run(
            [str(CREDITGATE), "demo"],
            cwd=tmp_path,
            env=ports.environment(),
            capture_output=True,
            text=True,
            timeout=400,
        )
        assert demo.returncode == 0, demo.stdout + demo.stderr
        assert "[10/10] Done" in demo.stdout
        assert "customer portal (the link works until" in demo.stdout
        assert "events told to the product" in demo.stdout and "#1 customer.created" in demo.stdout
        assert "/portal/open?token=" in demo.stdout
        for step in ("402 card_declined", "granted", "cut off", "attempt 1 declined",
                     "recharged", "expired", "statement 1", "moved 1 customer"):  # fmt: skip
            assert step in demo.stdout, (step, demo.stdout)
        check = subprocess.run(
            [str(CREDITGATE), "check"],
            cwd=tmp_path,
            env=ports.environment(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert check.returncode == 0, check.stdout + check.stderr
        assert dev.stop() == 0, dev.output
    assert_everything_stopped(tmp_path, ports)
