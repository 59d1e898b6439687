"""W5 (issue 19, item 6): the scale model's check on one machine.

    .venv/bin/python bench/w5.py --sockets 20000 --servers 4 --chatting 0.01

`--sockets` joined sockets in sessions of four (student, coach and a second tab of each),
all of a session on one server process as nginx's session affinity puts them
(`--placement spread` puts each session's four on different processes instead), over
`--servers` daphne processes. Every idle socket sends phoenix.js's heartbeat every 30 s
(`--holders` processes hold them); a `--chatting` share of the sessions chats at
`--rate` messages/s each through the harness's open-loop generator (bench/harness:
latency from the scheduled send to every other member, lost, out of order).

The servers get a redis-server of their own on a free port, so Redis's command counts
and CPU are theirs alone. The database is the harness's (`BENCH_DATABASE_URL`, see
bench/harness/fixtures.py): give W5 one that nothing else uses meanwhile
(`BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/w5_bench`) and PostgreSQL's row
and commit counts are the servers' alone too.

Printed, and written to bench/results/<time>-w5[-tag].json: the joins (time, failures);
the idle window (`--idle` s: server CPU in cores, i.e. client heartbeats plus the
presence heartbeat, Redis commands per second by command, RSS per process and per
socket); the chat window (latency, lost, server CPU per 1k deliveries with and without
the idle share, Redis commands and PostgreSQL rows and commits per chat message); the
PostgreSQL connections the servers held; sockets the servers dropped. Figures, not
assertions.
"""

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from inswing_realtime.cluster import free_port  # noqa: E402

HEARTBEAT_S = 30.0  # phoenix.js's heartbeatIntervalMs
# Rows written in the database's tables, for the rows-per-message figures.
PG_STATS = """
select coalesce(sum(n_tup_ins), 0), coalesce(sum(n_tup_upd), 0), coalesce(sum(n_tup_del), 0)
from pg_stat_user_tables
"""


# -- the idle sockets' holders (one process each) --------------------------------------


async def _hold(conn: Connection, members: list[tuple[str, str, str]], at_once: int) -> None:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    loop = asyncio.get_running_loop()
    stats: dict[str, Any] = {"joined": 0, "failed": 0, "dropped": 0, "frames": 0}
    failures: list[str] = []
    join_ms: list[float] = []
    sockets = []
    closing = False
    limit = asyncio.Semaphore(at_once)

    async def read(ws: Any) -> None:
        try:
            async for _raw in ws:
                stats["frames"] += 1
        except Exception:
            pass
        if not closing:
            stats["dropped"] += 1

    async def beat(ws: Any) -> None:
        await asyncio.sleep(random.uniform(0, HEARTBEAT_S))
        ref = 1
        with contextlib.suppress(ConnectionClosed):  # the reader counts a drop
            while True:
                ref += 1
                await ws.send(orjson.dumps([None, str(ref), "phoenix", "heartbeat", {}]).decode())
                await asyncio.sleep(HEARTBEAT_S)

    async def one(url: str, token: str, topic: str) -> None:
        async with limit:
            started = time.monotonic()
            try:
                ws = await connect(
                    f"{url}?vsn=2.0.0&token={token}",
                    max_queue=None,
                    compression=None,
                    ping_interval=None,
                    open_timeout=120,
                    close_timeout=1,
                )
                await ws.send(orjson.dumps(["1", "1", topic, "phx_join", {}]).decode())
                async with asyncio.timeout(120):
                    while True:
                        frame = orjson.loads(await ws.recv())
                        if frame[1] == "1" and frame[3] == "phx_reply":
                            break
                if frame[4].get("status") != "ok":
                    raise RuntimeError(f"join refused: {frame[4]}")
            except Exception as exc:
                stats["failed"] += 1
                failures.append(f"{type(exc).__name__}: {exc}"[:200])
                return
        join_ms.append((time.monotonic() - started) * 1000)
        stats["joined"] += 1
        sockets.append((ws, loop.create_task(read(ws)), loop.create_task(beat(ws))))

    await asyncio.gather(*(one(*m) for m in members))
    conn.send({**stats, "failure_samples": failures[:3], "join_ms": join_ms})
    while True:
        command = await loop.run_in_executor(None, conn.recv)
        if command == "stats":
            conn.send(dict(stats))
        elif command == "close":
            closing = True
            for _ws, reader, beater in sockets:
                beater.cancel()
                reader.cancel()
            await asyncio.gather(*(ws.close() for ws, _, _ in sockets), return_exceptions=True)
            conn.send(dict(stats))
            return


def _holder_main(conn: Connection, members: list[tuple[str, str, str]], at_once: int) -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(_hold(conn, members, at_once))


# -- the servers' own Redis ------------------------------------------------------------


def _start_redis() -> tuple[subprocess.Popen, str, Path]:
    port = free_port()
    folder = Path(tempfile.mkdtemp(prefix="w5-redis-"))
    proc = subprocess.Popen(
        [
            shutil.which("redis-server") or "redis-server",
            *("--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"),
            *("--dir", str(folder), "--maxclients", "10000"),
        ],
        stdout=open(folder / "redis.log", "ab"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, f"redis://127.0.0.1:{port}/0", folder
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"redis-server did not start: see {folder / 'redis.log'}")


class RedisFigures:
    """Counters of the servers' own Redis: commands by name, CPU, pub/sub channels."""

    def __init__(self, url: str, pid: int) -> None:
        import redis

        self.client = redis.Redis.from_url(url)
        self.pid = pid

    def sample(self) -> dict[str, Any]:
        from bench.harness.targets import cpu_seconds

        commands = {
            name.removeprefix("cmdstat_"): stats["calls"]
            for name, stats in self.client.info("commandstats").items()
        }
        return {"commands": commands, "cpu_s": cpu_seconds(self.pid), "at": time.monotonic()}

    def channels(self) -> int:
        return self.client.info("stats").get("pubsub_channels", 0)

    @staticmethod
    def delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
        calls = {
            name: n - before["commands"].get(name, 0)
            for name, n in after["commands"].items()
            if n - before["commands"].get(name, 0)
        }
        return {
            "seconds": after["at"] - before["at"],
            "commands": dict(sorted(calls.items(), key=lambda kv: -kv[1])),
            "total": sum(calls.values()),
            "cpu_s": after["cpu_s"] - before["cpu_s"],
        }


# -- PostgreSQL counters of the bench database -----------------------------------------


def _pg_sample(dsn: str) -> dict[str, int]:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("select pg_stat_clear_snapshot()")
        ins, upd, dele = conn.execute(PG_STATS).fetchone()
        (commits,) = conn.execute(
            "select xact_commit from pg_stat_database where datname = current_database()"
        ).fetchone()
    return {"inserted": int(ins), "updated": int(upd), "deleted": int(dele), "commits": commits}


def _pg_connections(dsn: str) -> int:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        (count,) = conn.execute(
            "select count(*) from pg_stat_activity"
            " where datname = current_database() and pid <> pg_backend_pid()"
        ).fetchone()
    return count


# -- the run ---------------------------------------------------------------------------


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sockets", type=int, default=20_000, help="joined sockets in all")
    p.add_argument("--servers", type=int, default=4, help="server processes")
    p.add_argument("--chatting", type=float, default=0.01, help="share of sessions chatting")
    p.add_argument("--rate", type=float, default=1.0, help="msg/s per chatting session")
    p.add_argument("--placement", choices=["affinity", "spread"], default="affinity")
    p.add_argument("--holders", type=int, default=4, help="processes holding idle sockets")
    p.add_argument(
        "--open-at-once", type=int, default=100, help="sockets each holder opens at a time"
    )
    p.add_argument("--generators", type=int, default=1, help="chat generator processes")
    p.add_argument("--idle", type=float, default=60.0, help="idle window, s")
    p.add_argument("--warmup", type=float, default=5.0, help="chat warm-up, s")
    p.add_argument("--duration", type=float, default=30.0, help="chat measured time, s")
    p.add_argument("--deadline", type=float, default=3.0)
    p.add_argument("--max-lag-ms", type=float, default=10.0)
    p.add_argument("--port", type=int, default=9400, help="first server port")
    p.add_argument(
        "--db-pool", type=int, default=4, help="DB_POOL_MAX_SIZE per process (shared PG)"
    )
    p.add_argument("--tag", default="")
    return p.parse_args()


def main() -> None:
    opts = parse()
    started = datetime.now(UTC)
    # SIGTERM unwinds like Ctrl-C: the servers, the holders and this Redis stop with us.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    redis_proc, redis_url, redis_dir = _start_redis()
    try:
        _run(opts, started, redis_url, redis_proc.pid)
    finally:
        redis_proc.terminate()
        redis_proc.wait(10)
        shutil.rmtree(redis_dir, ignore_errors=True)


def _run(opts: argparse.Namespace, started: datetime, redis_url: str, redis_pid: int) -> None:
    os.environ["BENCH_REDIS_URL"] = redis_url  # read by fixtures when imported
    from bench.harness import fixtures
    from bench.harness.fleet import Fleet
    from bench.harness.stats import delivery_summary, join_summary, latency_summary
    from bench.harness.targets import RESULTS, Target, rss_kib

    fixtures.setup_django()
    dsn = fixtures.DB_URL
    env = {
        **os.environ,
        **fixtures.SERVER_ENV,
        "DB_POOL_MAX_SIZE": str(opts.db_pool),
        "DB_POOL_MIN_SIZE": "1",
    }
    together = opts.placement == "affinity"
    sessions = opts.sockets // 4
    chatting = max(1, round(sessions * opts.chatting))
    target = Target("project", opts.servers, opts.port, env)
    report: dict[str, Any] = {
        "meta": {
            "started": started.strftime("%Y-%m-%d %H:%M UTC"),
            "command": " ".join([".venv/bin/python", "bench/w5.py", *sys.argv[1:]]),
            "loadavg": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
            "git": subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
            ).stdout.strip(),
            "options": vars(opts),
            "sessions": sessions,
            "chatting_sessions": chatting,
        }
    }
    print(f"-- W5: {sessions} sessions x 4 on {opts.servers} processes, {chatting} chatting")
    idle_specs = fixtures.specs(
        fixtures.project_sessions(sessions - chatting), target.urls, 4, together=together
    )
    chat_specs = fixtures.specs(
        fixtures.project_sessions(chatting), target.urls, 4, together=together
    )
    members = [(url, token, s["topic"]) for s in idle_specs for url, token in s["members"]]
    ctx = multiprocessing.get_context("spawn")
    holders: list[tuple[Any, Connection]] = []
    fleet: Fleet | None = None
    target.start()
    figures = RedisFigures(redis_url, redis_pid)
    try:
        rss0 = {pid: rss_kib(pid) for pid in target.pids}
        # -- open: every idle socket, the holders at once
        before = figures.sample()
        cpu = target.cpu()
        t0 = time.monotonic()
        for i in range(opts.holders):
            parent, child = ctx.Pipe()
            proc = ctx.Process(
                target=_holder_main, args=(child, members[i :: opts.holders], opts.open_at_once)
            )
            proc.start()
            holders.append((proc, parent))
        opened = [pipe.recv() for _, pipe in holders]
        redis_open = RedisFigures.delta(before, figures.sample())
        joined = sum(o["joined"] for o in opened)
        report["open"] = {
            "sockets": len(members),
            "joined": joined,
            "failed": sum(o["failed"] for o in opened),
            "failure_samples": [f for o in opened for f in o["failure_samples"]][:3],
            "all_joined_s": time.monotonic() - t0,
            "join_ms": latency_summary(sorted(t for o in opened for t in o["join_ms"])),
            "server_cpu_s": target.cpu() - cpu,
            "redis_commands_per_join": {
                k: round(v / max(joined, 1), 2) for k, v in redis_open["commands"].items()
            },
        }
        print(json.dumps(report["open"], indent=1), flush=True)
        time.sleep(12)  # the joins' table counters reach pg_stat first (see below)
        # -- idle: heartbeats and presence only
        pg_idle = _pg_sample(dsn)
        before, cpu, t0 = figures.sample(), target.cpu(), time.monotonic()
        time.sleep(opts.idle)
        idle_cpu = target.cpu() - cpu
        seconds = time.monotonic() - t0
        redis_idle = RedisFigures.delta(before, figures.sample())
        pg_idle = {k: (v - pg_idle[k]) / seconds for k, v in _pg_sample(dsn).items()}
        rss = {pid: rss_kib(pid) for pid in target.pids}
        report["idle"] = {
            "seconds": seconds,
            "server_cores": idle_cpu / seconds,
            "server_cpu_ms_per_socket_minute": idle_cpu * 1000 / joined / (seconds / 60)
            if joined
            else None,
            "redis_commands_per_s": {
                k: round(v / seconds, 1) for k, v in redis_idle["commands"].items()
            },
            "redis_cores": redis_idle["cpu_s"] / seconds,
            "pg_per_s": {k: round(v, 2) for k, v in pg_idle.items()},
            "redis_pubsub_channels": figures.channels(),
            "rss_mib_per_process": [round(v / 1024) for v in rss.values()],
            "rss_mib_total": round(sum(rss.values()) / 1024),
            "kib_per_socket": (sum(rss.values()) - sum(rss0.values())) / joined if joined else None,
            "rss_mib_at_start_per_process": [round(v / 1024) for v in rss0.values()],
            "pg_connections": _pg_connections(dsn),
        }
        print(json.dumps(report["idle"], indent=1), flush=True)
        # -- chat: a share of the sessions talks (its sockets opened now: the harness's
        # generator sends no heartbeats, and a run is shorter than the allowed silence)
        fleet = Fleet(opts.generators)
        chat_joins = join_summary(fleet.open(chat_specs, concurrency=50))
        time.sleep(1)
        pg_before, before, cpu, t0 = (
            _pg_sample(dsn),
            figures.sample(),
            target.cpu(),
            time.monotonic(),
        )
        run = fleet.run(
            rate=opts.rate,
            warmup=opts.warmup,
            duration=opts.duration,
            deadline=opts.deadline,
            sessions=len(chat_specs),
        )
        chat_cpu = target.cpu() - cpu
        redis_chat = RedisFigures.delta(before, figures.sample())
        time.sleep(11)  # backends report their table counters within PGSTAT_IDLE_INTERVAL
        pg_after = _pg_sample(dsn)
        pg_seconds = time.monotonic() - t0
        window = opts.warmup + opts.duration + opts.deadline + 0.3
        chat = delivery_summary(
            run, duration=opts.duration, cpu_s=chat_cpu, max_lag_ms=opts.max_lag_ms
        )
        # every message sent in the window (warm-up and measured): what the counters saw
        messages = len(chat_specs) * opts.rate * (opts.warmup + opts.duration)
        own_cpu = chat_cpu - report["idle"]["server_cores"] * redis_chat["seconds"]
        deliveries = messages * 3
        chat.update(
            {
                "joins": chat_joins,
                "window_s": window,
                "messages_in_window": messages,
                "server_cpu_s_per_1k_deliveries_without_idle": own_cpu / (deliveries / 1000),
                # net of what the idle window's rates would have done meanwhile
                "redis_commands_per_message": {
                    k: round(
                        (v - redis_idle["commands"].get(k, 0) / seconds * redis_chat["seconds"])
                        / messages,
                        3,
                    )
                    for k, v in redis_chat["commands"].items()
                },
                "pg_per_message": {
                    k: round((pg_after[k] - pg_before[k] - pg_idle[k] * pg_seconds) / messages, 3)
                    for k in pg_after
                },
                "pg_connections": _pg_connections(dsn),
            }
        )
        report["chat"] = chat
        print(json.dumps(chat, indent=1), flush=True)
        fleet.close()
        states = []
        for _, pipe in holders:
            pipe.send("close")
            states.append(pipe.recv())
        report["end"] = {
            "idle_sockets_dropped_by_servers": sum(s["dropped"] for s in states),
            "server_exits": target.exited(),
        }
        print(json.dumps(report["end"], indent=1), flush=True)
    finally:
        if fleet is not None:
            fleet.quit()
        for proc, _ in holders:
            proc.join(10)
            if proc.is_alive():
                proc.terminate()
        target.stop()
    RESULTS.mkdir(exist_ok=True)
    name = started.strftime("%Y%m%d-%H%M%S") + "-w5" + (f"-{opts.tag}" if opts.tag else "")
    (RESULTS / f"{name}.json").write_text(json.dumps(report, indent=1))
    print(f"\nreport: bench/results/{name}.json")


if __name__ == "__main__":
    main()
