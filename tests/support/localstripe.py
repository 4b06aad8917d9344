"""localstripe (a fake Stripe, GPL) as a separate process: never import it, only run it.

The session-scoped ``localstripe`` fixture is one running instance.
"""

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx
import pytest

from .ports import free_port, wait_for_port

HOST = "127.0.0.1"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


class LocalStripe:
    """``with LocalStripe() as stripe: ... stripe.base_url``; ``str(stripe)`` is the base URL.

    Each start is ``--from-scratch`` (localstripe still pickles its store to
    ``/tmp/localstripe.pickle`` after every write; we never load it).
    """

    def __init__(self, port: int | None = None) -> None:
        self._fixed_port = port
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path: Path | None = None

    @property
    def base_url(self) -> str:
        if not self.port:
            raise RuntimeError("localstripe is not running")
        return f"http://{HOST}:{self.port}"

    def __str__(self) -> str:
        return self.base_url

    def start(self, timeout: float = START_TIMEOUT) -> Self:
        if self.process is not None:
            return self
        log_fd, log_name = tempfile.mkstemp(prefix="localstripe-", suffix=".log")
        self.log_path = Path(log_name)
        deadline = time.monotonic() + timeout
        try:
            while True:  # free_port() is racy: on a lost race the process exits; try another port
                port = self._fixed_port or free_port()
                process = subprocess.Popen(
                    [sys.executable, "-m", "localstripe", "--port", str(port), "--from-scratch"],
                    stdin=subprocess.DEVNULL, stdout=log_fd, stderr=subprocess.STDOUT,
                )  # fmt: skip
                if self._wait_listening(process, port, deadline):
                    self.process, self.port = process, port
                    return self
                if self._fixed_port or time.monotonic() >= deadline:
                    _terminate(process)
                    raise RuntimeError(f"localstripe did not start on {port}: see {log_name}")
        finally:
            os.close(log_fd)  # the child has its own copy

    @staticmethod
    def _wait_listening(process: subprocess.Popen[bytes], port: int, deadline: float) -> bool:
        while time.monotonic() < deadline and process.poll() is None:
            try:
                wait_for_port(HOST, port, timeout=min(0.5, max(deadline - time.monotonic(), 0.01)))
            except TimeoutError:
                continue
            return process.poll() is None
        return False

    def stop(self) -> None:
        if self.process is not None:
            _terminate(self.process)
            self.process, self.port = None, 0
            if self.log_path is not None:
                self.log_path.unlink(missing_ok=True)

    # -- localstripe's own configuration endpoints ----------------------------------------------
    def register_webhook(
        self, endpoint_id: str, url: str, secret: str, events: list[str] | None = None
    ) -> None:
        """``POST /_config/webhooks/{id}``; in memory only, lost when localstripe restarts."""
        data: dict[str, object] = {"url": url, "secret": secret}
        if events is not None:
            data["events"] = events
        response = httpx.post(f"{self.base_url}/_config/webhooks/{endpoint_id}", json=data)
        response.raise_for_status()

    def flush(self) -> None:
        """Forget every stored object (``DELETE /_config/data``)."""
        httpx.delete(f"{self.base_url}/_config/data").raise_for_status()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _terminate(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def localstripe() -> Iterator[LocalStripe]:
    """A running localstripe; use ``localstripe.base_url`` (``str(localstripe)`` is the same)."""
    with LocalStripe() as instance:
        yield instance
