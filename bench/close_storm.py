"""What closing many sockets at once leaves behind: cyclic garbage and loop stalls.

    .venv/bin/python bench/close_storm.py --targets project@REF,project --sockets 1000

For each target (this checkout, or `project@REF` for an older commit) a fresh server
process (one, on BENCH_DATABASE_URL / BENCH_REDIS_URL) runs two rounds: `--sockets`
joined sockets (sessions of four: student, coach and a second tab of each; opened 100 at
a time) all close at once; three seconds later the server collects its garbage in full,
on its event loop, as the collector's own full collection would. Printed per round: the
objects that collection found unreachable (per closed socket) and the types most found
among them (`gc.DEBUG_SAVEALL`), how long it held the loop (wall and CPU time: on a busy
machine the wall time varies with the load), the objects the collector still tracks,
and the event loop's worst lag and the collector's pauses (`gc.callbacks`) while the
sockets closed (`closing`) and while their leave checks ran, GRACE seconds after
(`leave_checks`: LEAVE_NOTICE_GRACE is set to GRACE), with the loop thread's CPU time in
each (`loop_cpu_ms`). With LOOP_PROBE=DIR the server
also runs bench/harness/loop_probe.py's probe (what ran in each stall); with `--profile
DIR`, py-spy profiles each round's two windows (`--gil`, raw, 3 s each). With
CLOSE_STORM_CYCLES=TypeName,… the shortest reference cycle through
an object of each type named is printed too (how the cycles were found). The server
runs under this script's `--serve` wrapper, which records loop lag (a thread asks the
loop for a callback every 5 ms) and the collector's pauses, and answers SIGUSR1 (write
the figures so far, then start anew) and SIGUSR2 (a full collection with its census).
Figures, not assertions.
"""

import asyncio
import collections
import gc
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.harness.loop_probe import LoopProbe  # noqa: E402
from bench.harness.wrapped import command_line, serve_module, wrapped_target  # noqa: E402

PORT = 18911
OPEN_AT_ONCE = 100
LAG_EVERY = 0.005
STALL_MS = 20.0
LIMITS = {"MAX_SOCKETS_PER_USER": "100000"}
# The leave checks (coaching/realtime/departures.py) run this long after the closes:
# after the close's window, within the round.
GRACE = 5.0


class Probe:
    """In the server: the collector's pauses and the event loop's lag, written to
    `path` on SIGUSR1 (and reset); SIGUSR2 runs a timed full collection."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.pauses: list[tuple[int, float, int]] = []  # (generation, ms, collected)
        self.lags: list[float] = []
        self._gc_started = 0.0
        self.loop: asyncio.AbstractEventLoop | None = None
        self._cpu = 0.0  # the loop thread's CPU time at the last dump

    def install(self) -> None:
        self._cpu = time.thread_time()
        gc.callbacks.append(self._on_gc)
        signal.signal(signal.SIGUSR1, lambda *_: self.dump())
        signal.signal(signal.SIGUSR2, lambda *_: self.collect())
        threading.Thread(target=self._sample_lag, daemon=True).start()

    def _on_gc(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            ms = (time.perf_counter() - self._gc_started) * 1000
            with self.lock:
                self.pauses.append((info["generation"], ms, info["collected"]))

    def _sample_lag(self) -> None:
        while self.loop is None:
            reactor = sys.modules.get("twisted.internet.reactor")
            self.loop = getattr(reactor, "_asyncioEventloop", None)
            time.sleep(0.1)
        while True:
            asked = time.perf_counter()
            done = threading.Event()

            def answer(asked: float = asked, done: threading.Event = done) -> None:
                with self.lock:
                    self.lags.append((time.perf_counter() - asked) * 1000)
                done.set()

            self.loop.call_soon_threadsafe(answer)
            done.wait()
            time.sleep(LAG_EVERY)

    def dump(self, extra: dict | None = None) -> None:
        with self.lock:
            pauses, lags = self.pauses, self.lags
            self.pauses, self.lags = [], []
        cpu, self._cpu = self._cpu, time.thread_time()  # signal handlers: the loop's thread
        figures = {
            "loop_cpu_ms": round((self._cpu - cpu) * 1000),
            "max_lag_ms": round(max(lags, default=0.0), 1),
            "stalls_over_20ms": sum(1 for lag in lags if lag > STALL_MS),
            "gc_pauses_over_20ms": [(g, round(ms, 1), c) for g, ms, c in pauses if ms > STALL_MS],
            "full_collections": sum(1 for g, _, _ in pauses if g == 2),
            **(extra or {}),
        }
        Path(self.path).write_text(json.dumps(figures))

    def collect(self) -> None:
        gc.set_debug(gc.DEBUG_SAVEALL)
        started, cpu = time.perf_counter(), time.thread_time()
        found = gc.collect()
        ms = (time.perf_counter() - started) * 1000
        cpu_ms = (time.thread_time() - cpu) * 1000
        gc.set_debug(0)
        census = collections.Counter(type(o).__qualname__ for o in gc.garbage)
        cycles = cycles_through(gc.garbage, os.environ.get("CLOSE_STORM_CYCLES", ""))
        gc.garbage.clear()
        gc.collect()  # now free them (saved, they still hold each other)
        self.dump(
            {
                "collected": found,
                "collect_ms": round(ms, 1),
                "collect_cpu_ms": round(cpu_ms, 1),
                "tracked": len(gc.get_objects()),
                "census": census.most_common(25),
                "cycles": cycles,
            }
        )


def _step(holder: object, held: object) -> str:
    """How `holder` refers to `held`, for reading a cycle."""
    if isinstance(holder, dict):
        for key, value in holder.items():
            if value is held:
                return f"[{key!r}]"
    return f"({type(holder).__qualname__})"


def cycles_through(garbage: list, type_names: str) -> dict[str, list[str]]:
    """For each type named (comma-separated), the shortest reference cycle through
    the first of its objects in `garbage`, as the types and keys along it."""
    found = {}
    ids = {id(o) for o in garbage}
    for name in filter(None, type_names.split(",")):
        start = next((o for o in garbage if type(o).__qualname__ == name), None)
        if start is None:
            continue
        parents: dict[int, object] = {}
        objects = {id(start): start}
        frontier = [start]
        while frontier and id(start) not in parents:
            following = []
            for holder in frontier:
                for held in gc.get_referents(holder):
                    if id(held) in ids and id(held) not in parents and held is not holder:
                        parents[id(held)] = holder
                        objects[id(held)] = held
                        following.append(held)
            frontier = following
        path, at = [], start
        while id(at) in parents and len(path) < 40:
            holder = parents[id(at)]
            path.append(f"{_step(holder, at)}{type(at).__qualname__}")
            at = holder
            if at is start:
                break
        found[name] = list(reversed(path))
    return found


def serve(argv: list[str]) -> None:
    """`--serve MODULE ARGS…`: the server module, from the working directory (the
    target's tree), with the probe (CLOSE_STORM_PROBE: where it writes)."""
    Probe(os.environ["CLOSE_STORM_PROBE"]).install()
    if "CLOSE_STORM_LOOP_PROBE" in os.environ:
        LoopProbe(os.environ["CLOSE_STORM_LOOP_PROBE"]).install()
    serve_module(argv)


def frame(ref: str, topic: str, event: str) -> str:
    return json.dumps([ref, ref, topic, event, {}])


async def open_socket(url: str, topic: str, token: str):
    import websockets

    ws = await websockets.connect(
        f"{url}?vsn=2.0.0&token={token}", open_timeout=60, max_size=None, max_queue=None
    )
    await ws.send(frame("1", topic, "phx_join"))
    while True:
        f = json.loads(await ws.recv())
        if f[3] == "phx_reply" and f[1] == "1":
            if f[4]["status"] != "ok":
                raise RuntimeError(f"join refused: {f[4]}")
            return ws


async def open_all(url: str, members: list[tuple[str, str]]) -> list:
    sockets = []
    for start in range(0, len(members), OPEN_AT_ONCE):
        batch = members[start : start + OPEN_AT_ONCE]
        sockets += await asyncio.gather(*(open_socket(url, t, tok) for t, tok in batch))
    return sockets


def probe_read(pid: int, path: Path, sig: int) -> dict:
    path.unlink(missing_ok=True)
    os.kill(pid, sig)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if path.exists() and path.stat().st_size:
            time.sleep(0.05)
            return json.loads(path.read_text())
        time.sleep(0.05)
    raise RuntimeError("the server's probe did not answer")


def py_spy(pid: int, out: Path, seconds: float) -> subprocess.Popen:
    """A py-spy profile (`--gil`, raw) of the server for `seconds` (summarized with
    bench/harness/profile_summary.py)."""
    command = [str(ROOT / ".venv/bin/py-spy"), "record", "--pid", str(pid), "--gil"]
    command += ["--rate", "250", "--format", "raw", "--duration", str(round(seconds))]
    return subprocess.Popen([*command, "-o", str(out)], stdout=subprocess.DEVNULL)


async def round_of(
    url: str, members: list[tuple[str, str]], pid: int, path: Path, profile: Path | None
) -> dict:
    """One round; with `profile` (a path's stem), py-spy profiles of the closes' window
    (`profile`-closing.txt) and of the leave checks' (`profile`-leave-checks.txt)."""
    sockets = await open_all(url, members)
    await asyncio.sleep(2)
    await asyncio.to_thread(probe_read, pid, path, signal.SIGUSR2)  # a clean start
    await asyncio.to_thread(probe_read, pid, path, signal.SIGUSR1)
    profiling = []
    if profile:
        profiling.append(py_spy(pid, profile.with_name(f"{profile.name}-closing.txt"), 3))
        await asyncio.sleep(0.5)  # attached
    started, closed_at = time.monotonic(), time.time()
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    closed_s = time.monotonic() - started
    await asyncio.sleep(3)
    closing = await asyncio.to_thread(probe_read, pid, path, signal.SIGUSR1)
    collection = await asyncio.to_thread(probe_read, pid, path, signal.SIGUSR2)
    if profile:
        await asyncio.sleep(started + GRACE - 0.5 - time.monotonic())
        checks = profile.with_name(f"{profile.name}-leave-checks.txt")
        profiling.append(py_spy(pid, checks, 3))
    await asyncio.sleep(started + GRACE + 3 - time.monotonic())
    leave_checks = await asyncio.to_thread(probe_read, pid, path, signal.SIGUSR1)
    for proc in profiling:
        await asyncio.to_thread(proc.wait)
    return {
        "sockets": len(sockets),
        "closed_s": round(closed_s, 2),
        "closed_at": round(closed_at, 3),  # Unix time (loop_probe.py's --after)
        "closing": closing,
        "leave_checks": leave_checks,
        "collected": collection["collected"],
        "collected_per_socket": round(collection["collected"] / len(sockets), 1),
        "collect_ms": collection["collect_ms"],
        "collect_cpu_ms": collection["collect_cpu_ms"],
        "tracked_objects": collection["tracked"],
        "census": collection["census"],
        "cycles": collection["cycles"],
    }


def main() -> None:
    parser = command_line(__doc__.splitlines()[0], serve)
    if parser is None:
        return
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument(
        "--profile", type=Path, help="a directory: py-spy profiles of each round's windows"
    )
    args = parser.parse_args()
    from bench.harness import fixtures

    fixtures.setup_django()
    path = Path(tempfile.gettempdir()) / f"close-storm-probe-{os.getpid()}.json"
    for name in args.targets.split(","):
        env = {**os.environ, **fixtures.SERVER_ENV, **LIMITS, "CLOSE_STORM_PROBE": str(path)}
        env["LEAVE_NOTICE_GRACE"] = str(GRACE)
        if "LOOP_PROBE" in env:  # the loop probe goes in this script's own wrapper
            env["CLOSE_STORM_LOOP_PROBE"] = env.pop("LOOP_PROBE")
        target = wrapped_target(name, env, args.port, Path(__file__))
        target.start()
        try:
            for n in range(2):
                sessions = fixtures.project_sessions(args.sockets // 4)
                members = [(t, tok) for t, s, c in sessions for tok in (s, c, s, c)]
                profile = None
                if args.profile:
                    args.profile.mkdir(parents=True, exist_ok=True)
                    label = name.replace("@", "-").replace("/", "-")
                    profile = args.profile / f"{label}-{target.pids[0]}-r{n + 1}"
                result = asyncio.run(
                    round_of(target.urls[0], members, target.pids[0], path, profile)
                )
                print(name, f"round {n + 1}", json.dumps(result), flush=True)
        finally:
            target.stop()


if __name__ == "__main__":
    main()
