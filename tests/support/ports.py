"""Free TCP ports and waiting for a server to listen (deadline-based polling, no blind sleeps)."""

import socket
import time

POLL_INTERVAL = 0.05
# For test servers that httpx clients pool connections to: httpx drops an idle connection after
# 5 s, uvicorn's default also closes one after 5 s, and a request sent as the server closes gets
# ReadError. With the server holding on longer, the client is always the one that closes.
SERVER_KEEP_ALIVE_SECONDS = 75


def free_port() -> int:
    """A TCP port the OS reports free on 127.0.0.1 right now (racy by nature; use it promptly)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when nothing listens on ``host:port`` and it can be bound."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Like a server would: SO_REUSEADDR ignores TIME_WAIT leftovers, not live listeners.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def wait_for_port(host: str, port: int, timeout: float = 30.0) -> None:
    """Block until ``host:port`` accepts a TCP connection; ``TimeoutError`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    last_error: OSError | None = None
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"{host}:{port} did not accept connections within {timeout}s") from (
                last_error
            )
        try:
            with socket.create_connection((host, port), timeout=min(1.0, remaining)):
                return
        except OSError as exc:
            last_error = exc
            time.sleep(min(POLL_INTERVAL, max(deadline - time.monotonic(), 0)))
