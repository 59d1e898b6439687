"""What an idle joined socket holds in the server: RSS per socket and where it goes.

    .venv/bin/python bench/idle_sockets.py --targets project@REF,project --sockets 1000
    .venv/bin/python bench/idle_sockets.py --sockets 1000 --trace 25

For each target (this checkout, or `project@REF` for an older commit) a fresh server
process (one, on BENCH_DATABASE_URL / BENCH_REDIS_URL) gets a few warm-up sockets (they
load the lazy imports), then `--sockets` joined sockets (sessions of four, opened 100 at
a time, as W4) that stay idle. Printed per run: the server's RSS before and with them
open, in KiB per socket. With `--trace N` the server traces its allocations from just
before the sockets open (tracemalloc; RSS is then not comparable), and prints the Python
heap's growth per socket (what Python objects hold, without the allocator's slack) and
the N files, then the N lines, that allocated most of it, in bytes and blocks per
socket. Figures, not assertions.
"""

import asyncio
import json
import os
import signal
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.close_storm import open_all  # noqa: E402
from bench.harness.wrapped import command_line, serve_module, wrapped_target  # noqa: E402

PORT = 18931
TRACE_FRAMES = 1
LIMITS = {"MAX_SOCKETS_PER_USER": "100000"}


def serve(argv: list[str]) -> None:
    """`--serve MODULE ARGS…`: SIGUSR1 collects garbage, then writes the traced heap's
    size (and, once tracing, a snapshot) to IDLE_SOCKETS_PROBE; with IDLE_SOCKETS_TRACE
    (frames), the first SIGUSR1 starts tracemalloc, so what is traced is what came after."""
    import gc

    def probe(*_: object) -> None:
        gc.collect()
        path = Path(os.environ["IDLE_SOCKETS_PROBE"])
        if tracemalloc.is_tracing():
            tracemalloc.take_snapshot().dump(f"{path}.snapshot")
        elif os.environ.get("IDLE_SOCKETS_TRACE"):
            tracemalloc.start(int(os.environ["IDLE_SOCKETS_TRACE"]))
        traced = tracemalloc.get_traced_memory()[0] if tracemalloc.is_tracing() else 0
        path.write_text(json.dumps({"traced": traced}))

    signal.signal(signal.SIGUSR1, probe)
    serve_module(argv)


def probe(pid: int, path: Path, snapshot_as: Path) -> dict:
    """The server's figures; its snapshot (under tracemalloc) moved to `snapshot_as`."""
    path.unlink(missing_ok=True)
    os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if path.exists() and path.stat().st_size:
            snapshot = Path(f"{path}.snapshot")
            if snapshot.exists():
                snapshot.replace(snapshot_as)
            return json.loads(path.read_text())
        time.sleep(0.1)
    raise RuntimeError("the server's probe did not answer")


def where(frame: tracemalloc.Frame) -> str:
    return f"{frame.filename.split('site-packages/')[-1]}:{frame.lineno}"


def members(count: int) -> list[tuple[str, str]]:
    from bench.harness import fixtures

    sessions = fixtures.project_sessions(max(1, count // 4))
    return [(t, tok) for t, s, c in sessions for tok in (s, c, s, c)]


async def scenario(target, count: int, path: Path) -> tuple[dict, list]:
    from bench.harness.targets import rss_kib

    url, pid = target.urls[0], target.pids[0]
    warm_members, idle_members = await asyncio.to_thread(lambda: (members(20), members(count)))
    warm = await open_all(url, warm_members)
    await asyncio.gather(*(ws.close() for ws in warm))
    await asyncio.sleep(2)
    snapshots = [path.with_name(f"{path.name}.{when}") for when in ("before", "after")]
    # "before" exists only when tracing had started earlier; what is printed is "after".
    for old in snapshots:
        old.unlink(missing_ok=True)
    before = await asyncio.to_thread(probe, pid, path, snapshots[0])
    rss_before = rss_kib(pid)
    sockets = await open_all(url, idle_members)
    await asyncio.sleep(3)
    after = await asyncio.to_thread(probe, pid, path, snapshots[1])
    rss_after = rss_kib(pid)
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    n = len(sockets)
    result = {
        "sockets": n,
        "rss_mib": [round(rss_before / 1024, 1), round(rss_after / 1024, 1)],
        "kib_per_socket": round((rss_after - rss_before) / n, 1),
    }
    if target.trace:
        result["traced_kib_per_socket"] = round((after["traced"] - before["traced"]) / 1024 / n, 1)
    top = []
    if target.trace:
        held = tracemalloc.Snapshot.load(str(snapshots[1]))
        for group in ("filename", "lineno"):
            for stat in held.statistics(group)[: target.trace]:
                top.append(
                    (round(stat.size / n), round(stat.count / n, 2), where(stat.traceback[0]))
                )
    return result, top


def main() -> None:
    parser = command_line(__doc__.splitlines()[0], serve)
    if parser is None:
        return
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--trace", type=int, default=0, help="show the top N allocations")
    args = parser.parse_args()
    from bench.harness import fixtures

    fixtures.setup_django()
    path = Path(tempfile.gettempdir()) / f"idle-sockets-probe-{os.getpid()}.json"
    for name in args.targets.split(","):
        env = {**os.environ, **fixtures.SERVER_ENV, **LIMITS, "IDLE_SOCKETS_PROBE": str(path)}
        if args.trace:
            env["IDLE_SOCKETS_TRACE"] = str(TRACE_FRAMES)
        target = wrapped_target(name, env, PORT, Path(__file__))
        target.trace = args.trace
        target.start()
        try:
            result, top = asyncio.run(scenario(target, args.sockets, path))
        finally:
            target.stop()
        print(name, json.dumps(result), flush=True)
        for size, count, place in top:
            print(f"  {size:>6} B {count:>6} blocks  {place}", flush=True)


if __name__ == "__main__":
    main()
