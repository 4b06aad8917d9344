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
from typing import Self

import httpx
import pytest

from creditgate.devtools.managed import ManagedProcess, ProcessError, port_busy

from .ports import free_port

HOST = "127.0.0.1"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


class LocalStripe(ManagedProcess):
    """``with LocalStripe() as stripe: ... stripe.base_url``; ``str(stripe)`` is the base URL.

    Each start is ``--from-scratch`` (localstripe still pickles its store to
    ``/tmp/localstripe.pickle`` after every write; we never load it).
    """

    name = "localstripe"
    stop_timeout = STOP_TIMEOUT

    def __init__(self, port: int | None = None) -> None:
        super().__init__()
        self._fixed_port = port
        self.port = 0
        self.log_path: Path | None = None
        self._log_fd = -1

    @property
    def base_url(self) -> str:
        if not self.port:
            raise RuntimeError("localstripe is not running")
        return f"http://{HOST}:{self.port}"

    def __str__(self) -> str:
        return self.base_url

    def start(self, timeout: float | None = START_TIMEOUT) -> Self:
        if self.process is not None:
            return self
        self._log_fd, log_name = tempfile.mkstemp(prefix="localstripe-", suffix=".log")
        self.log_path = Path(log_name)
        deadline = time.monotonic() + (timeout or START_TIMEOUT)
        try:
            while True:  # free_port() is racy: on a lost race the process exits; try another port
                try:
                    return super().start(max(deadline - time.monotonic(), 0.01))
                except ProcessError as err:
                    if self._fixed_port or time.monotonic() >= deadline:
                        raise RuntimeError(
                            f"localstripe did not start on {self.port}: see {log_name}"
                        ) from err
        finally:
            os.close(self._log_fd)  # the child has its own copy

    def launch(self) -> subprocess.Popen[bytes]:
        self.port = self._fixed_port or free_port()
        return subprocess.Popen(
            [sys.executable, "-m", "localstripe", "--port", str(self.port), "--from-scratch"],
            stdin=subprocess.DEVNULL, stdout=self._log_fd, stderr=subprocess.STDOUT,
        )  # fmt: skip

    def ready(self) -> bool:
        # Someone else may listen on a port we lost the race for: ours must still be running.
        return port_busy(HOST, self.port) and self.exited() is None

    def stop(self) -> None:
        if self.process is not None:
            self.stop_process()
            self.port = 0
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


@pytest.fixture(scope="session")
def localstripe() -> Iterator[LocalStripe]:
    """A running localstripe; use ``localstripe.base_url`` (``str(localstripe)`` is the same)."""
    with LocalStripe() as instance:
        yield instance
