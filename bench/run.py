"""Benchmark of issue 8: the project's server next to an in-memory floor, in one run.

    .venv/bin/python bench/run.py --workload W1,W2,W3,W4 --servers 1,2

Starts its own servers (daphne on BENCH_DATABASE_URL / BENCH_REDIS_URL, see
bench/harness/fixtures.py; the floor in memory), drives them with an open-loop
generator in --generators worker processes, and writes a JSON and a Markdown
report under bench/results/ (the Markdown is also printed). Figures, not assertions.
"""

import argparse
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.harness import fixtures  # noqa: E402
from bench.harness.fleet import Fleet  # noqa: E402
from bench.harness.report import markdown  # noqa: E402
from bench.harness.targets import FLOORS, RESULTS, Target, source_of  # noqa: E402
from bench.harness.workloads import WORKLOADS  # noqa: E402


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x]


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x]


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--workload", default="W1,W2,W3,W4", help="comma-separated: W1,W2,W3,W4")
    p.add_argument("--servers", default="1,2", help="server process counts to run, e.g. 1,2")
    p.add_argument(
        "--targets",
        default="floor,project",
        help="floor, daphne-floor (the floor's rules on daphne), project (this tree) and/or"
        " project@REF (a commit's tree, for before/after);"
        " settings for one target after '?': project?CHAT_WRITERS=1&SERVER_LOOP=asyncio;"
        " placement=affinity puts each session's sockets on one process (as nginx does)",
    )
    p.add_argument("--generators", type=int, default=2, help="load-generator processes")
    p.add_argument("--sessions", type=int, default=250)
    p.add_argument("--members", type=int, default=4, choices=[2, 3, 4])
    p.add_argument("--rate", type=float, default=1.0, help="W1: messages/s per session")
    p.add_argument("--warmup", type=float, default=15.0, help="W1 warm-up, s")
    p.add_argument("--duration", type=float, default=60.0, help="W1 measured time, s")
    p.add_argument(
        "--steps",
        type=_floats,
        default=_floats("1,2,4,6,8,10,12,16"),
        help="W2: messages/s per session at each step",
    )
    p.add_argument(
        "--all-steps",
        action="store_true",
        help="W2: run every step, also past the first that fails (CPU per delivery at each"
        " on a shared machine); the knee is still the last step before the first failure",
    )
    p.add_argument("--step-warmup", type=float, default=3.0)
    p.add_argument("--step-duration", type=float, default=10.0)
    p.add_argument("--storm", type=_ints, default=_ints("1000,5000"), help="W3 socket counts")
    p.add_argument("--idle", type=_ints, default=_ints("1000,5000"), help="W4 socket counts")
    p.add_argument(
        "--deadline",
        type=float,
        default=3.0,
        help="grace after the last measured send; later receipts count as lost",
    )
    p.add_argument(
        "--max-lag-ms",
        type=float,
        default=10.0,
        help="a run whose generator p99 lag exceeds this is INVALID",
    )
    p.add_argument(
        "--backlog",
        type=int,
        default=4096,
        help="listen backlog of the servers (0: daphne's default, 50)",
    )
    p.add_argument("--port", type=int, default=8700)
    p.add_argument("--tag", default="", help="suffix of the report's file name")
    return p.parse_args()


def main() -> None:
    opts = parse()
    workloads = [w.strip().upper() for w in opts.workload.split(",")]
    servers = _ints(opts.servers)
    kinds = [k.strip() for k in opts.targets.split(",")]
    fixtures.setup_django()
    started = datetime.now(UTC)
    git = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    meta = {
        "started": started.strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join([".venv/bin/python", "bench/run.py", *sys.argv[1:]]),
        "cpus": os.cpu_count(),
        "loadavg": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
        "generators": opts.generators,
        "git": git,
        "workloads": workloads,
        "options": vars(opts),
    }
    report = {"meta": meta, "runs": []}
    env = {**os.environ, **fixtures.SERVER_ENV}
    fleet = Fleet(opts.generators)
    try:
        for workload in workloads:
            for spec in kinds:
                served, _, query = spec.partition("?")
                kind, _, ref = served.partition("@")
                source = source_of(ref) if ref else ROOT
                settings = dict(parse_qsl(query))
                placement = settings.pop("placement", "spread")
                target_env = {**env, **settings}
                for count in [1] if kind in FLOORS else servers:
                    target = Target(
                        kind,
                        count,
                        opts.port,
                        target_env,
                        backlog=opts.backlog,
                        source=source,
                        placement=placement,
                    )
                    print(f"-- {workload} on {spec} x{count}", flush=True)
                    target.start()
                    try:
                        result = WORKLOADS[workload](target, fleet, opts)
                        result["server_exits"] = target.exited()
                        if result["server_exits"]:
                            print(f"!! a server process died: {result['server_exits']}")
                    finally:
                        target.stop()
                    report["runs"].append(
                        {"workload": workload, "target": spec, "servers": count, "result": result}
                    )
    finally:
        fleet.quit()
    RESULTS.mkdir(exist_ok=True)
    name = started.strftime("%Y%m%d-%H%M%S") + (f"-{opts.tag}" if opts.tag else "")
    (RESULTS / f"{name}.json").write_text(json.dumps(report, indent=1))
    text = markdown(report)
    (RESULTS / f"{name}.md").write_text(text)
    print(text)
    print(f"\nreport: bench/results/{name}.md and .json")


if __name__ == "__main__":
    main()
