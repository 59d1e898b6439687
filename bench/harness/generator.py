"""A load-generator worker process: opens sockets, joins, sends on a fixed schedule.

The parent (bench/harness/fleet.py) gives each worker whole sessions, so a message's
sender and receivers live in the same process. Open loop: message k of a session is
due at `start + offset + k / rate` whether or not the server has kept up, and carries
its due time; latency runs from that due time to receipt at every other member
(the sender's own socket is not counted). The lines alternate between the student's
and the coach's socket (SENDERS), as in a lesson: each user then sends half the
session's rate, so a step above the per-user chat limit (CHAT_RATE_PER_SECOND) measures
the server's delivery, not its refusals. Every socket sends phoenix.js's heartbeat
every 30 s from its join, as the page does: a socket silent for twice that is shown
"lost" to the others (coaching/realtime/liveness.py), and W1's second tabs, which never
push, all turned lost a minute in, mid-measurement. Clocks: CLOCK_MONOTONIC, shared by
every process on the machine.
"""

import asyncio
import heapq
import resource
import time
import uuid
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect

# Line k of a session is sent by member k % SENDERS: the student's and the coach's
# first socket (bench/harness/fixtures.py orders the members so).
SENDERS = 2
# phoenix.js's default heartbeatIntervalMs, in ns; each socket's timer runs from its join.
HEARTBEAT_NS = 30 * 10**9
HEARTBEAT = orjson.dumps([None, "hb", "phoenix", "heartbeat", {}]).decode()
# How often the worker looks for heartbeats due.
HEARTBEAT_TICK_S = 0.02


def now_ns() -> int:
    return time.monotonic_ns()


@dataclass
class Window:
    """Messages due in [start, end) count; receipts after `closed` are lost."""

    start: int = 0
    end: int = 0
    closed: int = 1 << 62


@dataclass
class Tally:
    sent: int = 0
    expected: int = 0
    delivered: int = 0
    duplicated: int = 0
    out_of_order: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    acks: list[float] = field(default_factory=list)
    lags: list[float] = field(default_factory=list)
    error_samples: list[str] = field(default_factory=list)


class Member:
    """One socket of one session."""

    __slots__ = ("index", "joined", "max_n", "reader", "seen", "session", "token", "url", "ws")

    def __init__(self, session: "Session", url: str, token: str, index: int) -> None:
        self.session, self.url, self.token, self.index = session, url, token, index
        self.ws: ClientConnection | None = None
        self.joined: asyncio.Future | None = None
        self.reader: asyncio.Task | None = None
        self.seen: set[int] = set()
        self.max_n = [-1] * SENDERS  # per sender: each sender's lines keep their order

    async def open(self, worker: "Worker") -> float:
        """Connect and join; returns the time it took in ms."""
        started = now_ns()
        self.ws = await connect(
            f"{self.url}?vsn=2.0.0&token={self.token}",
            max_queue=None,
            compression=None,
            ping_interval=None,
            open_timeout=60,
            close_timeout=1,
        )
        self.joined = asyncio.get_running_loop().create_future()
        self.reader = asyncio.create_task(self.read(worker))
        await self.ws.send(orjson.dumps(["1", "1", self.session.topic, "phx_join", {}]).decode())
        reply = await asyncio.wait_for(self.joined, 60)
        if reply.get("status") != "ok":
            raise RuntimeError(f"join refused: {reply}")
        return (now_ns() - started) / 1e6

    async def read(self, worker: "Worker") -> None:
        try:
            async for raw in self.ws:
                received = now_ns()
                frame = orjson.loads(raw)
                event = frame[3]
                if event == "chat:added":
                    worker.on_chat(self, frame[4]["message"], received)
                elif event == "phx_reply":
                    if frame[1] == "1" and not self.joined.done():
                        self.joined.set_result(frame[4])
                    elif frame[1] != "1":
                        worker.on_ack(frame[1], frame[4], received)
        except Exception:
            pass
        finally:
            if self.joined is not None and not self.joined.done():
                self.joined.set_exception(ConnectionError("closed before the join reply"))


class Session:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.index: int = spec["index"]
        self.topic: str = spec["topic"]
        self.members = [
            Member(self, url, token, j) for j, (url, token) in enumerate(spec["members"])
        ]


class Worker:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.sessions: list[Session] = []
        self.window = Window()
        self.tally = Tally()
        self.pending: dict[str, int] = {}  # ref -> due time of a measured message
        self.heartbeats: asyncio.Task | None = None
        self.beats: list[tuple[int, int, Member]] = []  # heap: (due ns, tie, member)

    # -- receipts --
    def on_chat(self, member: Member, text: str, received: int) -> None:
        due_s, _, n_s = text.partition(" ")
        due = int(due_s)
        window = self.window
        if not window.start <= due < window.end or received > window.closed:
            return
        n = int(n_s.split(" ", 1)[0])
        sender = n % SENDERS
        if member.index == sender:
            return  # its own line
        tally = self.tally
        if n in member.seen:
            tally.duplicated += 1
            return
        member.seen.add(n)
        tally.delivered += 1
        tally.latencies.append((received - due) / 1e6)
        if n < member.max_n[sender]:
            tally.out_of_order += 1
        else:
            member.max_n[sender] = n

    def on_ack(self, ref: str, payload: dict, received: int) -> None:
        due = self.pending.pop(ref, None)
        if payload.get("status") != "ok":
            self.tally.errors += 1
            if len(self.tally.error_samples) < 3:
                self.tally.error_samples.append(repr(payload)[:300])
        elif due is not None and received <= self.window.closed:
            self.tally.acks.append((received - due) / 1e6)

    # -- commands --
    async def cmd_open(self, sessions: list[dict], start_at: int, concurrency: int) -> dict:
        new = [Session(spec) for spec in sessions]
        self.sessions.extend(new)
        members = [m for s in new for m in s.members]
        limit = asyncio.Semaphore(concurrency or len(members) or 1)
        failures: list[str] = []
        times: list[float] = []

        async def one(member: Member) -> None:
            async with limit:
                try:
                    times.append(await member.open(self))
                    heapq.heappush(self.beats, (now_ns() + HEARTBEAT_NS, id(member), member))
                except Exception as exc:
                    failures.append(f"{type(exc).__name__}: {exc}"[:200])

        await asyncio.sleep(max(0, (start_at - now_ns()) / 1e9))
        if self.heartbeats is None:
            self.heartbeats = asyncio.create_task(self.heartbeat())
        await asyncio.gather(*(one(m) for m in members))
        return {
            "opened": len(times),
            "failed": len(failures),
            "failure_samples": failures[:3],
            "join_ms": times,
            "done_at": now_ns(),
        }

    async def cmd_run(
        self,
        start_at: int,
        rate: float,
        warmup: float,
        duration: float,
        deadline: float,
        total_sessions: int,
    ) -> dict:
        period = int(1e9 / rate)
        measure_from = start_at + int(warmup * 1e9)
        stop = measure_from + int(duration * 1e9)
        self.window = Window(measure_from, stop, stop + int(deadline * 1e9))
        self.tally = tally = Tally()
        self.pending = {}
        for session in self.sessions:
            for member in session.members:
                member.seen, member.max_n = set(), [-1] * SENDERS
        live = [s for s in self.sessions if all(m.joined and m.joined.done() for m in s.members)]
        # Each session's offset in the period spreads sends evenly over it.
        slots = sorted((int(s.index * period / total_sessions), s) for s in live)
        ref = 100
        k = 0
        while True:
            base = start_at + k * period
            if base >= stop:
                break
            for offset, session in slots:
                due = base + offset
                if due >= stop:
                    break
                wait = due - now_ns()
                if wait > 200_000:
                    await asyncio.sleep(wait / 1e9)
                sender = session.members[k % SENDERS]
                ref += 1
                text = f"{due} {k} {session.index} tempo looks good"
                # As the page sends it: with a client_msg_id, so resends are idempotent.
                push = {"message": text, "client_msg_id": uuid.uuid4().hex}
                frame = orjson.dumps(["1", str(ref), session.topic, "chat:new", push]).decode()
                measured = due >= measure_from
                if measured:
                    self.pending[str(ref)] = due
                try:
                    await sender.ws.send(frame)
                except Exception as exc:
                    tally.errors += 1
                    if len(tally.error_samples) < 3:
                        tally.error_samples.append(f"send: {exc}"[:200])
                    continue
                if measured:
                    tally.lags.append((now_ns() - due) / 1e6)
                    tally.sent += 1
                    tally.expected += len(session.members) - 1
            k += 1
        await asyncio.sleep(max(0, (self.window.closed - now_ns()) / 1e9))
        result = {
            "sent": tally.sent,
            "expected": tally.expected,
            "delivered": tally.delivered,
            "duplicated": tally.duplicated,
            "out_of_order": tally.out_of_order,
            "errors": tally.errors,
            "error_samples": tally.error_samples,
            "latencies": tally.latencies,
            "acks": tally.acks,
            "lags": tally.lags,
        }
        self.window = Window()
        return result

    async def heartbeat(self) -> None:
        """Every socket's heartbeat, every HEARTBEAT_NS from its join, as phoenix.js's
        timer runs from its connect (the replies are not counted)."""
        beats = self.beats
        while True:
            await asyncio.sleep(HEARTBEAT_TICK_S)
            now = now_ns()
            while beats and beats[0][0] <= now:
                due, tie, member = heapq.heappop(beats)
                try:
                    await member.ws.send(HEARTBEAT)
                except Exception:
                    continue  # closed: its loss is counted where it matters
                heapq.heappush(beats, (due + HEARTBEAT_NS, tie, member))

    async def cmd_close(self) -> dict:
        if self.heartbeats is not None:
            self.heartbeats.cancel()
            self.heartbeats, self.beats = None, []
        members = [m for s in self.sessions for m in s.members if m.ws is not None]
        await asyncio.gather(*(m.ws.close() for m in members), return_exceptions=True)
        for m in members:
            if m.reader is not None:
                m.reader.cancel()
        self.sessions = []
        return {"closed": len(members)}

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            command, kwargs = await loop.run_in_executor(None, self.conn.recv)
            if command == "quit":
                await self.cmd_close()
                self.conn.send({})
                return
            started = time.process_time()
            result = await getattr(self, f"cmd_{command}")(**kwargs)
            result["cpu_s"] = time.process_time() - started
            self.conn.send(result)


def worker_main(conn: Connection) -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(Worker(conn).serve())
