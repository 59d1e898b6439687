"""The floor: a minimal asyncio `websockets` server speaking the same Phoenix V2 frames.

In memory, no auth, no database, one process: what plain asyncio Python does with
the same frames on the same machine. Joins reply ok; `chat:new` gets a seq, is
broadcast as `chat:added` (one encode per broadcast) to every member of the topic,
and is answered ok with the message, as the real server does. The rules (`Floor`)
are also served by daphne in `daphne_floor.py`.

    .venv/bin/python bench/harness/floor.py --port 8790
"""

import argparse
import asyncio
import itertools
import json
import time
from collections import defaultdict
from collections.abc import Hashable

import websockets
from websockets.asyncio.server import ServerConnection, serve

Broadcast = tuple[set[Hashable], str]  # the members of a topic, the frame they all get


def encode(join_ref, ref, topic, event, payload) -> str:
    return json.dumps([join_ref, ref, topic, event, payload], separators=(",", ":"))


class Floor:
    """The floor's rules, whatever carries the frames: a member is any hashable handle
    of a connection, `joined` the topics that connection has joined."""

    def __init__(self) -> None:
        self.members: dict[str, set[Hashable]] = defaultdict(set)
        self.seqs: dict[str, int] = defaultdict(int)
        self.ids = itertools.count(1)

    def receive(
        self, member: Hashable, joined: set[str], raw: str | bytes
    ) -> tuple[str, Broadcast | None]:
        """The reply to one frame, and the broadcast it makes (sent before the reply)."""
        join_ref, ref, topic, event, payload = json.loads(raw)
        if event == "heartbeat":
            return encode(None, ref, topic, "phx_reply", ok({})), None
        if event == "phx_join":
            self.members[topic].add(member)
            joined.add(topic)
            reply = {"last_seq": self.seqs[topic], "messages": []}
            return encode(join_ref, ref, topic, "phx_reply", ok(reply)), None
        if event == "phx_leave":
            self.members[topic].discard(member)
            joined.discard(topic)
            return encode(join_ref, ref, topic, "phx_reply", ok({})), None
        if event == "chat:new" and topic in joined:
            self.seqs[topic] += 1
            message = {
                "id": str(next(self.ids)),
                "seq": self.seqs[topic],
                "session_id": topic.split(":", 1)[1],
                "sender": {"id": "1", "role": "student", "name": "S"},
                "message": payload.get("message"),
                "client_msg_id": payload.get("client_msg_id"),
                "meta": {"ts": int(time.time() * 1000)},
            }
            broadcast = (self.members[topic], encode(None, None, topic, "chat:added", message))
            reply = encode(join_ref, ref, topic, "phx_reply", ok({"message": message}))
            return reply, broadcast
        return encode(join_ref, ref, topic, "phx_reply", error("unknown_event")), None

    def leave(self, member: Hashable, joined: set[str]) -> None:
        for topic in joined:
            self.members[topic].discard(member)


def ok(response: dict) -> dict:
    return {"status": "ok", "response": response}


def error(reason: str) -> dict:
    return {"status": "error", "response": {"reason": reason}}


async def main(port: int, backlog: int) -> None:
    floor = Floor()

    async def handle(ws: ServerConnection) -> None:
        joined: set[str] = set()
        try:
            async for raw in ws:
                reply, broadcast = floor.receive(ws, joined, raw)
                if broadcast is not None:
                    websockets.broadcast(*broadcast)
                await ws.send(reply)
        finally:
            floor.leave(ws, joined)

    async with serve(
        handle,
        "127.0.0.1",
        port,
        compression=None,
        max_queue=None,
        ping_interval=None,
        backlog=backlog,
    ):
        await asyncio.Future()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--backlog", type=int, default=4096)
    args = parser.parse_args()
    asyncio.run(main(args.port, args.backlog))
