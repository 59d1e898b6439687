"""Where the machine's CPU went over a window: the servers, the load generator,
PostgreSQL, Redis and everything else, in cores busy (CPU-seconds per second).

On a 2-core machine that runs all of them, this is what says whether a run was
limited by the server's own work or by the machine being full."""

import os
import time
from dataclasses import dataclass
from pathlib import Path

from bench.harness.targets import CLOCK_TICKS, cpu_seconds

SERVICES = {"postgres": "postgres", "redis": "redis-server"}


@dataclass(frozen=True)
class Sample:
    at: float  # monotonic seconds
    busy: float  # CPU-seconds of every core, all processes (/proc/stat)
    processes: dict[str, dict[int, float]]  # group → pid → CPU-seconds


def _busy_seconds() -> float:
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / CLOCK_TICKS


def _by_name() -> dict[str, dict[int, float]]:
    groups: dict[str, dict[int, float]] = {group: {} for group in SERVICES}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            comm = Path(entry.path, "comm").read_text().strip()
            for group, name in SERVICES.items():
                if comm == name:
                    groups[group][int(entry.name)] = cpu_seconds(int(entry.name))
        except (OSError, ValueError):
            continue  # gone meanwhile
    return groups


def sample(server_pids: list[int], generator_pids: list[int]) -> Sample:
    processes = _by_name()
    for group, pids in (("server", server_pids), ("generator", generator_pids)):
        processes[group] = {}
        for pid in pids:
            try:
                processes[group][pid] = cpu_seconds(pid)
            except (OSError, ValueError):
                pass
    return Sample(time.monotonic(), _busy_seconds(), processes)


def cores(start: Sample, end: Sample) -> dict[str, float]:
    """Cores busy per group between two samples; `machine` is all of them together,
    `other` what no group accounts for. A process started meanwhile counts in full."""
    wall = end.at - start.at
    out = {}
    for group, pids in end.processes.items():
        before = start.processes.get(group, {})
        used = sum(cpu - before.get(pid, 0.0) for pid, cpu in pids.items())
        out[group] = used / wall
    out["machine"] = (end.busy - start.busy) / wall
    out["other"] = max(0.0, out["machine"] - sum(v for k, v in out.items() if k != "machine"))
    return out
