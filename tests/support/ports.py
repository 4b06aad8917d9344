"""Free TCP ports (waiting for a server to listen: ``creditgate.devtools.managed``)."""

import socket

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
