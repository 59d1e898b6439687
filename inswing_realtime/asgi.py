"""ASGI entry point: HTTP goes to Django (the probes `/healthz` and `/readyz` before it),
`/socket/websocket` to the Phoenix socket; both see the client's address and scheme that
`NUM_PROXIES` proxies forwarded (inswing_realtime/proxies.py)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "inswing_realtime.settings")
django_asgi_app = get_asgi_application()

from collections.abc import Awaitable, Callable  # noqa: E402

from django.conf import settings  # noqa: E402

from coaching.realtime.health import with_health  # noqa: E402
from coaching.realtime.server_tuning import (  # noqa: E402
    defer_autobahn_debug_formatting,
    quiet_garbage_collector,
    untie_closed_websockets,
    write_immediately,
)
from coaching.realtime.socket import PhoenixSocket  # noqa: E402
from coaching.services.analysis_webhook import sender as analysis_webhook_sender  # noqa: E402
from inswing_realtime.proxies import behind_proxies  # noqa: E402

defer_autobahn_debug_formatting()
write_immediately()
untie_closed_websockets()

http_app = with_health(django_asgi_app)
SOCKET_PATH = "socket/websocket"


async def _unrouted(scope: dict, receive: Callable, send: Callable) -> None:
    raise ValueError(f"No route for {scope['type']} {scope.get('path')!r}")


def route(scope: dict, receive: Callable, send: Callable) -> Awaitable[None]:
    """channels' ProtocolTypeRouter and URLRouter in one plain function: it returns the
    app's coroutine instead of awaiting it, so an open socket holds no router frames or
    scope copies (~1.4 KiB a socket; bench/idle_sockets.py). Anything else fails as the
    routers fail: in the app's task, which daphne logs and closes."""
    if scope["type"] == "http":
        return http_app(scope, receive, send)
    root_path, path = scope.get("root_path", ""), scope.get("path", "")
    if scope["type"] == "websocket" and path.startswith(root_path):
        if path[len(root_path) :].lstrip("/") == SOCKET_PATH:
            return PhoenixSocket()(scope, receive, send)
    return _unrouted(scope, receive, send)


route._asgi_single_callable = True  # ASGI 3, though not `async def` (asgiref would guess 2)

application = behind_proxies(route, settings.REST_FRAMEWORK["NUM_PROXIES"])
quiet_garbage_collector()
# Analysis requests left pending by a restart (or queued by another process) go out.
analysis_webhook_sender.start()
