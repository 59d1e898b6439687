"""The ASGI entry point routes without holding a frame of its own for a socket's life.

Importing inswing_realtime.asgi freezes the collector and starts the webhook sender, so
it is imported in a fresh process, which prints what `route` returned for each scope.
"""

import json
import os
import subprocess
import sys

import pytest

from tests.support.servers import ROOT

PROBE = """
import asyncio, json
from inswing_realtime import asgi
from coaching.realtime.socket import PhoenixSocket

async def receive(): return {}
async def send(message): pass

def routed(scope):
    app = asgi.application(scope, receive, send)
    name = app.cr_code.co_qualname
    try:
        asyncio.run(app) if name == "_unrouted" else app.close()
    except ValueError as exc:
        return [name, str(exc)]
    return [name, PhoenixSocket.__call__.__code__ is app.cr_code]

socket = {"type": "websocket", "path": "/socket/websocket", "headers": []}
print(json.dumps({
    "socket": routed(socket),
    "under_root": routed({**socket, "root_path": "/rt", "path": "/rt/socket/websocket"}),
    "elsewhere": routed({**socket, "path": "/socket/other"}),
    "outside_root": routed({**socket, "root_path": "/rt"}),
    "lifespan": routed({"type": "lifespan"}),
}))
"""


def routes(num_proxies: int = 0) -> dict:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "inswing_realtime.settings",
        "NUM_PROXIES": str(num_proxies),
    }
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("num_proxies", [0, 1], ids=["direct", "behind a proxy"])
def test_a_socket_is_the_consumers_own_coroutine_and_anything_else_fails_in_its_task(num_proxies):
    found = routes(num_proxies)
    # The consumer's coroutine itself: no router awaiting it, no scope copy.
    assert found["socket"] == ["PhoenixSocket.__call__", True]
    assert found["under_root"] == ["PhoenixSocket.__call__", True]
    assert found["elsewhere"] == ["_unrouted", "No route for websocket '/socket/other'"]
    assert found["outside_root"] == ["_unrouted", "No route for websocket '/socket/websocket'"]
    assert found["lifespan"] == ["_unrouted", "No route for lifespan None"]
