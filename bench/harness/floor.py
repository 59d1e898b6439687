"""The floor: a minimal asyncio `websockets` server speaking the same Phoenix V2 frames.

In memory, no auth, no database, one process: what plain asyncio Python does with
the same frames on the same machine. Joins reply ok; `chat:new` gets a seq, is
broadcast as `chat:added` (one encode per broadcast) to every member of the topic,
and is answered ok with the message, as the real server does.

    .venv/bin/python bench/harness/floor.py --port 8790
"""

import argparse
import asyncio
import itertools
import json
import time
from collections import defaultdict

import websockets
from websockets.asyncio.server import ServerConnection, serve


def encode(join_ref, ref, topic, event, payload) -> str:
    return json.dumps([join_ref, ref, topic, event, payload], separators=(",", ":"))


class Floor:
    def __init__(self) -> None:
        self.members: dict[str, set[ServerConnection]] = defaultdict(set)
        self.seqs: dict[str, int] = defaultdict(int)
        self.ids = itertools.count(1)

    async def handle(self, ws: ServerConnection) -> None:
        joined: set[str] = set()
        try:
            async for raw in ws:
                join_ref, ref, topic, event, payload = json.loads(raw)
                if event == "heartbeat":
                    await ws.send(encode(None, ref, topic, "phx_reply", ok({})))
                elif event == "phx_join":
                    self.members[topic].add(ws)
                    joined.add(topic)
                    reply = {"last_seq": self.seqs[topic], "messages": []}
                    await ws.send(encode(join_ref, ref, topic, "phx_reply", ok(reply)))
                elif event == "phx_leave":
                    self.members[topic].discard(ws)
                    joined.discard(topic)
                    await ws.send(encode(join_ref, ref, topic, "phx_reply", ok({})))
                elif event == "chat:new" and topic in joined:
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
                    websockets.broadcast(
                        self.members[topic], encode(None, None, topic, "chat:added", message)
                    )
                    await ws.send(
                        encode(join_ref, ref, topic, "phx_reply", ok({"message": message}))
                    )
                else:
                    await ws.send(encode(join_ref, ref, topic, "phx_reply", error("unknown_event")))
        finally:
            for topic in joined:
                self.members[topic].discard(ws)


def ok(response: dict) -> dict:
    return {"status": "ok", "response": response}


def error(reason: str) -> dict:
    return {"status": "error", "response": {"reason": reason}}


async def main(port: int, backlog: int) -> None:
    floor = Floor()
    async with serve(
        floor.handle,
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
