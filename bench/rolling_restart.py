"""A rolling restart of `make cluster` under load: is anything acknowledged lost, does
every client get every event, and what does the restart cost in latency?

    .venv/bin/python bench/rolling_restart.py [--sessions 100] [--rate 1] [--before 20] [--after 20]

Starts the cluster (`python -m inswing_realtime.cluster`: nginx in front of `--processes`
app processes, on BENCH_DATABASE_URL and BENCH_REDIS_URL with a key prefix of its own,
`DRAIN_SECONDS` `--drain`), opens `--sessions` sessions through nginx, each a student's
and a coach's socket behaving like the page (bench/harness/page_client.py: reconnect
with jitter, rejoin with last_seq/last_eid, an outbox resent with the same
client_msg_id), each writing `--rate` chat lines a second, open loop. After `--before`
seconds it scrapes every app process's /metrics (and asks nginx for it), then restarts
the cluster the operator's way (SIGHUP to the cluster), keeps the load on until
`--after` seconds after the restart is done, scrapes again, stops writing and lets the
outboxes empty. Printed, and saved under bench/results/ (JSON and Markdown; the
metrics pages as text): sent, acknowledged, lost (acknowledged but never delivered to
the other participant, or not in the event log), duplicated (frames repeating a seq a
client had; lines logged twice), delivery latency (a line's due time to its receipt by
the other participant) before, during and after the restart, reconnects and their close
codes, how the rejoins recovered, and the restart's duration. Figures, not assertions.
"""

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.harness import fixtures  # noqa: E402
from bench.harness.page_client import EventLog, Participant, tally  # noqa: E402
from bench.harness.rolling import ClusterRun, fetch, restart_under_load  # noqa: E402
from bench.harness.stats import latency_summary  # noqa: E402
from bench.harness.targets import RESULTS  # noqa: E402

SETTLE_S = 20.0  # after the last line: until every outbox is empty and every line arrived


def scrape(cluster: ClusterRun, stamp: str, label: str) -> dict:
    """Every app process's /metrics, saved; and what nginx answers for it."""
    saved = {}
    for i, port in enumerate(cluster.app_ports(), 1):
        status, text = fetch(f"http://127.0.0.1:{port}/metrics")
        path = RESULTS / f"{stamp}-metrics-{label}-proc{i}-port{port}.txt"
        path.write_text(text)
        saved[str(port)] = {"status": status, "file": path.name, "lines": interesting(text)}
    status, _ = fetch(f"{cluster.url}/metrics")
    return {"processes": saved, "through_nginx_status": status}


INTERESTING = re.compile(
    r"^(inswing_sockets_open|inswing_presence_entries|inswing_channel_joins_total"
    r"|inswing_pushes_total\{event=\"chat:new\""
    r"|inswing_broadcast_delivery_seconds_(count|sum)|inswing_chat_batch_size_(count|sum)"
    r"|inswing_socket_disconnects_total|inswing_dependency_errors_total"
    r"|inswing_rate_limited_total|process_resident_memory_bytes|process_cpu_seconds_total"
    r"|process_open_fds)"
)


def interesting(text: str) -> list[str]:
    return [line for line in text.splitlines() if INTERESTING.match(line)]


async def load(
    args: argparse.Namespace,
    cluster: ClusterRun,
    sessions: list[tuple[str, str, str]],
    stamp: str,
) -> dict:
    pairs = [
        (
            Participant(cluster.socket_url, topic, student, f"s{i}"),
            Participant(cluster.socket_url, topic, coach, f"c{i}"),
        )
        for i, (topic, student, coach) in enumerate(sessions)
    ]
    run = await restart_under_load(
        cluster,
        pairs,
        rate=args.rate,
        before=args.before,
        after=args.after,
        settle=SETTLE_S,
        sample=lambda label: scrape(cluster, stamp, label),
    )
    log = await asyncio.to_thread(EventLog.read, [a.topic for a, _ in pairs])
    figures = tally(pairs, log, run.windows)
    figures["rejoin_ms"] = latency_summary(figures["rejoin_ms"])
    figures["latency_ms"] = {
        name: {**latency_summary(values), "n": len(values)}
        for name, values in figures["latency_ms"].items()
    }
    return {
        "sockets": 2 * len(pairs),
        "all_joined_s": round(run.joined_s, 2),
        "restart_s": round((run.restarted_at - run.restart_at) / 1e9, 1),
        "settled": run.settled,
        "generator_lag_ms": latency_summary(run.lags),
        **figures,
        "metrics_loaded": run.samples["loaded"],
        "metrics_after_restart": run.samples["loaded-after-restart"],
    }


def markdown(report: dict) -> str:
    r = report["result"]
    lat, lag, rejoin = r["latency_ms"], r["generator_lag_ms"], r["rejoin_ms"]
    columns = {
        "sent": r["sent"],
        "acked": r["acked"],
        "unacked at end": r["unacked"],
        "failed": r["failed"],
        "lost": r["lost"],
        "(undelivered, not in log)": f"({r['lost_undelivered']}, {r['lost_not_in_log']})",
        "dup frames": r["duplicated_frames"],
        "dup in log": r["duplicated_in_log"],
        "seq gaps": r["seq_gaps"],
        "events logged": r["events_logged"],
        "events a client missed": r["events_missed"],
    }
    summary = "\n".join(
        [
            "| " + " | ".join(columns) + " |",
            "|" + "---|" * len(columns),
            "| " + " | ".join(str(v) for v in columns.values()) + " |",
        ]
    )
    rows = "\n".join(
        f"| {name} | {v['n']} | {_ms(v['p50'])} | {_ms(v['p95'])} | {_ms(v['p99'])} "
        f"| {_ms(v['max'])} |"
        for name, v in lat.items()
    )
    restart_lines = "\n".join(f"    {line}" for line in report["cluster_log"])
    metrics = []
    for label in ("metrics_loaded", "metrics_after_restart"):
        scraped = r[label]
        metrics.append(f"**{label}** (through nginx: HTTP {scraped['through_nginx_status']})")
        for port, page in scraped["processes"].items():
            metrics.append(f"\n:{port} (`{page['file']}`):\n")
            metrics.extend(f"    {line}" for line in page["lines"])
        metrics.append("")
    c = report["config"]
    return f"""# Rolling restart under load {report["started"]}

Command: `{report["command"]}`

Machine: {os.cpu_count()} cores, load average at start {report["loadavg"]}; git {report["git"]}.
{c["sessions"]} sessions x 2 sockets through nginx, {c["rate"]:g} lines/s per socket (open loop),
{c["processes"]} app processes, DRAIN_SECONDS {c["drain"]}.

{summary}

Delivery latency (a line's due time to its receipt by the other participant), by when
the line was due:

| window | lines | p50 | p95 | p99 | max ms |
|---|---|---|---|---|---|
{rows}

Restart: {r["restart_s"]} s. Sockets: {r["sockets"]}, joined in {r["all_joined_s"]} s;
reconnects {r["reconnects"]} (connect failures {r["connect_failures"]}), from a socket's
close to its channel joined again p50 {_ms(rejoin["p50"])} / p99 {_ms(rejoin["p99"])} / max
{_ms(rejoin["max"])} ms (the page's first retry comes after 250-750 ms); close codes
{r["close_codes"]}; joins recovered {r["recoveries"]}; join errors {r["join_errors"]};
push errors {r["push_errors"]}; delivered through a snapshot {r["delivered_by_snapshot"]}.
Generator lag p99 {_ms(lag["p99"])} ms, max {_ms(lag["max"])} ms; every outbox empty and every
line delivered at the end: {r["settled"]}.

The cluster's own account:

{restart_lines}

## The metrics pages of the loaded cluster

{chr(10).join(metrics)}
"""


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--rate", type=float, default=1.0, help="lines/s per socket")
    parser.add_argument("--before", type=float, default=20.0, help="load before the restart (s)")
    parser.add_argument("--after", type=float, default=20.0, help="load after it (s)")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--drain", type=float, default=10.0, help="DRAIN_SECONDS")
    parser.add_argument("--port", type=int, default=18470, help="nginx's (apps: the next 2N)")
    parser.add_argument("--tag", default="rolling-restart")
    args = parser.parse_args()

    fixtures.setup_django()
    env = {
        **os.environ,  # fixtures.SERVER_ENV applied
        "REALTIME_PREFIX": "bench-rolling",
        "DRAIN_SECONDS": f"{args.drain:g}",
        "NUM_PROXIES": "1",
    }
    started = datetime.now(UTC)
    stamp = started.strftime("%Y%m%d-%H%M%S")
    loadavg = " ".join(f"{x:.2f}" for x in os.getloadavg())
    git = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    sessions = fixtures.project_sessions(args.sessions)
    cluster = ClusterRun(args.port, args.processes, env, RESULTS / f"cluster-{args.port}.log")
    try:
        import uvloop

        result = uvloop.run(load(args, cluster, sessions, stamp))
    finally:
        cluster.stop()
    report = {
        "started": started.strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join([".venv/bin/python", "bench/rolling_restart.py", *sys.argv[1:]]),
        "config": vars(args),
        "loadavg": loadavg,
        "git": git,
        "cluster_log": [line for line in cluster.log().splitlines() if "cluster:" in line],
        "result": result,
    }
    base = RESULTS / f"{stamp}-{args.tag}"
    base.with_suffix(".json").write_text(json.dumps(report, indent=1))
    text = markdown(report)
    base.with_suffix(".md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
