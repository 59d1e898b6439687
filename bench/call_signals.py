"""Call signalling across processes, open loop: how fast a `call:signal` reaches the
other participant, and what relaying it costs.

    .venv/bin/python bench/call_signals.py --sessions 50 --rate 10

Two fresh server processes (on BENCH_DATABASE_URL / BENCH_REDIS_URL) serve `--sessions`
rooms; in each the student is on the first process and the coach on the second, so every
signal crosses processes (published on the coach's own topic, passed to their join).
The student rings, the coach accepts, then the student sends ICE candidates at `--rate`
a second (open loop: candidate k is due at start + offset + k / rate, whether or not the
server keeps up; bench/harness/open_loop.py). The coach times each from its due time.
Printed per target: the signals measured, lost (none 3 s after the last), the coach's
p50/p95/p99/max ms (`latency_ms`), the student's reply p99, the generator's own lag p99
(above 10 ms the run is not valid), and the two servers' CPU-seconds per 1,000 signals.
Figures, not assertions.
"""

import asyncio
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.harness.open_loop import Room, arguments, frame, measure, serve  # noqa: E402

PORT = 18800
# The limits out of the way: the relay, not the limits, is measured.
LIMITS = {
    "CLIENT_EVENTS_PER_SECOND": "1000",
    "CLIENT_EVENTS_BURST": "1000",
    "CALL_SIGNALS_PER_SECOND": "1000",
    "CALL_SIGNALS_BURST": "1000",
}


class CallRoom(Room):
    """One session: the student (first process) sends candidates, the coach (second
    process) times them."""

    def __init__(self, urls: list[str], topic: str, tokens: tuple[str, str], offset: float):
        super().__init__(offset)
        self.urls, self.topic, self.tokens = urls, topic, tokens

    async def _call(self, ws, ref: str, event: str, payload: dict) -> dict:
        await ws.send(frame("1", ref, self.topic, event, payload))
        while True:
            f = json.loads(await ws.recv())
            if f[3] == "phx_reply" and f[1] == ref:
                assert f[4]["status"] == "ok", f
                return f[4]["response"]

    async def run(self, start: float, rate: float, until: float, ready: asyncio.Barrier) -> None:
        import websockets

        async with (
            websockets.connect(f"{self.urls[0]}?vsn=2.0.0&token={self.tokens[0]}") as student,
            websockets.connect(f"{self.urls[1]}?vsn=2.0.0&token={self.tokens[1]}") as coach,
        ):
            for ws in (student, coach):
                await self._call(ws, "1", "phx_join", {})
            ringing = await self._call(student, "2", "call:ring", {})
            await self._call(coach, "2", "call:accept", {"call_id": ringing["call_id"]})
            sent: dict[str, float] = {}
            reading = asyncio.gather(self._coach(coach), self._student(student, sent))
            await ready.wait()
            async for k in self.sends(start, rate, until):
                ref = str(k + 2)
                sent[ref] = self.due[k]
                candidate = {"candidate": f"candidate:{k} 1 udp 2122260223 10.0.0.2 {k} typ host"}
                payload = {"call_id": ringing["call_id"], "kind": "candidate", "data": candidate}
                await student.send(frame("1", ref, self.topic, "call:signal", payload))
            await asyncio.sleep(3)
            reading.cancel()
            await asyncio.gather(reading, return_exceptions=True)

    async def _coach(self, ws) -> None:
        async for text in ws:
            f = json.loads(text)
            if f[3] == "call:signal":
                self.saw(int(f[4]["data"]["candidate"].split()[0].split(":")[1]))

    async def _student(self, ws, sent: dict[str, float]) -> None:
        async for text in ws:
            f = json.loads(text)
            if f[3] == "phx_reply" and f[1] in sent:
                self.acks.append((time.monotonic() - sent.pop(f[1])) * 1000)


def main() -> None:
    args = arguments(__doc__.splitlines()[0], "signals")
    from bench.harness import fixtures

    fixtures.setup_django()
    for name in args.targets.split(","):
        rooms = fixtures.project_sessions(args.sessions)

        def run(urls: list[str], rooms=rooms) -> dict:
            calls = [
                CallRoom(urls, topic, (student, coach), i / len(rooms) / args.rate)
                for i, (topic, student, coach) in enumerate(rooms)
            ]
            return asyncio.run(measure(calls, args.rate, args.warmup, args.duration))

        result, cpu = serve(name, 2, PORT, LIMITS, run)
        sent = args.sessions * args.rate * (args.warmup + args.duration)
        result["servers_cpu_s_per_1k_signals"] = round(cpu / sent * 1000, 3)
        print(name, json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
