"""W1-W4 (issue 8). Each takes started servers and the generator fleet, returns figures."""

import threading
import time
from argparse import Namespace
from collections.abc import Callable
from typing import Any

import redis

from bench.harness import fixtures, machine
from bench.harness.fleet import Fleet
from bench.harness.stats import delivery_summary, join_summary
from bench.harness.targets import Target


def _sessions(target: Target, count: int, members: int) -> list[dict]:
    make = fixtures.project_sessions if target.kind == "project" else fixtures.floor_sessions
    together = target.placement == "affinity"
    return fixtures.specs(make(count), target.urls, members, together=together)


def _redis_publishes() -> int:
    """PUBLISH commands the bench Redis has run (all clients: give the bench a Redis of
    its own, BENCH_REDIS_URL, for a figure that is the servers' alone)."""
    stats = redis.Redis.from_url(fixtures.REDIS_URL).info("commandstats")
    return stats.get("cmdstat_publish", {}).get("calls", 0)


def _timed_run(
    target: Target,
    fleet: Fleet,
    opts: Namespace,
    *,
    rate: float,
    warmup: float,
    duration: float,
    sessions: int,
) -> dict[str, Any]:
    """One open-loop run. The server's CPU is sampled over the measured window and the
    grace after it (late deliveries are part of the cost); where the machine's CPU went,
    over the measured window alone (the load as offered)."""
    samples: dict[str, Any] = {}

    def start() -> None:
        samples["start"] = target.cpu()
        samples["publishes"] = _redis_publishes()
        samples["machine"] = machine.sample(target.pids, fleet.pids)

    def end() -> None:
        samples["machine_end"] = machine.sample(target.pids, fleet.pids)

    lead = 0.3 + warmup  # Fleet.run starts its schedule 0.3 s after the call
    timers = [threading.Timer(lead, start), threading.Timer(lead + duration, end)]
    for timer in timers:
        timer.start()
    run = fleet.run(
        rate=rate, warmup=warmup, duration=duration, deadline=opts.deadline, sessions=sessions
    )
    for timer in timers:
        timer.join()
    cpu = target.cpu() - samples["start"]
    publishes = _redis_publishes() - samples["publishes"]
    result = delivery_summary(run, duration=duration, cpu_s=cpu, max_lag_ms=opts.max_lag_ms)
    result["redis_publishes_per_1k_deliveries"] = (
        publishes / (run["delivered"] / 1000) if run["delivered"] else None
    )
    result["cores_busy"] = machine.cores(samples["machine"], samples["machine_end"])
    return result


def w1(target: Target, fleet: Fleet, opts: Namespace) -> dict[str, Any]:
    """Steady chat: `sessions` x `members`, `rate` msg/s per session."""
    specs = _sessions(target, opts.sessions, opts.members)
    joins = join_summary(fleet.open(specs, concurrency=100))
    time.sleep(1)
    result = _timed_run(
        target,
        fleet,
        opts,
        rate=opts.rate,
        warmup=opts.warmup,
        duration=opts.duration,
        sessions=len(specs),
    )
    result["rss_kib"] = target.rss()
    result["joins"] = joins
    fleet.close()
    return result


def w2(target: Target, fleet: Fleet, opts: Namespace) -> dict[str, Any]:
    """Step the rate up; the knee is the last step with p99 < 50 ms and nothing lost."""
    specs = _sessions(target, opts.sessions, opts.members)
    joins = join_summary(fleet.open(specs, concurrency=100))
    time.sleep(1)
    steps = []
    knee = None
    failed = False
    for rate in opts.steps:
        step = _timed_run(
            target,
            fleet,
            opts,
            rate=rate,
            warmup=opts.step_warmup,
            duration=opts.step_duration,
            sessions=len(specs),
        )
        step["rate_per_session"] = rate
        p99 = step["latency_ms"]["p99"]
        step["pass"] = step["lost"] == 0 and p99 is not None and p99 < 50 and step["valid"]
        steps.append(step)
        failed = failed or not step["pass"]
        if failed and not opts.all_steps:
            break
        if not failed:
            knee = step["deliveries_per_s"]
        time.sleep(1)
    fleet.close()
    return {"joins": joins, "steps": steps, "knee_deliveries_per_s": knee}


def w3(target: Target, fleet: Fleet, opts: Namespace) -> dict[str, Any]:
    """Reconnect storm: every socket connects and joins at the same instant."""
    storms = []
    for sockets in opts.storm:
        specs = _sessions(target, sockets // 4, 4)
        cpu = target.cpu()
        storm = join_summary(fleet.open(specs, concurrency=0))
        storm["server_cpu_s"] = target.cpu() - cpu
        storms.append(storm)
        fleet.close()
        time.sleep(2)
    return {"storms": storms}


def w4(target: Target, fleet: Fleet, opts: Namespace) -> dict[str, Any]:
    """Memory of idle joined sockets (opened 100 at a time, then left alone)."""
    warm = _sessions(target, 5, 4)  # first connections load lazy imports: not per-socket cost
    fleet.open(warm, concurrency=20)
    fleet.close()
    time.sleep(2)
    points = [{"sockets": 0, "rss_kib": target.rss()}]
    opened = 0
    for level in opts.idle:
        specs = _sessions(target, (level - opened) // 4, 4)
        joins = join_summary(fleet.open(specs, concurrency=100))
        opened = level
        time.sleep(3)
        rss = target.rss()
        points.append(
            {
                "sockets": level,
                "joined": joins["joined"],
                "failed": joins["failed"],
                "rss_kib": rss,
                "kib_per_socket": (rss - points[0]["rss_kib"]) / level,
            }
        )
    fleet.close()
    return {"points": points}


WORKLOADS: dict[str, Callable[[Target, Fleet, Namespace], dict[str, Any]]] = {
    "W1": w1,
    "W2": w2,
    "W3": w3,
    "W4": w4,
}
