"""Chat fan-out benchmark: N sessions x M sockets, each session's student chatting at R Hz.

Starts its own daphne process(es) on a benchmark database, opens every socket with a
real WebSocket client, joins, then measures for each chat message the time from the
push to its `chat:added` on every member socket (the sender's tabs included).
Prints figures; asserts nothing. The workload of docs/protocol.md ("Design notes") is the default:

    .venv/bin/python bench/chat_fanout.py                       # 250 x 4, 1 msg/s/session
    .venv/bin/python bench/chat_fanout.py --sessions 50 --rate 10 --servers 2

Needs PostgreSQL and Redis (BENCH_DATABASE_URL / BENCH_REDIS_URL, defaults below);
the load generator shares the machine's two cores with the server.
"""

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DB_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/inswing_bench")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/2")
# Production-like: DEBUG off (no query log). The bench signs the servers' tokens.
os.environ.update(
    DATABASE_URL=DB_URL,
    REDIS_URL=REDIS_URL,
    LOG_LEVEL="WARNING",
    DEBUG="0",
    SECRET_KEY="bench-only-secret-key-0123456789-abcdefghijklmnop",
)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "inswing_realtime.settings")


def ensure_database() -> None:
    import psycopg

    name = DB_URL.rsplit("/", 1)[1]
    admin = DB_URL.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("select 1 from pg_database where datname=%s", [name]).fetchone():
            conn.execute(f'create database "{name}"')


def setup_django():
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def make_fixtures(sessions: int, tag: str) -> list[tuple[str, str, str]]:
    """(topic, student token, coach token) per session."""
    from rest_framework_simplejwt.tokens import AccessToken

    from coaching.models import CoachingSession, User

    out = []
    for i in range(sessions):
        student = User.objects.create(username=f"b{tag}s{i}", role="student", name=f"S{i}")
        coach = User.objects.create(username=f"b{tag}c{i}", role="coach", name=f"C{i}")
        session = CoachingSession.objects.create(student=student, coach=coach, status="active")
        out.append(
            (session.topic, str(AccessToken.for_user(student)), str(AccessToken.for_user(coach)))
        )
    return out


def start_servers(count: int, base_port: int) -> list[subprocess.Popen]:
    procs = []
    for i in range(count):
        log = open(f"/tmp/bench-server-{i}.log", "wb")
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "daphne",
                    "-b",
                    "127.0.0.1",
                    "-p",
                    str(base_port + i),
                    "inswing_realtime.asgi:application",
                ],
                cwd=ROOT,
                env={**os.environ, "DB_CONN_MAX_AGE": "60"},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    return procs


def wait_for_port(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server on port {port} did not start")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Member:
    def __init__(self, url: str, token: str, topic: str, stats: dict):
        self.url, self.token, self.topic, self.stats = url, token, topic, stats
        self.ws = None
        self.join_ref = "1"

    async def open(self) -> None:
        from websockets.asyncio.client import connect

        self.ws = await connect(f"{self.url}?vsn=2.0.0&token={self.token}", max_queue=None)
        await self.ws.send(json.dumps(["1", "1", self.topic, "phx_join", {}]))
        while True:
            frame = json.loads(await self.ws.recv())
            if frame[3] == "phx_reply" and frame[1] == "1":
                assert frame[4]["status"] == "ok", frame
                return

    async def listen(self) -> None:
        async for raw in self.ws:
            frame = json.loads(raw)
            if frame[3] == "chat:added":
                sent_ns = int(frame[4]["message"].split()[0])
                self.stats["latencies"].append((time.perf_counter_ns() - sent_ns) / 1e6)
            elif frame[3] == "phx_reply" and frame[4]["status"] != "ok":
                self.stats["errors"] += 1

    async def chat(self, ref: int) -> None:
        text = f"{time.perf_counter_ns()} tempo looks good"
        await self.ws.send(
            json.dumps([self.join_ref, str(ref), self.topic, "chat:new", {"message": text}])
        )


async def run(args, fixtures: list[tuple[str, str, str]]) -> None:
    stats = {"latencies": [], "errors": 0}
    urls = [f"ws://127.0.0.1:{args.port + i}/socket/websocket" for i in range(args.servers)]
    groups = []
    opened = time.perf_counter()
    for i, (topic, student_token, coach_token) in enumerate(fixtures):
        tokens = [student_token, coach_token, student_token, coach_token][: args.members]
        # Spread each session's members over the servers, so fan-out crosses processes.
        members = [
            Member(urls[(i + j) % len(urls)], tok, topic, stats) for j, tok in enumerate(tokens)
        ]
        groups.append(members)
    all_members = [m for g in groups for m in g]
    for chunk in range(0, len(all_members), 50):
        await asyncio.gather(*(m.open() for m in all_members[chunk : chunk + 50]))
    print(f"opened and joined {len(all_members)} sockets in {time.perf_counter() - opened:.1f}s")
    listeners = [asyncio.create_task(m.listen()) for m in all_members]
    await asyncio.sleep(1.0)  # let entry notices and presence settle

    # Each session chats at `rate` per second, the sessions spread evenly over the
    # period (a burst mode sends them all at once, the harshest case).
    sent = 0
    interval = 1.0 / args.rate
    slots = 1 if args.burst else min(len(groups), 50)
    start = time.perf_counter()
    ref = 10
    while time.perf_counter() - start < args.duration:
        tick = time.perf_counter()
        for slot in range(slots):
            for group in groups[slot::slots]:
                ref += 1
                await group[0].chat(ref)
                sent += 1
            due = tick + (slot + 1) * interval / slots
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
    elapsed = time.perf_counter() - start
    await asyncio.sleep(args.deadline)
    for task in listeners:
        task.cancel()
    expected = sent * args.members
    lat = sorted(stats["latencies"])
    got = len(lat)

    def pct(p: float) -> float:
        return lat[min(len(lat) - 1, int(p / 100 * len(lat)))] if lat else float("nan")

    print(
        f"sessions={args.sessions} members={args.members} rate={args.rate}/s/session "
        f"servers={args.servers} duration={elapsed:.1f}s"
    )
    print(
        f"messages sent={sent} ({sent / elapsed:.0f}/s), deliveries expected={expected} "
        f"({expected / elapsed:.0f}/s), received={got}, missing at +{args.deadline}s deadline="
        f"{expected - got} ({100 * (expected - got) / max(expected, 1):.2f}%), "
        f"error replies={stats['errors']}"
    )
    if lat:
        print(
            f"latency ms: p50={pct(50):.1f} p95={pct(95):.1f} p99={pct(99):.1f} "
            f"max={lat[-1]:.1f} mean={statistics.fmean(lat):.1f}"
        )
    for m in all_members:
        await m.ws.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=250)
    parser.add_argument("--members", type=int, default=4, choices=[2, 3, 4])
    parser.add_argument("--rate", type=float, default=1.0, help="chat messages/s per session")
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--deadline", type=float, default=5.0, help="grace after the last send")
    parser.add_argument("--servers", type=int, default=1)
    parser.add_argument("--burst", action="store_true", help="all sessions send at once")
    parser.add_argument("--port", type=int, default=8700)
    args = parser.parse_args()
    ensure_database()
    setup_django()
    fixtures = make_fixtures(args.sessions, str(int(time.time())))
    procs = start_servers(args.servers, args.port)
    try:
        for i in range(args.servers):
            wait_for_port(args.port + i)
        asyncio.run(run(args, fixtures))
        for proc in procs:
            print(f"server pid {proc.pid} RSS {rss_mb(proc.pid):.0f} MB")
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
