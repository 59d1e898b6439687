"""What stalls a server's event loop: a probe inside the server, and its summary.

    LOOP_PROBE=/tmp/probe .venv/bin/python bench/run.py --workload W1 --servers 1 ...
    .venv/bin/python bench/harness/loop_probe.py /tmp/probe [--after S] [--until S]

(`--after`/`--until`: seconds since the server started, or Unix times, e.g. a window
bench/close_storm.py printed.)

With `LOOP_PROBE=DIR` in a daphne target's environment (bench/harness/targets.py) the
server runs under this file's `--serve` wrapper. A thread asks the loop for a callback
every LAG_EVERY s; while the answer is late by SAMPLE_AFTER s or more it samples the
loop thread's Python stack (`sys._current_frames`, whenever the thread gets the GIL) every
SAMPLE_EVERY s. Each stall of STALL_MS or more is written to `DIR/loop-<pid>.jsonl`
with its wall time, the loop thread's time on a CPU and waiting for one during it
(`/proc/self/task/TID/schedstat`: the machine's share), the collector's pauses in it
(`gc.callbacks`) and the stacks sampled, outermost frame first, the loop's own frames
left out. The summary groups the stalls by the outermost frame of their samples (the
callback or task that was running) and prints the stacks most sampled. The lag thread
costs the loop ~200 wake-ups a second. Figures, not assertions.
"""

import argparse
import collections
import gc
import json
import os
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAG_EVERY = 0.005
SAMPLE_AFTER = 0.004
SAMPLE_EVERY = 0.002
STALL_MS = 10.0
LAG_BUCKETS_MS = (5, 10, 20, 50, 100, 200)


def _schedstat(tid: int) -> tuple[int, int]:
    """(ns on a CPU, ns waiting for one) of thread `tid` so far."""
    on_cpu, waiting, _ = Path(f"/proc/self/task/{tid}/schedstat").read_text().split()
    return int(on_cpu), int(waiting)


def _steal_ticks() -> int:
    """The machine's stolen ticks (the hypervisor ran something else) so far."""
    with open("/proc/stat") as f:
        fields = f.readline().split()
    return int(fields[8]) if len(fields) > 8 else 0


def _where(frame) -> str:
    code = frame.f_code
    return f"{code.co_qualname} ({Path(code.co_filename).name}:{frame.f_lineno})"


class LoopProbe:
    def __init__(self, directory: str) -> None:
        Path(directory).mkdir(parents=True, exist_ok=True)
        self.out = open(Path(directory) / f"loop-{os.getpid()}.jsonl", "a", buffering=1)
        self.started = time.perf_counter()
        self.gc_pauses: list[tuple[float, float, int]] = []  # (end, ms, generation)
        self._gc_started = 0.0
        self.lags = collections.Counter()
        self.base_depth = 0  # the loop's own frames under every callback

    def install(self) -> None:
        self.out.write(json.dumps({"pid": os.getpid(), "cwd": os.getcwd()}) + "\n")
        gc.callbacks.append(self._on_gc)
        threading.Thread(target=self._watch, name="loop-probe", daemon=True).start()

    def _on_gc(self, phase: str, info: dict) -> None:
        now = time.perf_counter()
        if phase == "start":
            self._gc_started = now
            return
        ms = (now - self._gc_started) * 1000
        if ms >= 1:
            self.gc_pauses.append((now, ms, info["generation"]))
            del self.gc_pauses[:-200]

    def _stack(self, frame) -> tuple[str, ...]:
        frames = []
        while frame is not None:
            frames.append(frame)
            frame = frame.f_back
        frames.reverse()
        return tuple(_where(f) for f in frames[self.base_depth :])

    def _answer(self, done: threading.Event) -> None:
        if not self.base_depth:
            depth, frame = 0, sys._getframe(1)
            while frame is not None:
                depth, frame = depth + 1, frame.f_back
            self.base_depth = depth
        done.set()

    def _watch(self) -> None:
        loop = None
        while loop is None:
            reactor = sys.modules.get("twisted.internet.reactor")
            loop = getattr(reactor, "_asyncioEventloop", None)
            time.sleep(0.1)
        main = threading.main_thread()
        samples: collections.Counter[tuple[str, ...]] = collections.Counter()
        while True:
            before = _schedstat(main.native_id)
            steal = _steal_ticks()
            asked = time.perf_counter()
            done = threading.Event()
            loop.call_soon_threadsafe(self._answer, done)
            samples.clear()
            while not done.wait(SAMPLE_EVERY):
                if time.perf_counter() - asked >= SAMPLE_AFTER:
                    frame = sys._current_frames().get(main.ident)
                    if frame is not None:
                        samples[self._stack(frame)] += 1
                    del frame
            answered = time.perf_counter()
            lag_ms = (answered - asked) * 1000
            self.lags[next((b for b in LAG_BUCKETS_MS if lag_ms < b), "more")] += 1
            if lag_ms >= STALL_MS:
                self._record(asked, answered, lag_ms, before, steal, main.native_id, samples)
            time.sleep(LAG_EVERY)

    def _record(self, asked, answered, lag_ms, before, steal, tid, samples) -> None:
        after = _schedstat(tid)
        pauses = [(round(ms, 1), g) for end, ms, g in self.gc_pauses if asked <= end <= answered]
        stall = {
            "t": round(asked - self.started, 3),
            "at": round(time.time() - (answered - asked), 3),
            "ms": round(lag_ms, 1),
            "cpu_ms": round((after[0] - before[0]) / 1e6, 1),
            "runqueue_ms": round((after[1] - before[1]) / 1e6, 1),
            "steal_ticks": _steal_ticks() - steal,
            "gc": pauses,
            "samples": [[list(stack), n] for stack, n in samples.most_common()],
            "lags": dict(self.lags),
        }
        self.out.write(json.dumps(stall) + "\n")


def serve(argv: list[str]) -> None:
    """`--serve MODULE ARGS…`: the server module with the probe (LOOP_PROBE: where)."""
    sys.path.insert(0, str(ROOT))
    from bench.harness.wrapped import serve_module

    LoopProbe(os.environ["LOOP_PROBE"]).install()
    serve_module(argv)


def _root(stack: list[str]) -> str:
    return stack[0].split(" (")[0] if stack else "(no Python frame: C code or idle)"


def summarize(path: Path, after: float, until: float, top: int) -> str:
    lines = []
    for log in sorted(path.glob("loop-*.jsonl")):
        rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
        clock = "at" if after > 1e9 else "t"  # --after/--until: Unix times, or since start
        head, stalls = rows[0], [r for r in rows[1:] if after <= r[clock] <= until]
        lines.append(f"## {log.name} (served from {head['cwd']})")
        lines.append(
            f"stalls >= {STALL_MS:g} ms in [{after:g}, {until:g}] s: {len(stalls)}; "
            f"> 20 ms: {sum(1 for s in stalls if s['ms'] > 20)}; "
            f"> 50 ms: {sum(1 for s in stalls if s['ms'] > 50)}"
        )
        if not stalls:
            continue
        wall = sum(s["ms"] for s in stalls)
        cpu = sum(s["cpu_ms"] for s in stalls)
        queued = sum(s["runqueue_ms"] for s in stalls)
        gc_ms = sum(ms for s in stalls for ms, _ in s["gc"])
        lines.append(
            f"in them: wall {wall:.0f} ms, the loop thread on a CPU {cpu:.0f} ms, waiting "
            f"for one {queued:.0f} ms, collector {gc_ms:.0f} ms, stolen ticks "
            f"{sum(s['steal_ticks'] for s in stalls)}"
        )
        lines.append("")
        lines.append("| t s | wall ms | CPU ms | run-queue ms | gc ms (gen) | what ran (samples) |")
        lines.append("|---|---|---|---|---|---|")
        for s in sorted(stalls, key=lambda s: -s["ms"])[:top]:
            roots = collections.Counter()
            for stack, n in s["samples"]:
                roots[_root(stack)] += n
            ran = ", ".join(f"{r} ({n})" for r, n in roots.most_common(4)) or "(not sampled)"
            gcs = ", ".join(f"{ms} ({g})" for ms, g in s["gc"]) or "-"
            lines.append(
                f"| {s['t']} | {s['ms']} | {s['cpu_ms']} | {s['runqueue_ms']} | {gcs} | {ran} |"
            )
        by_root: dict[str, list] = collections.defaultdict(lambda: [0, 0, 0.0])
        stacks = collections.Counter()
        for s in stalls:
            roots = collections.Counter()
            for stack, n in s["samples"]:
                roots[_root(stack)] += n
                stacks[" ; ".join(f.split(" (")[0] for f in stack[-8:])] += n
            for root, n in roots.items():
                entry = by_root[root]
                entry[0] += 1
                entry[1] += n
                entry[2] += s["cpu_ms"] * n / sum(roots.values())
        lines.append("")
        lines.append("| outermost frame sampled in stalls | stalls | samples | CPU ms (shared) |")
        lines.append("|---|---|---|---|")
        for root, (count, n, share) in sorted(by_root.items(), key=lambda kv: -kv[1][1])[:top]:
            lines.append(f"| {root} | {count} | {n} | {share:.0f} |")
        lines.append("")
        lines.append("Stacks most sampled in stalls (innermost 8 frames):")
        for stack, n in stacks.most_common(top):
            lines.append(f"- {n}: {stack}")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        serve(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument(
        "--after", type=float, default=0.0, help="s after the server start, or a Unix time"
    )
    parser.add_argument("--until", type=float, default=float("inf"))
    parser.add_argument("--top", type=int, default=15)
    opts = parser.parse_args()
    print(summarize(opts.directory, opts.after, opts.until, opts.top))


if __name__ == "__main__":
    main()
