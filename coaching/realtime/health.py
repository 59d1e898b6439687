"""`GET /healthz` and `GET /readyz`: for a proxy's or orchestrator's probes; `GET /metrics`
for Prometheus (coaching/prometheus.py), from the addresses METRICS_ALLOWED_IPS allows.

`/healthz` answers 200 while the process runs (its event loop turns). `/readyz`
answers 200 `{"status": "ok"}` when PostgreSQL and Redis answer and the process is not
draining, else 503 `{"status": "unavailable", "failed": [...]}` naming what failed
(`postgresql`, `redis`, `draining`). Neither needs a token, touches a session or
Django's request cycle, and the access log leaves them out (inswing_realtime/serve.py).
"""

import asyncio
import ipaddress
import json
from collections.abc import Awaitable, Callable
from typing import Any

from django.conf import settings
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from coaching import prometheus
from coaching.realtime import open_sockets, pg
from coaching.realtime.lifecycle import stopping
from coaching.realtime.presence import get_presence
from coaching.realtime.publish import confirm_layer, outbox

PATHS = ("/healthz", "/readyz", "/metrics")
# A dependency that does not answer within this many seconds counts as failed.
CHECK_TIMEOUT = 2.0

App = Callable[[dict, Callable, Callable], Awaitable[None]]


async def _answers(check: Callable[[], Awaitable[Any]]) -> bool:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            await check()
    except Exception:
        return False
    return True


async def readiness() -> list[str]:
    """What keeps this process from taking traffic (empty: ready)."""
    failed = []
    if stopping():
        failed.append("draining")
    checks = {"postgresql": lambda: pg.socket_pool().fetch("SELECT 1")}
    if settings.REDIS_URL:
        checks["redis"] = confirm_layer
    results = await asyncio.gather(*(_answers(check) for check in checks.values()))
    failed += [name for name, ok in zip(checks, results, strict=True) if not ok]
    return failed


async def _respond(send: Callable, status: int, body: dict[str, Any]) -> None:
    data = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"cache-control", b"no-store")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


def _metrics_allowed(scope: dict) -> bool:
    client = scope.get("client")
    if not client:
        return False
    try:
        address = ipaddress.ip_address(client[0])
    except ValueError:
        return False
    return any(address in network for network in settings.METRICS_ALLOWED_IPS)


async def _metrics(scope: dict, send: Callable) -> None:
    if not _metrics_allowed(scope):
        await _respond(send, 403, {"status": "forbidden"})
        return
    prometheus.SOCKETS_OPEN.set_function(open_sockets.count)
    prometheus.PRESENCE_ENTRIES.set_function(get_presence().local_count)
    headers = [(b"content-type", CONTENT_TYPE_LATEST.encode()), (b"cache-control", b"no-store")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": generate_latest()})


def with_health(app: App) -> App:
    """`app`, with the probes and the metrics answered before it."""

    async def handle(scope: dict, receive: Callable, send: Callable) -> None:
        # What REST broadcasts goes through the server loop's outbox, which retries what
        # Redis refused (publish.republisher), even before any socket has connected.
        outbox.bind()
        if scope["type"] != "http" or scope["path"] not in PATHS:
            await app(scope, receive, send)
        elif scope["path"] == "/metrics":
            await _metrics(scope, send)
        elif scope["path"] == "/healthz":
            await _respond(send, 200, {"status": "ok"})
        else:
            failed = await readiness()
            if failed:
                await _respond(send, 503, {"status": "unavailable", "failed": failed})
            else:
                await _respond(send, 200, {"status": "ok"})

    return handle
