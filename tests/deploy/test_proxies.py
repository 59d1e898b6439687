"""NUM_PROXIES decides how far X-Forwarded-For and X-Forwarded-Proto are believed, for
HTTP and the socket alike (inswing_realtime/proxies.py); daphne's --proxy-headers, which
believes the client's own first entry, is refused."""

import subprocess
import sys

import pytest

from inswing_realtime.proxies import behind_proxies, forwarded_client
from inswing_realtime.serve import refuse_proxy_headers


@pytest.mark.parametrize(
    ("header", "num_proxies", "client"),
    [
        (None, 1, None),
        ("198.51.100.7", 0, None),  # no proxy: the header is the client's, ignored
        ("198.51.100.7", 1, "198.51.100.7"),
        # The client's own entries come first; nginx appended what it saw last.
        ("203.0.113.9, 10.0.0.1, 198.51.100.7", 1, "198.51.100.7"),
        ("203.0.113.9, 10.0.0.1, 198.51.100.7", 2, "10.0.0.1"),
        # Fewer entries than proxies: the first (as DRF's throttles take it).
        ("198.51.100.7", 3, "198.51.100.7"),
        ("2001:db8::1", 1, "2001:db8::1"),
        ("198.51.100.7, not-an-address", 1, None),
    ],
)
def test_the_client_is_the_entry_num_proxies_from_the_right(header, num_proxies, client):
    assert forwarded_client(header, num_proxies) == client


async def scope_seen(num_proxies: int, scope: dict) -> dict:
    seen = {}

    async def app(scope, receive, send):
        seen.update(scope)

    await behind_proxies(app, num_proxies)(scope, None, None)
    return seen


def http_scope(kind: str = "http", **headers: str) -> dict:
    return {
        "type": kind,
        "scheme": "ws" if kind == "websocket" else "http",
        "client": ["127.0.0.1", 50000],
        "headers": [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()],
    }


async def test_num_proxies_1_takes_the_address_and_scheme_nginx_sent():
    scope = http_scope(x_forwarded_for="203.0.113.9, 198.51.100.7", x_forwarded_proto="https")
    seen = await scope_seen(1, scope)
    assert (seen["client"], seen["scheme"]) == (["198.51.100.7", 0], "https")
    socket = await scope_seen(1, {**scope, "type": "websocket", "scheme": "ws"})
    assert (socket["client"], socket["scheme"]) == (["198.51.100.7", 0], "wss")
    assert scope["client"] == ["127.0.0.1", 50000]  # the server's scope is left as it was


async def test_repeated_headers_count_as_one_list_and_odd_schemes_are_ignored():
    scope = http_scope(x_forwarded_for="203.0.113.9")
    scope["headers"].append((b"x-forwarded-for", b"198.51.100.7"))
    scope["headers"].append((b"x-forwarded-proto", b"gopher"))
    seen = await scope_seen(1, scope)
    assert (seen["client"], seen["scheme"]) == (["198.51.100.7", 0], "http")


async def test_without_the_headers_or_with_num_proxies_0_the_peer_is_the_client():
    assert (await scope_seen(1, http_scope()))["client"] == ["127.0.0.1", 50000]
    seen = await scope_seen(0, http_scope(x_forwarded_for="203.0.113.9", x_forwarded_proto="https"))
    assert (seen["client"], seen["scheme"]) == (["127.0.0.1", 50000], "http")

    def app(scope, receive, send):
        return None

    assert behind_proxies(app, 0) is app  # nothing in the way


@pytest.mark.parametrize("option", ["--proxy-headers", "--proxy-headers-host=X-Real-IP", "--proxy"])
def test_serve_refuses_daphnes_proxy_headers(option):
    with pytest.raises(SystemExit) as refused:
        refuse_proxy_headers(["-p", "8000", option, "inswing_realtime.asgi:application"])
    assert "NUM_PROXIES" in str(refused.value)
    refuse_proxy_headers(["-p", "8000", "inswing_realtime.asgi:application"])


def test_serve_exits_with_the_reason_before_listening():
    result = subprocess.run(
        [sys.executable, "-m", "inswing_realtime.serve", "--proxy-headers", "-p", "0", "x:y"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "set NUM_PROXIES" in result.stderr
