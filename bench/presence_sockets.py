"""Many sockets of one user in one session: what they cost the server and other users.

    .venv/bin/python bench/presence_sockets.py --targets project@REF,project --sockets 50,500

For each target (this checkout, or `project@REF` for an older commit) and each count,
a fresh server process (one, on BENCH_DATABASE_URL / BENCH_REDIS_URL) serves a pair
chatting in one session (20 lines a second, open loop: latency from each line's
scheduled send time to its receipt by the other member) while one user opens that
many sockets into another session (50 at a time), holds them, and closes them all.
Printed per run: the presence frames those sockets were sent (`presence:state`,
`presence:diff`; count and MB), the time until the last join's state, the server's
RSS before, while they are open, after they closed, and after a second round of the
same (each after a `gc.collect()` in the server: SIGUSR1, set up by this script's
`--serve` wrapper), its CPU while they open and while they close, and the pair's
p50/p99 in each phase (alone, opening, holding, closing, after). The per-user push
limits are raised for the run (the joins of 500 sockets of one user would otherwise
be paced by them). Figures, not assertions.
"""

import asyncio
import json
import os
import signal
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.harness.wrapped import command_line, serve_module, wrapped_target  # noqa: E402

PORT = 18760
PAIR_RATE = 20.0  # chat lines a second
OPEN_AT_ONCE = 50
QUIET = 1.0  # no presence frame for this long: the storm is over
# Push and socket limits out of the way: the joins, not the limits, are measured.
LIMITS = {
    "CLIENT_EVENTS_PER_SECOND": "100000",
    "CLIENT_EVENTS_BURST": "100000",
    "CHAT_RATE_PER_SECOND": "1000",
    "CHAT_RATE_BURST": "1000",
    "MAX_SOCKETS_PER_USER": "100000",
}


def serve(argv: list[str]) -> None:
    """`--serve MODULE ARGS…`: run the server module from the working directory (the
    target's tree) with a SIGUSR1 handler that collects garbage."""
    import gc

    signal.signal(signal.SIGUSR1, lambda *_: gc.collect())
    serve_module(argv)


def frame(join_ref: str | None, ref: str | None, topic: str, event: str, payload: dict) -> str:
    return json.dumps([join_ref, ref, topic, event, payload])


class Pair:
    """A student chatting at PAIR_RATE in their session; the coach times each line."""

    def __init__(self, url: str, topic: str, tokens: tuple[str, str]) -> None:
        self.url, self.topic, self.tokens = url, topic, tokens
        self.received: list[tuple[float, float]] = []  # (received at, latency ms)
        self._stop = asyncio.Event()

    async def run(self, ready: asyncio.Event) -> None:
        import websockets

        async with (
            websockets.connect(f"{self.url}?vsn=2.0.0&token={self.tokens[0]}") as student,
            websockets.connect(f"{self.url}?vsn=2.0.0&token={self.tokens[1]}") as coach,
        ):
            for ws in (student, coach):
                await ws.send(frame("1", "1", self.topic, "phx_join", {}))
                while json.loads(await ws.recv())[3] != "phx_reply":
                    pass
            reader = asyncio.create_task(self._read(coach))
            drainer = asyncio.create_task(self._drain(student))
            ready.set()
            start, n = time.monotonic(), 0
            while not self._stop.is_set():
                n += 1
                scheduled = start + n / PAIR_RATE
                await asyncio.sleep(max(0.0, scheduled - time.monotonic()))
                message = {"message": repr(scheduled)}
                await student.send(frame("1", str(n + 1), self.topic, "chat:new", message))
            await asyncio.sleep(1)
            reader.cancel()
            drainer.cancel()

    async def _read(self, coach) -> None:
        async for text in coach:
            f = json.loads(text)
            if f[3] == "chat:added":
                now = time.monotonic()
                self.received.append((now, (now - float(f[4]["message"])) * 1000))

    async def _drain(self, student) -> None:
        async for _ in student:
            pass

    def stop(self) -> None:
        self._stop.set()

    def between(self, start: float, end: float) -> dict:
        values = sorted(ms for at, ms in self.received if start <= at < end)
        if len(values) < 3:
            return {"n": len(values)}
        q = statistics.quantiles(values, n=100)
        return {"n": len(values), "p50": round(q[49], 1), "p99": round(q[98], 1)}


class Crowd:
    """One user's sockets in one session; counts the presence frames they are sent."""

    def __init__(self, url: str, topic: str, token: str) -> None:
        self.url, self.topic, self.token = url, topic, token
        self.sockets: list = []
        self.readers: list[asyncio.Task] = []
        self.frames = {"presence:state": 0, "presence:diff": 0}
        self.bytes = {"presence:state": 0, "presence:diff": 0}
        self.last_frame = time.monotonic()
        self.failed = 0

    async def _open_one(self) -> None:
        import websockets

        try:
            ws = await websockets.connect(
                f"{self.url}?vsn=2.0.0&token={self.token}", open_timeout=60, max_size=None
            )
        except (OSError, websockets.WebSocketException):
            self.failed += 1
            return
        await ws.send(frame("1", "1", self.topic, "phx_join", {}))
        while True:
            text = await ws.recv()
            self._count(text)
            f = json.loads(text)
            if f[3] == "phx_reply":
                break
        if f[4]["status"] != "ok":
            self.failed += 1
            await ws.close()
            return
        while json.loads(text)[3] != "presence:state":
            text = await ws.recv()
            self._count(text)
        self.sockets.append(ws)
        self.readers.append(asyncio.create_task(self._read(ws)))

    def _count(self, text: str) -> None:
        for event in self.frames:
            if f'"{event}"' in text[:200]:
                self.frames[event] += 1
                self.bytes[event] += len(text)
                self.last_frame = time.monotonic()

    async def _read(self, ws) -> None:
        try:
            async for text in ws:
                self._count(text)
        except Exception:
            pass

    async def open(self, count: int) -> None:
        for start in range(0, count, OPEN_AT_ONCE):
            batch = min(OPEN_AT_ONCE, count - start)
            await asyncio.gather(*(self._open_one() for _ in range(batch)))

    async def settled(self) -> None:
        """Until no presence frame has come for QUIET seconds."""
        while True:
            quiet_for = time.monotonic() - self.last_frame
            if quiet_for >= QUIET:
                return
            await asyncio.sleep(QUIET - quiet_for)

    async def close(self) -> None:
        await asyncio.gather(*(ws.close() for ws in self.sockets), return_exceptions=True)
        for reader in self.readers:
            reader.cancel()


def collected_rss(target) -> int:
    """The server's RSS in KiB once it has collected its garbage."""
    from bench.harness.targets import rss_kib

    for pid in target.pids:
        os.kill(pid, signal.SIGUSR1)
    time.sleep(0.5)  # the collection runs on the server's next turn (not an ordering)
    return rss_kib(target.pids[0])


async def scenario(target, url: str, crowd_topic: str, crowd_token: str, pair: Pair, n: int):
    ready = asyncio.Event()
    chatting = asyncio.create_task(pair.run(ready))
    await ready.wait()
    marks = {"start": time.monotonic()}
    await asyncio.sleep(4)  # the pair alone
    marks["opening"] = time.monotonic()
    rss = {"before": await asyncio.to_thread(collected_rss, target)}
    cpu0 = target.cpu()
    crowd = Crowd(url, crowd_topic, crowd_token)
    await crowd.open(n)
    opened_in = time.monotonic() - marks["opening"]
    await crowd.settled()
    marks["holding"] = time.monotonic()
    cpu_open = target.cpu() - cpu0
    await asyncio.sleep(3)
    rss["open"] = await asyncio.to_thread(collected_rss, target)
    marks["closing"] = time.monotonic()
    cpu1 = target.cpu()
    await crowd.close()
    await asyncio.sleep(3)  # the leaves (and their diffs to the sockets not yet closed)
    cpu_close = target.cpu() - cpu1
    marks["after"] = time.monotonic()
    await asyncio.sleep(4)
    marks["end"] = time.monotonic()
    rss["after"] = await asyncio.to_thread(collected_rss, target)
    # Again: memory freed by the first round serves the second (the process does not
    # grow), though the allocator keeps it from the system.
    again = Crowd(url, crowd_topic, crowd_token)
    await again.open(n)
    await again.settled()
    await again.close()
    await asyncio.sleep(3)
    rss["after_again"] = await asyncio.to_thread(collected_rss, target)
    pair.stop()
    await chatting
    phases = ["start", "opening", "holding", "closing", "after", "end"]
    latency = {
        name: pair.between(marks[name], marks[phases[i + 1]]) for i, name in enumerate(phases[:-1])
    }
    return {
        "sockets": len(crowd.sockets),
        "failed": crowd.failed,
        "opened_s": round(opened_in, 2),
        "states": crowd.frames["presence:state"],
        "state_mb": round(crowd.bytes["presence:state"] / 1e6, 2),
        "diffs": crowd.frames["presence:diff"],
        "diffs_per_join": round(crowd.frames["presence:diff"] / max(len(crowd.sockets), 1), 1),
        "diff_mb": round(crowd.bytes["presence:diff"] / 1e6, 2),
        "cpu_s_open": round(cpu_open, 2),
        "cpu_s_close": round(cpu_close, 2),
        "rss_mib": {k: round(v / 1024, 1) for k, v in rss.items()},
        "pair_ms": {k: v for k, v in latency.items() if k != "start"} | {"alone": latency["start"]},
    }


def main() -> None:
    parser = command_line(__doc__.splitlines()[0], serve)
    if parser is None:
        return
    parser.add_argument("--sockets", default="50,500")
    args = parser.parse_args()
    from bench.harness import fixtures

    fixtures.setup_django()
    for count in [int(c) for c in args.sockets.split(",")]:
        for name in args.targets.split(","):
            (crowd_topic, crowd_token, _), (pair_topic, student, coach) = fixtures.project_sessions(
                2
            )
            env = {**os.environ, **fixtures.SERVER_ENV, **LIMITS}
            target = wrapped_target(name, env, PORT, Path(__file__))
            target.start()
            try:
                url = target.urls[0]
                pair = Pair(url, pair_topic, (student, coach))
                result = asyncio.run(scenario(target, url, crowd_topic, crowd_token, pair, count))
            finally:
                target.stop()
            print(name, count, json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
