"""Where webhooks may go: only to public internet addresses, unless private networks are
allowed (development and tests deliver to 127.0.0.1). Guards against server-side request
forgery: an API client pointing an endpoint at cloud metadata, the database, or a host on
the private network behind the worker."""

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
# A name that takes longer to resolve is treated as not resolving.
RESOLVE_TIMEOUT_SECONDS = 3.0


def is_public(address: Address) -> bool:
    """Globally reachable unicast: not private, loopback, link-local, multicast, reserved,
    unspecified or shared (100.64.0.0/10). An IPv6 address carrying an IPv4 one (mapped,
    6to4) counts as that IPv4 address."""
    if isinstance(address, ipaddress.IPv6Address):
        address = address.ipv4_mapped or address.sixtofour or address
    return address.is_global and not address.is_multicast


async def resolve(host: str, timeout: float = RESOLVE_TIMEOUT_SECONDS) -> list[Address]:
    """The host's addresses (an IP literal is its own); OSError if it does not resolve."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeout):
            found = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except TimeoutError as err:
        raise OSError(f"no answer within {timeout:g} s") from err
    # An IPv6 address may carry a zone ("fe80::1%eth0"): the address is what counts.
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in found]


async def refusal(url: str, timeout: float = RESOLVE_TIMEOUT_SECONDS) -> str | None:
    """Why the URL's host is not a public address, or None when every address it resolves
    to is public."""
    host = (urlsplit(url).hostname or "").rstrip(".")
    if not host or host == "localhost" or host.endswith(".localhost"):
        return f"host {host!r} is not a public address"
    try:
        addresses = await resolve(host, timeout)
    except (OSError, UnicodeError) as err:
        return f"host {host!r} does not resolve ({err})"
    private = sorted({str(a) for a in addresses if not is_public(a)})
    if private or not addresses:
        return f"host {host!r} resolves to a non-public address ({', '.join(private)})"
    return None
