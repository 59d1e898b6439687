"""A rolling restart of `make cluster` under load, shared by bench/rolling_restart.py
(the figures) and tests/deploy/test_rolling_restart.py (nothing lost): the cluster run
as an operator runs it, and the run itself (page-like participants chatting through
nginx while every app process is replaced the operator's way, SIGHUP)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.harness.page_client import Participant, now_ns, write_open_loop

ROOT = Path(__file__).resolve().parents[2]
_direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # no http_proxy


def fetch(url: str) -> tuple[int, str]:
    """(status, body) of GET `url`; status 0 when nothing answered."""
    try:
        with _direct.open(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError as error:
        return 0, str(error)


class ClusterRun:
    """`python -m inswing_realtime.cluster` as an operator runs it, its output in
    `log_path`; returns once nginx's /readyz answers 200."""

    def __init__(self, port: int, processes: int, env: dict[str, str], log_path: Path) -> None:
        self.port, self.processes, self.log_path = port, processes, log_path
        self._restart_from = 0  # where the last restart's lines begin in the log
        self._log = open(log_path, "wb")  # closed by stop()
        self.proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "inswing_realtime.cluster"),
                *("--port", str(port), "--processes", str(processes)),
            ],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 120
        while fetch(f"{self.url}/readyz")[0] != 200:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the cluster did not start:\n{self.log()[-3000:]}")
            time.sleep(0.2)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def socket_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/socket/websocket"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def restart(self) -> None:
        """The operator's way: SIGHUP to the pid in .cluster/PORT/cluster.pid."""
        pid = int((ROOT / ".cluster" / str(self.port) / "cluster.pid").read_text())
        self._restart_from = len(self.log())
        os.kill(pid, signal.SIGHUP)

    def restarted(self) -> bool:
        """Whether the last rolling restart has ended (RuntimeError if it stopped short)."""
        log = self.log()[self._restart_from :]
        if "cluster: rolling restart stopped" in log or self.proc.poll() is not None:
            raise RuntimeError(f"the rolling restart stopped:\n{log[-3000:]}")
        return "cluster: rolling restart done" in log

    def app_ports(self) -> list[int]:
        """The ready app processes' ports (each on one of its two)."""
        return [
            p
            for p in range(self.port + 1, self.port + 2 * self.processes + 1)
            if fetch(f"http://127.0.0.1:{p}/readyz")[0] == 200
        ]

    def stop(self) -> None:
        """SIGTERM, as Ctrl-C would; SIGKILL to its group after a minute."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self._log.close()


async def until(condition: Callable[[], bool], seconds: float) -> bool:
    """Poll `condition` every 0.2 s until it holds (True) or `seconds` have passed."""
    for _ in range(int(seconds / 0.2)):
        if condition():
            return True
        await asyncio.sleep(0.2)
    return condition()


def settled(pairs: list[tuple[Participant, Participant]]) -> bool:
    """Every outbox empty and every acknowledged line received by the other one."""
    for a, b in pairs:
        for p, other in ((a, b), (b, a)):
            if p.waiting or any(
                line.acked_at and line.client_msg_id not in other.received for line in p.lines
            ):
                return False
    return True


@dataclass
class Run:
    """What happened when, in monotonic ns, and the samples the caller asked for."""

    joined_s: float
    start: int
    restart_at: int
    restarted_at: int
    end: int
    settled: bool
    lags: list[float] = field(default_factory=list)
    samples: dict[str, Any] = field(default_factory=dict)

    @property
    def windows(self) -> dict[str, tuple[int, int]]:
        """Lines by when they were due: before, during and after the restart."""
        return {
            "before": (self.start, self.restart_at),
            "during": (self.restart_at, self.restarted_at),
            "after": (self.restarted_at, self.end),
        }


async def restart_under_load(
    cluster: ClusterRun,
    pairs: list[tuple[Participant, Participant]],
    *,
    rate: float,
    before: float,
    after: float,
    settle: float,
    sample: Callable[[str], Any] | None = None,
) -> Run:
    """Join every participant, have each write `rate` lines a second (open loop) for
    `before` seconds, restart the cluster the operator's way, go on until `after`
    seconds after it is done, stop writing and wait (`settle` seconds at most) until
    every outbox is empty and every line arrived. `sample(label)` runs (in a thread) at
    the end of `before` ("loaded") and of `after` ("loaded-after-restart")."""
    participants = [p for pair in pairs for p in pair]
    runs = [asyncio.create_task(p.run()) for p in participants]
    samples: dict[str, Any] = {}
    try:
        opened = time.monotonic()
        await asyncio.wait_for(asyncio.gather(*(p.joined.wait() for p in participants)), 120)
        joined_s = time.monotonic() - opened

        lags: list[float] = []
        stop_writing = asyncio.Event()
        start = now_ns() + 200_000_000
        writer = asyncio.create_task(write_open_loop(participants, rate, start, stop_writing, lags))
        await asyncio.sleep(0.2 + before)
        if sample is not None:
            samples["loaded"] = await asyncio.to_thread(sample, "loaded")
        restart_at = now_ns()
        cluster.restart()
        if not await until(cluster.restarted, 600):
            raise RuntimeError(f"the rolling restart did not end:\n{cluster.log()[-3000:]}")
        restarted_at = now_ns()
        await asyncio.sleep(after)
        if sample is not None:
            samples["loaded-after-restart"] = await asyncio.to_thread(
                sample, "loaded-after-restart"
            )
        stop_writing.set()
        await writer
        end = now_ns()
        done = await until(lambda: settled(pairs), settle)
    finally:
        for p in participants:
            await p.stop()
        await asyncio.gather(*runs, return_exceptions=True)
    return Run(joined_s, start, restart_at, restarted_at, end, done, sorted(lags), samples)
