"""A WebSocket's input queue in daphne is a Mailbox (a list, and a future while its
reader waits), not an asyncio.Queue; HTTP keeps daphne's; the Denial Response's
wrapper, applied after, still offers its extension."""

import asyncio

import pytest
from daphne.server import Server
from daphne.ws_protocol import WebSocketProtocol

from coaching.realtime.mailbox import Mailbox
from coaching.realtime.server_tuning import (
    DENIAL_EXTENSION,
    http_response_before_upgrade,
    light_websocket_queues,
)


@pytest.fixture
def server(monkeypatch):
    """A daphne Server with the two patches as serve.py applies them, whose app records
    what it is given and echoes what it receives until a disconnect."""
    monkeypatch.setattr(Server, "create_application", Server.create_application)
    for name in ("handle_reply", "sendHttpErrorResponse"):  # undone after, like the above
        monkeypatch.setattr(WebSocketProtocol, name, getattr(WebSocketProtocol, name))
    light_websocket_queues()
    http_response_before_upgrade()
    server = Server.__new__(Server)
    server.connections, server.seen = {}, {}

    async def app(scope: dict, receive, send) -> list:
        server.seen[scope["type"]] = scope
        received = []
        while (message := await receive())["type"] != "websocket.disconnect":
            received.append(message)
        return received

    server.application = app
    return server


def start(server: Server, scope: dict) -> tuple[object, asyncio.Future]:
    protocol = object()
    server.protocol_connected(protocol)
    queue = server.create_application(protocol, scope)
    return queue, server.connections[protocol]["application_instance"]


async def test_a_socket_reads_its_frames_in_order_from_a_mailbox(server):
    queue, app = start(server, {"type": "websocket", "path": "/socket/websocket"})
    assert isinstance(queue, Mailbox)
    queue.put_nowait({"type": "websocket.connect"})
    await asyncio.sleep(0)  # the app now waits for the next frame
    for n in range(3):
        queue.put_nowait({"type": "websocket.receive", "text": str(n)})
    queue.put_nowait({"type": "websocket.disconnect"})
    received = await asyncio.wait_for(app, 1)
    assert [m.get("text") for m in received] == [None, "0", "1", "2"]
    assert DENIAL_EXTENSION in server.seen["websocket"]["extensions"]


async def test_http_keeps_daphnes_queue(server):
    queue, app = start(server, {"type": "http", "path": "/"})
    assert type(queue) is asyncio.Queue
    app.cancel()


def test_applying_it_twice_changes_nothing(monkeypatch):
    monkeypatch.setattr(Server, "create_application", Server.create_application)
    light_websocket_queues()
    once = Server.create_application
    light_websocket_queues()
    assert Server.create_application is once


async def test_sockets_share_one_read_only_offer_of_the_denial_response(server):
    scopes = [{"type": "websocket", "path": "/socket/websocket"} for _ in range(2)]
    for scope in scopes:
        start(server, scope)[1].cancel()
    first, second = (scope["extensions"] for scope in scopes)
    assert first is second and DENIAL_EXTENSION in first
    with pytest.raises(TypeError):
        first["other"] = {}
    given = {"type": "websocket", "path": "/", "extensions": {"websocket.other": {}}}
    start(server, given)[1].cancel()
    assert set(given["extensions"]) == {"websocket.other", DENIAL_EXTENSION}
