"""The daphne floor: the floor's rules (`floor.Floor`) as a bare ASGI app, served the way
the project is (`python -m inswing_realtime.serve`: daphne, Twisted and autobahn on
uvloop, with the project's server tuning), in memory, no Django, no Channels, no auth,
no database, no Redis, one process.

It is what the server stack itself costs on this machine: the ceiling for the project,
which does all that and more on the same stack.

    .venv/bin/python -m inswing_realtime.serve -p 8790 bench.harness.daphne_floor:application
"""

from typing import Any

from bench.harness.floor import Floor
from coaching.realtime.server_tuning import (
    defer_autobahn_debug_formatting,
    quiet_garbage_collector,
    write_immediately,
)

floor = Floor()


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "websocket":
        raise ValueError(f"the daphne floor serves WebSockets only, not {scope['type']}")
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    joined: set[str] = set()
    try:
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            reply, broadcast = floor.receive(
                send, joined, message.get("text") or message.get("bytes")
            )
            if broadcast is not None:
                members, text = broadcast
                frame = {"type": "websocket.send", "text": text}
                for member in list(members):
                    await member(frame)
            await send({"type": "websocket.send", "text": reply})
    finally:
        floor.leave(send, joined)


defer_autobahn_debug_formatting()
write_immediately()
quiet_garbage_collector()
