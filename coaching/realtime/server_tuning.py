"""Per-connection work of the server libraries that this app does not need."""

import asyncio
import functools
import gc
import pprint
import sys
from collections.abc import Callable
from http import HTTPStatus
from types import MappingProxyType
from typing import Any

from coaching.realtime.mailbox import Mailbox


class _FormatWhenLogged:
    """`fn(*args, **kwargs)`, computed only if a log line is actually written."""

    __slots__ = ("args", "fn", "kwargs")

    def __init__(self, fn: Callable[..., str], *args: Any, **kwargs: Any) -> None:
        self.fn, self.args, self.kwargs = fn, args, kwargs

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    def __str__(self) -> str:
        return self.fn(*self.args, **self.kwargs)

    __repr__ = __str__


def _when_logged(fn: Callable[..., str]) -> Callable[..., _FormatWhenLogged]:
    return functools.partial(_FormatWhenLogged, fn)


def defer_autobahn_debug_formatting() -> None:
    """autobahn formats the arguments of its debug log lines even when debug logging is
    off: a pretty-printed protocol configuration on every new WebSocket (9 % of the
    server's CPU in a 1,000-socket join storm) and colored names (`hltype`, `hlval`,
    through click) on every frame sent and every read (5 % in steady chat; py-spy).
    They are now formatted only if written, and read the same when they are."""
    try:
        from autobahn import util
        from autobahn.twisted import websocket
        from autobahn.websocket import protocol
    except ImportError:
        return
    protocol.pformat = _when_logged(pprint.pformat)
    for module in (protocol, websocket):
        module.hltype = _when_logged(util.hltype)
        module.hlval = _when_logged(util.hlval)


def write_immediately() -> None:
    """Twisted's TCP transport sends nothing in `write`: it buffers the bytes, registers
    the socket with the event loop for writability, sends on a later turn and
    unregisters again. Every frame daphne sends (each delivery, each reply) paid for two
    registrations and a loop turn. Now a write with nothing already buffered goes
    straight to the socket; what the socket does not take, a failed send included, is
    buffered and left to the reactor as before, so bytes stay in order and a lost
    connection is noticed where it always was. TLS, half-closed and closing transports
    keep Twisted's own path."""
    try:
        from twisted.internet import tcp
    except ImportError:
        return
    buffered_write = tcp.Connection.write
    if getattr(buffered_write, "immediate", False):
        return

    def write(self: tcp.Connection, data: bytes) -> None:
        if (
            self.connected
            and not self.TLS
            and not self.disconnecting
            and not self._writeDisconnecting
            and not self._writeDisconnected
            and not self._tempDataLen
            and not self.dataBuffer
            and type(data) is bytes
        ):
            sent = self.writeSomeData(data)
            if not isinstance(sent, int):  # the connection is lost: the reactor's path
                sent = 0
            if sent == len(data):
                return
            data = data[sent:]
        buffered_write(self, data)

    write.immediate = True
    tcp.Connection.write = write


def light_websocket_queues() -> None:
    """daphne gives every connection an asyncio.Queue of what it receives: four deques
    and an Event, ~3.6 KiB that an idle socket holds for its life (bench/idle_sockets.py).
    A WebSocket's is now a Mailbox (a list, and a future while its reader waits),
    unbounded as daphne's is; the socket is its one reader, a frame at a time, as a
    Mailbox requires. HTTP keeps daphne's queue (Django may wait on it from a second
    task). This replaces daphne's `Server.create_application`, so it goes before any
    wrapper of it (serve.py: before http_response_before_upgrade)."""
    try:
        from daphne.server import Server
    except ImportError:
        return
    create_application = Server.create_application
    if getattr(create_application, "light", False):
        return

    def create_application_light(self: Server, protocol: Any, scope: dict) -> Any:
        if scope.get("type") != "websocket":
            return create_application(self, protocol, scope)
        # daphne's own, but for the queue.
        assert "application_instance" not in self.connections[protocol]
        input_queue = Mailbox(sys.maxsize)
        scope.setdefault("asgi", {"version": "3.0"})
        application_instance = self.application(
            scope=scope,
            receive=input_queue.get,
            send=functools.partial(self.handle_reply, protocol),
        )
        if protocol not in self.connections:
            return None
        self.connections[protocol]["application_instance"] = asyncio.ensure_future(
            application_instance, loop=asyncio.get_event_loop()
        )
        return input_queue

    create_application_light.light = True
    Server.create_application = create_application_light


DENIAL_EXTENSION = "websocket.http.response"
OFFERED = MappingProxyType({DENIAL_EXTENSION: MappingProxyType({})})


def http_response_before_upgrade() -> None:
    """ASGI's WebSocket Denial Response for daphne, which has none: before accepting, an
    app may answer the upgrade request with an HTTP response of its own
    (`websocket.http.response.start`, then `websocket.http.response.body` messages)
    instead of the bare 403 that a close before accept gives. The status, headers and
    body go out as given, with a Content-Length, and the connection is closed, as
    autobahn closes a refused handshake. Socket scopes carry the extension
    (`scope["extensions"]["websocket.http.response"]`), so an app can tell."""
    try:
        from autobahn.websocket.types import ConnectionDeny
        from daphne.server import Server
        from daphne.ws_protocol import WebSocketProtocol
    except ImportError:
        return
    if getattr(WebSocketProtocol.handle_reply, "denials", False):
        return
    create_application = Server.create_application
    handle_reply = WebSocketProtocol.handle_reply
    send_error = WebSocketProtocol.sendHttpErrorResponse

    def create_application_offering_denials(self: Server, protocol: Any, scope: dict) -> Any:
        if scope.get("type") == "websocket":
            # One read-only mapping for every socket (daphne offers no other extension);
            # a dict each was ~0.35 KiB that a socket kept for its life.
            given = scope.get("extensions")
            scope["extensions"] = MappingProxyType({**given, **OFFERED}) if given else OFFERED
        return create_application(self, protocol, scope)

    def handle_reply_with_denials(self: WebSocketProtocol, message: dict) -> None:
        kind = message.get("type")
        if kind not in ("websocket.http.response.start", "websocket.http.response.body"):
            handle_reply(self, message)
        elif self.state != self.STATE_CONNECTING or not hasattr(self, "handshake_deferred"):
            raise ValueError(f"{kind} after the socket was accepted or refused")
        elif kind == "websocket.http.response.start":
            self.denial = (message["status"], list(message.get("headers", [])), [])
        else:
            status, _, body = self.denial
            body.append(message.get("body", b""))
            if not message.get("more_body", False):
                # autobahn answers through sendHttpErrorResponse, below, and closes.
                deny = ConnectionDeny(code=status, reason=HTTPStatus(status).phrase)
                self.handshake_deferred.errback(deny)
                del self.handshake_deferred
                self.server.protocol_disconnected(self)

    def send_denial(
        self: WebSocketProtocol, code: int, reason: str, responseHeaders: Any = None
    ) -> None:
        denial = getattr(self, "denial", None)
        if denial is None:
            send_error(self, code, reason, responseHeaders)
            return
        status, headers, body = denial
        content = b"".join(body)
        lines = [f"HTTP/1.1 {status} {reason}".encode("latin-1")]
        lines += [name + b": " + value for name, value in headers]
        lines += [f"Content-Length: {len(content)}".encode(), b"Connection: close"]
        self.sendData(b"\r\n".join(lines) + b"\r\n\r\n" + content)

    handle_reply_with_denials.denials = True
    Server.create_application = create_application_offering_denials
    WebSocketProtocol.handle_reply = handle_reply_with_denials
    WebSocketProtocol.sendHttpErrorResponse = send_denial


def untie_closed_websockets() -> None:
    """A closed WebSocket leaves two reference cycles in the server libraries: the
    upgrade's HTTP request and its channel (twisted's `HTTPChannel.requests` keeps the
    request, never finished, which points back at the channel), and autobahn's
    `is_closed` Deferred, resolved with the protocol it belongs to. They hold the
    connection's objects (buffers, headers, daphne's queue) until a full collection
    walks them: after 1,000 sockets close, a pause of ~0.2 s (bench/close_storm.py).
    Both are cut (the first once the request has handed its connection over, the second
    once the connection is lost), so reference counting frees a socket when daphne lets
    it go."""
    try:
        from daphne.http_protocol import WebRequest
        from daphne.ws_protocol import WebSocketProtocol
        from twisted.internet.defer import succeed
    except ImportError:
        return
    process, connection_lost = WebRequest.process, WebSocketProtocol.connectionLost
    if getattr(connection_lost, "unties", False):
        return

    def process_untied(self: WebRequest) -> None:
        process(self)
        # daphne hands the connection to a WebSocket protocol and leaves the request.
        if self.transport is None and self.channel is not None and upgraded(self):
            self.channel.requests.remove(self)

    def connection_lost_untied(self: WebSocketProtocol, reason: Any) -> None:
        connection_lost(self, reason)
        # Resolved (with this protocol) once closed; nothing waits on it afterwards.
        self.is_closed = succeed(None)

    def upgraded(request: WebRequest) -> bool:
        upgrade = request.requestHeaders.getRawHeaders(b"upgrade") or [b""]
        return upgrade[0].lower() == b"websocket" and request in request.channel.requests

    connection_lost_untied.unties = True
    WebRequest.process = process_untied
    WebSocketProtocol.connectionLost = connection_lost_untied


# Allocations between young-generation collections (CPython's default is 700). A busy
# server allocates frames, dicts and futures by the million; at 700, the collections
# of the older generations that follow walk every long-lived object (each socket's
# consumer, protocol, queues): pauses of tens of milliseconds that every message
# delivered meanwhile waits out.
GC_YOUNG_THRESHOLD = 50_000


def quiet_garbage_collector() -> None:
    """Freeze what startup created (modules, settings, the app: never garbage) out of
    the collector's walks, and collect less often."""
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
