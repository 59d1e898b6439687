"""ASGI entry point: HTTP goes to Django (the probes `/healthz` and `/readyz` before it),
`/socket/websocket` to the Phoenix socket; both see the client's address and scheme that
`NUM_PROXIES` proxies forwarded (inswing_realtime/proxies.py)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "inswing_realtime.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.urls import path  # noqa: E402

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

application = behind_proxies(
    ProtocolTypeRouter(
        {
            "http": with_health(django_asgi_app),
            "websocket": URLRouter([path("socket/websocket", PhoenixSocket.as_asgi())]),
        }
    ),
    settings.REST_FRAMEWORK["NUM_PROXIES"],
)
quiet_garbage_collector()
# Analysis requests left pending by a restart (or queued by another process) go out.
analysis_webhook_sender.start()
