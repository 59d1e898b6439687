"""Open-loop rooms: each room's sender sends message k at start + offset + k / rate whether
or not the server keeps up, and its receiver times message k from that due time.

A room subclasses `Room` (its `run` joins, sends through `sends` and reads into `seen` and
`acks`); `measure` runs the rooms together and sums them up, `serve` runs a measure
against fresh server processes and adds their CPU; `arguments` reads the command line.
"""

import argparse
import asyncio
import json
import os
import statistics
import time
from collections.abc import AsyncIterator, Callable
from typing import Any


def frame(join_ref: str | None, ref: str | None, topic: str, event: str, payload: dict) -> str:
    return json.dumps([join_ref, ref, topic, event, payload])


def quantiles(values: list[float]) -> dict:
    if len(values) < 3:
        return {"n": len(values)}
    q = statistics.quantiles(values, n=100)
    return {
        "n": len(values),
        "p50": round(q[49], 1),
        "p95": round(q[94], 1),
        "p99": round(q[98], 1),
        "max": round(max(values), 1),
    }


class Room:
    """One room's figures: when each message was due, when its receiver saw it (ms after
    that), the sender's reply times and its own lag behind the schedule."""

    def __init__(self, offset: float) -> None:
        self.offset = offset
        self.due: dict[int, float] = {}
        self.seen: dict[int, float] = {}  # k → ms from its due time to the receiver
        self.acks: list[float] = []
        self.lag: list[float] = []

    async def run(self, start: float, rate: float, until: float, ready: asyncio.Barrier) -> None:
        raise NotImplementedError

    async def sends(self, start: float, rate: float, until: float) -> AsyncIterator[int]:
        """k = 1, 2, … each at its due time (until `until`), its due time recorded."""
        k = 0
        while True:
            k += 1
            due = start + self.offset + k / rate
            if due >= until:
                return
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            self.lag.append((time.monotonic() - due) * 1000)
            self.due[k] = due
            yield k

    def saw(self, k: Any) -> None:
        """The receiver got message k (the first time counts)."""
        if isinstance(k, int) and k in self.due and k not in self.seen:
            self.seen[k] = (time.monotonic() - self.due[k]) * 1000


async def measure(rooms: list[Room], rate: float, warmup: float, duration: float) -> dict:
    """Run the rooms (joining first), then: the messages due after the warmup, those never
    seen (lost), the receivers' latency, the senders' reply p99 and the generator's lag
    p99 (above 10 ms the run is not the load asked for: `valid` false)."""
    start = time.monotonic() + 3  # the joins first
    until = start + warmup + duration
    ready = asyncio.Barrier(len(rooms) + 1)
    runs = asyncio.gather(*(room.run(start, rate, until, ready) for room in rooms))
    await ready.wait()
    await runs
    measured_from = start + warmup
    latencies, acks, lags, lost, measured = [], [], [], 0, 0
    for room in rooms:
        for k, due in room.due.items():
            if due < measured_from:
                continue
            measured += 1
            if k in room.seen:
                latencies.append(room.seen[k])
            else:
                lost += 1
        acks += room.acks
        lags += room.lag
    lag = quantiles(lags)
    return {
        "measured": measured,
        "lost": lost,
        "latency_ms": quantiles(latencies),
        "ack_p99_ms": quantiles(acks).get("p99"),
        "lag_p99_ms": lag.get("p99"),
        "valid": (lag.get("p99") or 0) <= 10,
    }


def arguments(description: str, what: str) -> argparse.Namespace:
    """The command line every open-loop bench takes (`what`: what a room sends)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--targets", default="project")
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--rate", type=float, default=10.0, help=f"{what} a second per room")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--duration", type=float, default=30.0)
    return parser.parse_args()


def serve(
    name: str, processes: int, port: int, limits: dict[str, str], run: Callable[[list[str]], dict]
) -> tuple[dict, float]:
    """`run(urls)` against `processes` fresh server processes of target `name` (this
    checkout, or `project@REF`): its result and the servers' CPU-seconds meanwhile."""
    from bench.harness import fixtures, targets

    _, _, ref = name.partition("@")
    source = targets.source_of(ref) if ref else targets.ROOT
    env = {**os.environ, **fixtures.SERVER_ENV, **limits}
    target = targets.Target("project", processes, port, env, source=source)
    target.start()
    try:
        cpu0 = target.cpu()
        result = run(target.urls)
        return result, target.cpu() - cpu0
    finally:
        target.stop()
