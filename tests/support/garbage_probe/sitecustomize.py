"""Loaded by a server process started with this directory on PYTHONPATH
(tests/realtime/test_socket_garbage.py): on SIGUSR2 it collects its garbage in full,
keeping what it found (gc.DEBUG_SAVEALL), and writes to the file GARBAGE_PROBE names, as
JSON, how many objects of each type were unreachable (`garbage`) and how many WebSocket
connections the process still holds (`connections`)."""

import collections
import gc
import json
import os
import signal
from pathlib import Path


def _name(o: object) -> str:
    """The object's type; for a function, which one."""
    if type(o).__name__ == "function":
        return f"function {o.__module__}.{o.__qualname__}"
    return type(o).__qualname__


def _census(*_: object) -> None:
    gc.set_debug(gc.DEBUG_SAVEALL)
    gc.collect()
    gc.set_debug(0)
    found = collections.Counter(_name(o) for o in gc.garbage)
    gc.garbage.clear()
    gc.collect()  # now free them (saved, they still hold each other)
    connections = sum(1 for o in gc.get_objects() if type(o).__name__ == "WebSocketProtocol")
    path = Path(os.environ["GARBAGE_PROBE"])
    path.with_suffix(".tmp").write_text(json.dumps({"garbage": found, "connections": connections}))
    path.with_suffix(".tmp").replace(path)


if os.environ.get("GARBAGE_PROBE"):
    signal.signal(signal.SIGUSR2, _census)
