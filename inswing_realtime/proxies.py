"""The client's address and scheme behind proxies, trusted exactly as far as `NUM_PROXIES`
says (the setting DRF's throttles read too, so both name the same client).

Each proxy appends the address it got the request from to `X-Forwarded-For`, so with
`NUM_PROXIES = n` the client is the n-th entry from the right: what the outermost of our
proxies saw. Entries left of it were written by the client and are never believed. As
DRF does, a header with fewer entries than `n` gives its first. `X-Forwarded-Proto` (the
nearest proxy's) gives the scheme the client used, so that a page served over TLS by
the proxy is `https` (and its socket `wss`) to Django and to the socket's same-origin
check. With `NUM_PROXIES = 0` (the default: no proxy in front) neither header is read:
the client is the peer.

daphne's own `--proxy-headers` takes the *first* `X-Forwarded-For` entry, which any
client writes, so `inswing_realtime.serve` refuses it; this middleware replaces it.
daphne's text access log still names the peer (the proxy); the proxy's log names the
client.
"""

import ipaddress
from collections.abc import Awaitable, Callable

App = Callable[[dict, Callable, Callable], Awaitable[None]]

SCHEMES = {
    "http": {"http": "http", "https": "https"},
    "websocket": {"http": "ws", "https": "wss"},
}


def _header(scope: dict, name: bytes) -> str | None:
    """The header's values joined by commas, as Django joins repeated headers."""
    values = [value.decode("latin-1") for key, value in scope.get("headers", ()) if key == name]
    return ",".join(values) if values else None


def forwarded_client(forwarded_for: str | None, num_proxies: int) -> str | None:
    """The client's address from `X-Forwarded-For` when `num_proxies` proxies each
    appended one; None when there is none (or it is not an address)."""
    if not num_proxies or not forwarded_for:
        return None
    entries = forwarded_for.split(",")
    address = entries[-min(num_proxies, len(entries))].strip()
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


def behind_proxies(app: App, num_proxies: int) -> App:
    """`app`, seeing the client `num_proxies` proxies forwarded (unchanged when 0)."""
    if num_proxies <= 0:
        return app

    def handle(scope: dict, receive: Callable, send: Callable) -> Awaitable[None]:
        # Returns the app's coroutine, not awaiting it: an open socket holds no frame
        # of this (bench/idle_sockets.py).
        if scope["type"] in SCHEMES:
            scope = dict(scope)
            client = forwarded_client(_header(scope, b"x-forwarded-for"), num_proxies)
            if client is not None:
                scope["client"] = [client, 0]
            proto = (_header(scope, b"x-forwarded-proto") or "").rsplit(",", 1)[-1]
            scheme = SCHEMES[scope["type"]].get(proto.strip().lower())
            if scheme is not None:
                scope["scheme"] = scheme
        return app(scope, receive, send)

    handle._asgi_single_callable = True  # ASGI 3, though not `async def`
    return handle
