"""Per-connection work of the server libraries that this app does not need."""

import pprint
from typing import Any


class _FormatWhenLogged:
    """`pformat(obj)`, computed only if a log line is actually written."""

    __slots__ = ("obj",)

    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def __format__(self, spec: str) -> str:
        return format(pprint.pformat(self.obj), spec)

    __str__ = __repr__ = lambda self: pprint.pformat(self.obj)


def defer_autobahn_config_log() -> None:
    """autobahn pretty-prints its whole protocol configuration for a debug log line on
    every new WebSocket, even when debug logging is off: 9 % of the server's CPU in a
    1,000-socket join storm (py-spy). The line still says the same when debug is on."""
    try:
        from autobahn.websocket import protocol
    except ImportError:
        return
    protocol.pformat = _FormatWhenLogged
