"""Per-connection work of the server libraries that this app does not need."""

import gc
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
