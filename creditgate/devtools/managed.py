"""Child processes that start, wait until ready and are stopped on exit, for ``creditgate dev``,
the tests' servers, the benchmark and the chaos harness.

``Managed`` is the context-manager protocol over ``start()`` / ``stop()`` (a failed start is
stopped too); ``ManagedProcess`` adds one child process: ``launch()`` it, poll ``ready()``,
and on stop SIGTERM it, wait, and SIGKILL it if it does not go.
"""

import contextlib
import os
import signal
import socket
import subprocess
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from types import TracebackType
from typing import Self

READY_POLL_SECONDS = 0.2


class ProcessError(RuntimeError):
    """A child process exited or did not become ready in time."""


def port_busy(host: str, port: int) -> bool:
    """Something accepts connections on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def wait_until(
    check: Callable[[], bool],
    timeout: float,
    what: str,
    failed: Callable[[], str | None] = lambda: None,
) -> None:
    """Poll ``check`` until it holds; ``ProcessError`` once ``failed`` names a problem or after
    ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if problem := failed():
            raise ProcessError(f"{problem} while waiting for {what}")
        time.sleep(READY_POLL_SECONDS)
    raise ProcessError(f"timed out after {timeout:.0f}s waiting for {what}")


def send(process: subprocess.Popen[bytes], sig: signal.Signals, group: bool = False) -> None:
    """Signal ``process``, or with ``group`` its whole process group (``start_new_session``);
    one already gone is no error."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if group:
            os.killpg(process.pid, sig)
        else:
            process.send_signal(sig)


def reap(process: subprocess.Popen[bytes], timeout: float, group: bool = False) -> None:
    """Wait up to ``timeout`` seconds for ``process`` to exit, then SIGKILL it and wait."""
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        send(process, signal.SIGKILL, group)
        process.wait()


def terminate(process: subprocess.Popen[bytes], timeout: float, group: bool = False) -> None:
    """SIGTERM ``process`` (or its group) unless it has exited, then ``reap`` it."""
    if process.poll() is None:
        send(process, signal.SIGTERM, group)
        reap(process, timeout, group)


class Managed(ABC):
    """``with thing as t:`` starts it and stops it on exit, and also when the start fails."""

    @abstractmethod
    def start(self) -> Self: ...

    @abstractmethod
    def stop(self) -> None: ...

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class ManagedProcess(Managed):
    """One child process. Subclasses say how to ``launch()`` it and when it is ``ready()``."""

    name = "the process"
    ready_timeout = 60.0
    stop_timeout = 10.0
    own_group = False  # launched with start_new_session: signal its whole process group

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None

    @abstractmethod
    def launch(self) -> subprocess.Popen[bytes]: ...

    @abstractmethod
    def ready(self) -> bool: ...

    def exited(self) -> str | None:
        """What to report once the process has exited on its own."""
        code = None if self.process is None else self.process.poll()
        return None if code is None else f"{self.name} exited with status {code}"

    def start(self, timeout: float | None = None) -> Self:
        if self.process is None:
            self.process = self.launch()
            try:
                wait_until(self.ready, timeout or self.ready_timeout, self.name, self.exited)
            except BaseException:
                self.stop_process()
                raise
        return self

    def stop_process(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            terminate(process, self.stop_timeout, self.own_group)

    def stop(self) -> None:
        self.stop_process()
