"""The parent's side of the load generator: a few worker processes driven in lockstep."""

import multiprocessing
import time
from typing import Any

from bench.harness.generator import now_ns, worker_main


class Fleet:
    def __init__(self, workers: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.pipes = []
        self.procs = []
        for _ in range(workers):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=worker_main, args=(child,), daemon=True)
            proc.start()
            self.pipes.append(parent)
            self.procs.append(proc)

    @property
    def pids(self) -> list[int]:
        return [proc.pid for proc in self.procs]

    def _all(self, command: str, per_worker: list[dict[str, Any]]) -> list[dict]:
        for pipe, kwargs in zip(self.pipes, per_worker, strict=True):
            pipe.send((command, kwargs))
        return [pipe.recv() for pipe in self.pipes]

    def open(self, sessions: list[dict], *, concurrency: int, delay: float = 0.3) -> dict:
        """Connect and join every member of `sessions`; all workers start together."""
        start_at = now_ns() + int(delay * 1e9)
        shares = [sessions[i :: len(self.pipes)] for i in range(len(self.pipes))]
        results = self._all(
            "open",
            [{"sessions": s, "start_at": start_at, "concurrency": concurrency} for s in shares],
        )
        joins = sorted(t for r in results for t in r["join_ms"])
        return {
            "sockets": sum(r["opened"] + r["failed"] for r in results),
            "joined": sum(r["opened"] for r in results),
            "failed": sum(r["failed"] for r in results),
            "failure_samples": [f for r in results for f in r["failure_samples"]][:3],
            "all_joined_s": (max(r["done_at"] for r in results) - start_at) / 1e9,
            "join_ms": joins,
            "generator_cpu_s": sum(r["cpu_s"] for r in results),
        }

    def run(
        self, *, rate: float, warmup: float, duration: float, deadline: float, sessions: int
    ) -> dict:
        start_at = now_ns() + int(0.3 * 1e9)
        kwargs = {
            "start_at": start_at,
            "rate": rate,
            "warmup": warmup,
            "duration": duration,
            "deadline": deadline,
            "total_sessions": sessions,
        }
        results = self._all("run", [kwargs] * len(self.pipes))
        merged: dict[str, Any] = {
            key: sum(r[key] for r in results)
            for key in ("sent", "expected", "delivered", "duplicated", "out_of_order", "errors")
        }
        for key in ("latencies", "acks", "lags"):
            merged[key] = sorted(x for r in results for x in r[key])
        merged["error_samples"] = [e for r in results for e in r["error_samples"]][:3]
        merged["generator_cpu_s"] = sum(r["cpu_s"] for r in results)
        return merged

    def close(self) -> None:
        self._all("close", [{}] * len(self.pipes))

    def quit(self) -> None:
        try:
            self._all("quit", [{}] * len(self.pipes))
        finally:
            for proc in self.procs:
                proc.join(5)
                if proc.is_alive():
                    proc.terminate()
        time.sleep(0.1)
