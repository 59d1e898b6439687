"""Participants that behave like the session page, for runs in which sockets close.

The page (static/coaching/session.js, room-state.js, room/outbox.js, room/connection.js)
reconnects after every close with its delays and jitter, rejoins with `last_seq` and
`last_eid` (docs/protocol.md, Recovery), applies each logged event once and in seq
order, and keeps each chat line in an outbox until the server acknowledges it, resending
it with the same `client_msg_id`. A `Participant` does the same over the Phoenix V2
protocol and records what a measurement needs: the lines it wrote (due, acknowledged,
stored seq), the first receipt of every line it was sent, frames that repeat a seq it
already had, seq gaps, reconnects with their close codes, and how each join recovered.
`tally` turns a run's participants (and the event log) into its figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

# room/connection.js: heartbeat, retry and rejoin delays (a retry's with jitter).
HEARTBEAT_S = 4.0
RETRY_MS = (500, 1000, 2000, 3000, 5000)
REJOIN_MS = (500, 1000, 2000, 5000)
# room/outbox.js: a push unanswered this long is sent again; lines that wait after a
# reply that resending may change are tried again this often.
PUSH_TIMEOUT_S = 10.0
RETRY_EVERY_S = 5.0
FINAL_ERRORS = frozenset(
    {"invalid_input", "forbidden", "session_ended", "not_found", "unauthorized"}
)
# realtime.js: joins that retrying cannot fix.
FATAL_JOIN_REASONS = frozenset({"unauthorized", "forbidden", "not_found"})


def now_ns() -> int:
    return time.monotonic_ns()


def with_jitter(ms: int) -> float:
    """room/connection.js's withJitter, in seconds."""
    return ms * (0.5 + random.random()) / 1000


@dataclass
class Line:
    """A chat line this participant wrote."""

    client_msg_id: str
    text: str
    due: int  # monotonic ns: when it was written
    sent_at: int | None = None  # its first push
    acked_at: int | None = None  # its ok reply
    seq: int | None = None  # as stored
    failed: str | None = None  # a final error's reason


@dataclass
class Participant:
    """One member of a session, on one socket (`url`: nginx's /socket/websocket)."""

    url: str
    topic: str
    token: str
    name: str
    lines: list[Line] = field(default_factory=list)
    # client_msg_id -> (first receipt ns, "live" or "snapshot"), every line it was sent
    received: dict[str, tuple[int, str]] = field(default_factory=dict)
    frames_by_seq: Counter[int] = field(default_factory=Counter)
    applied: set[int] = field(default_factory=set)  # seqs applied, live or from a snapshot
    first_seq: int | None = None  # the first join's last_seq: what it started from
    duplicates: int = 0  # frames with a seq this participant already had
    gaps: int = 0  # a live event past the next seq expected
    connects: int = 0
    connect_failures: int = 0
    close_codes: Counter[str] = field(default_factory=Counter)
    # ms from a connection's end to the next ok join: how long the channel was away
    rejoin_ms: list[float] = field(default_factory=list)
    recoveries: Counter[str] = field(default_factory=Counter)
    join_errors: Counter[str] = field(default_factory=Counter)
    push_errors: Counter[str] = field(default_factory=Counter)
    last_seq: int | None = None
    last_eid: str | None = None

    def __post_init__(self) -> None:
        self._outbox: deque[Line] = deque()
        self._kick = asyncio.Event()  # a line waits, or the channel (re)joined
        self._joined = asyncio.Event()
        self._stopping = False
        self._ws: ClientConnection | None = None
        self._ref = 0
        self._join_ref: str | None = None
        self._replies: dict[str, asyncio.Future[dict]] = {}
        self._tasks: set[asyncio.Task] = set()  # the connection's
        self._fatal: str | None = None
        self._lost_at: int | None = None

    # -- what the run does -------------------------------------------------------

    def write(self, due: int) -> Line:
        """A new chat line, due (written) at `due`; the text carries who and when."""
        line = Line(uuid.uuid4().hex, f"{due} {self.name} {len(self.lines)}", due)
        self.lines.append(line)
        self._outbox.append(line)
        self._kick.set()
        return line

    @property
    def joined(self) -> asyncio.Event:
        return self._joined

    @property
    def waiting(self) -> int:
        """Lines neither acknowledged nor failed."""
        return len(self._outbox)

    async def run(self) -> None:
        """Connect, join and keep both up until `stop()`, as the page does."""
        tries = 0
        while not self._stopping and self._fatal is None:
            try:
                self._ws = await connect(
                    f"{self.url}?vsn=2.0.0&token={self.token}"
                    f"&heartbeat_ms={int(HEARTBEAT_S * 1000)}",
                    open_timeout=10,
                    close_timeout=1,
                    ping_interval=None,
                    max_queue=None,
                    compression=None,
                )
            except (OSError, WebSocketException, TimeoutError):
                self.connect_failures += 1
                tries += 1
                await asyncio.sleep(with_jitter(RETRY_MS[min(tries, len(RETRY_MS)) - 1]))
                continue
            tries = 0
            self.connects += 1
            await self._connection(self._ws)
            self._joined.clear()
            self._lost_at = self._lost_at or now_ns()
            if not self._stopping and self._fatal is None:
                tries += 1
                await asyncio.sleep(with_jitter(RETRY_MS[min(tries, len(RETRY_MS)) - 1]))

    async def stop(self) -> None:
        self._stopping = True
        if self._ws is not None:
            await self._ws.close()

    # -- one connection ------------------------------------------------------------

    async def _connection(self, ws: ClientConnection) -> None:
        for work in (self._heartbeats(ws), self._joins(ws), self._flush(ws)):
            self._start(work)
        try:
            async for raw in ws:
                self._frame(orjson.loads(raw))
        except (OSError, WebSocketException):
            pass
        finally:
            if not self._stopping:
                code = ws.close_code
                self.close_codes[str(code) if code is not None else "lost"] += 1
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            for reply in self._replies.values():
                if not reply.done():
                    reply.cancel()
            self._replies.clear()
            await asyncio.gather(*tasks, return_exceptions=True)

    def _start(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _push(
        self, ws: ClientConnection, topic: str, event: str, payload: dict, *, join: bool = False
    ) -> asyncio.Future[dict]:
        self._ref += 1
        ref = str(self._ref)
        if join:
            self._join_ref = ref
        reply: asyncio.Future[dict] = asyncio.get_running_loop().create_future()
        self._replies[ref] = reply
        join_ref = None if topic == "phoenix" else self._join_ref
        await ws.send(orjson.dumps([join_ref, ref, topic, event, payload]).decode())
        return reply

    async def _heartbeats(self, ws: ClientConnection) -> None:
        """phoenix.js: a heartbeat unanswered by the next one closes the link."""
        pending: asyncio.Future[dict] | None = None
        while True:
            if pending is not None and not pending.done():
                await ws.close(code=1000, reason="heartbeat timeout")
                return
            pending = await self._push(ws, "phoenix", "heartbeat", {})
            await asyncio.sleep(HEARTBEAT_S)

    async def _joins(self, ws: ClientConnection) -> None:
        """Join (and rejoin after an error) with the seq and eid applied so far."""
        tries = 0
        while True:
            params = {}
            if self.last_seq is not None:
                params = {"last_seq": self.last_seq, "last_eid": self.last_eid}
            reply = await (await self._push(ws, self.topic, "phx_join", params, join=True))
            if reply.get("status") == "ok":
                return  # applied by _frame, before any frame after it
            reason = (reply.get("response") or {}).get("reason", "unknown")
            self.join_errors[reason] += 1
            if reason in FATAL_JOIN_REASONS:
                self._fatal = reason
                await ws.close()
                return
            tries += 1
            await asyncio.sleep(REJOIN_MS[min(tries, len(REJOIN_MS)) - 1] / 1000)

    async def _flush(self, ws: ClientConnection) -> None:
        """room/outbox.js: the oldest waiting line at a time, while joined."""
        while True:
            await self._joined.wait()
            if not self._outbox:
                self._kick.clear()
                await self._kick.wait()
                continue
            line = self._outbox[0]
            line.sent_at = line.sent_at or now_ns()
            push = {"message": line.text, "client_msg_id": line.client_msg_id}
            try:
                reply = await asyncio.wait_for(
                    await self._push(ws, self.topic, "chat:new", push), PUSH_TIMEOUT_S
                )
            except TimeoutError:
                self.push_errors["timeout"] += 1
                continue  # sent again
            response = reply.get("response") or {}
            if reply.get("status") == "ok":
                line.acked_at = now_ns()
                line.seq = response.get("message", {}).get("seq")
                if line in self._outbox:  # else its own broadcast came first
                    self._outbox.remove(line)
                continue
            if line not in self._outbox:
                continue
            reason = response.get("reason", "unknown")
            self.push_errors[reason] += 1
            if reason in FINAL_ERRORS:
                line.failed = reason
                self._outbox.popleft()
            elif response.get("retry_after_ms"):
                await asyncio.sleep(min(response["retry_after_ms"], 10_000) / 1000)
            else:  # a server hiccup (e.g. draining): a new line, the tick or a rejoin retries
                self._kick.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._kick.wait(), RETRY_EVERY_S)

    # -- frames ------------------------------------------------------------------

    def _frame(self, frame: list[Any]) -> None:
        _join_ref, ref, topic, event, payload = frame
        if event == "phx_reply":
            reply = self._replies.pop(ref, None)
            if ref == self._join_ref and topic == self.topic and payload.get("status") == "ok":
                self._apply_join(payload["response"])
            if reply is not None and not reply.done():
                reply.set_result(payload)
        elif topic != self.topic:
            return
        elif event == "phx_error":
            self._joined.clear()
            self._rejoin()
        elif isinstance(payload, dict) and isinstance(payload.get("seq"), int):
            self._receive(event, payload)

    def _rejoin(self) -> None:
        if self._ws is not None:
            self._start(self._joins(self._ws))

    def _apply_join(self, reply: dict) -> None:
        """room-state.js's join: a replay follows, or the reply is the snapshot."""
        recovery = reply.get("recovery") or {}
        replay = recovery.get("mode") == "replay" and self.last_seq is not None
        if self._lost_at is not None:
            self.rejoin_ms.append((now_ns() - self._lost_at) / 1e6)
            self._lost_at = None
        first = "first" if self.last_seq is None else "snapshot"
        self.recoveries["replay" if replay else recovery.get("reason", first)] += 1
        if not replay:
            self.last_seq = reply.get("last_seq") or 0
            self.last_eid = reply.get("last_eid")
            if self.first_seq is None:
                self.first_seq = self.last_seq
            received = now_ns()
            for item in reply.get("events") or []:
                self.applied.add(item["payload"]["seq"])
                if item["event"] == "chat:added":
                    self._record(item["payload"], received, "snapshot")
        self._joined.set()
        self._kick.set()
        # A line whose ack was lost but which the server stored is not sent again.
        self._drop_delivered()

    def _receive(self, event: str, payload: dict) -> None:
        """room-state.js's receive: applied once, and only if newer."""
        seq = payload["seq"]
        self.frames_by_seq[seq] += 1
        if self.frames_by_seq[seq] > 1:
            self.duplicates += 1
        if self.last_seq is not None and seq <= self.last_seq:
            return
        if self.last_seq is not None and seq > self.last_seq + 1:
            self.gaps += 1
        self.last_seq, self.last_eid = seq, payload.get("eid")
        self.applied.add(seq)
        if event == "chat:added":
            self._record(payload, now_ns(), "live")
            self._drop_delivered()

    def _record(self, payload: dict, received: int, how: str) -> None:
        client_msg_id = payload.get("client_msg_id")
        if client_msg_id and client_msg_id not in self.received:
            self.received[client_msg_id] = (received, how)

    def _drop_delivered(self) -> None:
        """session.js: a line of mine that came back is delivered, whichever attempt
        got through; it leaves the outbox (its ack may never come)."""
        while self._outbox and self._outbox[0].client_msg_id in self.received:
            self._outbox.popleft()


async def write_open_loop(
    participants: list[Participant],
    rate: float,
    start: int,
    stop: asyncio.Event,
    lags: list[float],
) -> None:
    """Each participant writes a line every 1/`rate` s from `start` (monotonic ns) until
    `stop` is set, open loop: on time whatever the server does; participants' lines
    spread evenly over the period. `lags`: how late each write was (ms)."""
    period = int(1e9 / rate)
    schedule = sorted(
        ((start + i * period // len(participants), p) for i, p in enumerate(participants)),
        key=lambda item: item[0],
    )
    k = 0
    while True:
        for first, participant in schedule:
            due = first + k * period
            wait = due - now_ns()
            if wait > 0:
                await asyncio.sleep(wait / 1e9)
            if stop.is_set():
                return
            lags.append((now_ns() - due) / 1e6)
            participant.write(due)
        k += 1


@dataclass
class EventLog:
    """The sessions' event log as stored: what every participant should have got."""

    seqs: dict[str, set[int]]  # topic -> its events' seqs
    chat: Counter[str]  # client_msg_id -> how many chat:added events carry it

    @classmethod
    def read(cls, topics: Iterable[str]) -> EventLog:
        """Needs Django set up on the run's database (not from a running event loop)."""
        from coaching.models import SessionEvent

        ids = [topic.removeprefix("session:") for topic in topics]
        seqs: dict[str, set[int]] = {f"session:{i}": set() for i in ids}
        chat: Counter[str] = Counter()
        rows = SessionEvent.objects.filter(session__session_id__in=ids).values_list(
            "session__session_id", "seq", "event", "payload__client_msg_id"
        )
        for session_id, seq, event, client_msg_id in rows.iterator():
            seqs[f"session:{session_id}"].add(seq)
            if event == "chat:added" and client_msg_id:
                chat[client_msg_id] += 1
        return cls(seqs, chat)


def tally(
    pairs: list[tuple[Participant, Participant]],
    log: EventLog,
    windows: dict[str, tuple[int, int]],
) -> dict[str, Any]:
    """A run's figures. Each of a pair's lines should reach the other participant and be
    in the event log once, and each participant should have applied every logged event
    after the one it started from. `windows`: name -> [from, to) monotonic ns of the
    lines' due times, for delivery latency per window (e.g. before and during a restart)."""
    stored = log.chat
    lines = [(line, other) for a, b in pairs for p, other in ((a, b), (b, a)) for line in p.lines]
    acked = [(line, other) for line, other in lines if line.acked_at is not None]
    latencies: dict[str, list[float]] = {name: [] for name in windows}
    undelivered = not_logged = 0
    for line, other in lines:
        receipt = other.received.get(line.client_msg_id)
        if receipt is None:
            undelivered += line.acked_at is not None
            continue
        for name, (start, end) in windows.items():
            if start <= line.due < end:
                latencies[name].append((receipt[0] - line.due) / 1e6)
    for line, _other in acked:
        not_logged += stored[line.client_msg_id] == 0
    participants = [p for pair in pairs for p in pair]
    return {
        "sent": len(lines),
        "acked": len(acked),
        "unacked": sum(p.waiting for p in participants),
        "failed": sum(line.failed is not None for line, _ in lines),
        "lost": undelivered + not_logged,
        "lost_undelivered": undelivered,
        "lost_not_in_log": not_logged,
        "duplicated_frames": sum(p.duplicates for p in participants),
        "duplicated_in_log": sum(n - 1 for n in stored.values() if n > 1),
        "delivered_by_snapshot": sum(
            1 for p in participants for _, how in p.received.values() if how == "snapshot"
        ),
        "seq_gaps": sum(p.gaps for p in participants),
        "events_logged": sum(len(seqs) for seqs in log.seqs.values()),
        "events_missed": sum(
            len({s for s in log.seqs[p.topic] if s > (p.first_seq or 0)} - p.applied)
            for p in participants
        ),
        "connects": sum(p.connects for p in participants),
        "reconnects": sum(p.connects for p in participants) - len(participants),
        "connect_failures": sum(p.connect_failures for p in participants),
        "close_codes": dict(sum((p.close_codes for p in participants), Counter())),
        "recoveries": dict(sum((p.recoveries for p in participants), Counter())),
        "join_errors": dict(sum((p.join_errors for p in participants), Counter())),
        "push_errors": dict(sum((p.push_errors for p in participants), Counter())),
        "rejoin_ms": sorted(ms for p in participants for ms in p.rejoin_ms),
        "latency_ms": {name: sorted(values) for name, values in latencies.items()},
    }
