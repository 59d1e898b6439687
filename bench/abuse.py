"""One abusive socket against one server process: what it costs the server and others.

    .venv/bin/python bench/abuse.py --targets project@REF,project --seconds 12

For each target (this checkout, or `project@REF` for an older commit), and each kind of
abuse (`oversize`: 1 MB frames; `malformed`: tiny frames that are not JSON), one socket
sends up to 15,000 frames a second for `--seconds` while a well-behaved pair in another session
chats at 4 lines a second. Printed: the frames the abuser got out, whether and when the
server closed it, the server's CPU over the window, and the pair's delivery p50/p99
(from the scheduled send time). Figures, not assertions.
"""

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path

import websockets
from websockets.protocol import State

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import fixtures, targets

PORT = 18700


async def abuser(url: str, token: str, kind: str, seconds: float) -> dict:
    """Send `kind` frames for `seconds`; when the server's close frame came (its close
    handshake waits behind the frames the client still has buffered)."""
    frame = "x" * (1 << 20) if kind == "oversize" else "not json"
    sent, closed_at = 0, None
    started = time.monotonic()
    async with websockets.connect(
        f"{url}?vsn=2.0.0&token={token}", max_size=None, open_timeout=10
    ) as ws:
        try:
            while time.monotonic() - started < seconds:
                await ws.send(frame)
                sent += 1
                if sent % 150 == 0:  # ~15,000 frames a second at most
                    await asyncio.sleep(0.01)  # and let replies and a close frame be read
                    if ws.state is not State.OPEN:
                        break
        except websockets.ConnectionClosed:
            pass
        if ws.state is not State.OPEN:
            closed_at = round(time.monotonic() - started, 3)
    return {"sent": sent, "closed_after_s": closed_at}


async def pair(url: str, topic: str, tokens: tuple[str, str], seconds: float) -> list[float]:
    """Student chats at 4 lines a second (open loop, within the chat limit); the coach
    measures delivery from the scheduled send time."""
    latencies: list[float] = []
    async with (
        websockets.connect(f"{url}?vsn=2.0.0&token={tokens[0]}") as student,
        websockets.connect(f"{url}?vsn=2.0.0&token={tokens[1]}") as coach,
    ):
        for ws in (student, coach):
            await ws.send(json.dumps(["1", "1", topic, "phx_join", {}]))
            while json.loads(await ws.recv())[3] != "phx_reply":
                pass

        async def read() -> None:
            async for text in coach:
                frame = json.loads(text)
                if frame[3] == "chat:added":
                    scheduled = float(frame[4]["message"])
                    latencies.append((time.monotonic() - scheduled) * 1000)

        reader = asyncio.create_task(read())
        start, ref = time.monotonic(), 1
        while (now := time.monotonic()) - start < seconds:
            ref += 1
            scheduled = start + (ref - 1) / 4
            await asyncio.sleep(max(0.0, scheduled - now))
            await student.send(
                json.dumps(["1", str(ref), topic, "chat:new", {"message": repr(scheduled)}])
            )
            if ref % 4 == 0:  # drain the student's replies and echoes
                while True:
                    try:
                        await asyncio.wait_for(student.recv(), 0.001)
                    except TimeoutError:
                        break
        await asyncio.sleep(1)
        reader.cancel()
    return latencies


def run(target: targets.Target, kind: str, seconds: float) -> dict:
    (_, bad, _), (chat_topic, student, coach) = fixtures.project_sessions(2)
    target.start()
    try:
        url = target.urls[0]
        cpu_before = target.cpu()

        async def both() -> tuple[dict, list[float]]:
            return await asyncio.gather(
                abuser(url, bad, kind, seconds), pair(url, chat_topic, (student, coach), seconds)
            )

        abuse, latencies = asyncio.run(both())
        cpu = target.cpu() - cpu_before
    finally:
        target.stop()
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 2 else [float("nan")] * 99
    return {
        **abuse,
        "server_cpu_share": round(cpu / (seconds + 1), 2),
        "pair_delivered": len(latencies),
        "pair_p50_ms": round(q[49], 1),
        "pair_p99_ms": round(q[98], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", default="project")
    parser.add_argument("--kinds", default="oversize,malformed")
    parser.add_argument("--seconds", type=float, default=12)
    args = parser.parse_args()
    fixtures.setup_django()
    for name in args.targets.split(","):
        kind_name, _, ref = name.partition("@")
        source = targets.source_of(ref) if ref else targets.ROOT
        for kind in args.kinds.split(","):
            env = {**os.environ, **fixtures.SERVER_ENV}
            target = targets.Target(kind_name, 1, PORT, env, source=source)
            print(name, kind, json.dumps(run(target, kind, args.seconds)), flush=True)


if __name__ == "__main__":
    main()
