"""Where the socket path stores chat: on PostgreSQL in the event loop, elsewhere via the ORM.

`chat_writer()` gives the process's writer; `await writer.submit(post)` returns the
message's payload or its `ServiceError`, like `chat_messages_post` (chat.py), whose
rules it applies: the same validation (`clean_message`), the same policy and state
checks, `client_msg_id` idempotency, payloads from events.py, broadcast after commit.

On PostgreSQL, `PgChatWriter` skips the ORM and the thread hop: a few writer tasks
each own an asyncpg connection (its protocol is compiled, so a round trip costs a
fraction of what psycopg's async machinery costs in Python) and store a batch in two
statements, each its own transaction:
  1. read the batch's sessions, take message ids from the sequence and look up resent
     `client_msg_id`s (one statement, no lock); the rules run on what it read;
  2. write: move each session's `last_seq` by its number of new messages, unless what
     the rules read of it (status, student, coach) changed meanwhile, and insert the
     messages and their event-log rows with the seqs that gives (one statement,
     committed: `synchronous_commit` stays on, an ok reply means durable).
A session whose row changed in between, or a resend stored in between (the unique
`client_msg_id` constraint), sends its messages round again, read afresh. The row lock
the write takes orders it with every other writer of the session; seqs come from the
row, so no gap and no duplicate. Waiting on the machine's scheduler for each round
trip was most of a batch's time with five (BEGIN, lock, look-up, write, COMMIT;
bench/README.md, step 22). Several writers let PostgreSQL flush their commits
together; a session always goes to the same writer, so this process publishes its
messages in seq order. A batch that fails is retried message by message, so one bad
message never fails the others.
"""

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple, Protocol

import asyncpg
import orjson
from django.conf import settings

from coaching import events, policy, state
from coaching.errors import ServiceError
from coaching.models import CoachingSession
from coaching.outage import UNAVAILABLE_MESSAGE, log_database_down, unavailable_error
from coaching.realtime.batching import Batcher
from coaching.realtime.publish import broadcast_queued
from coaching.services import pg
from coaching.services.chat import ChatPost, chat_messages_post, clean_client_msg_id, clean_message

logger = logging.getLogger(__name__)

# Uncorrelated subqueries are evaluated once: the same ids and stored messages on every row.
READ = """
    SELECT id, session_id, student_id, coach_id, status, last_seq,
           (SELECT array_agg(nextval($2::regclass)) FROM generate_series(1, $3::int)) AS ids,
           ARRAY(
               SELECT ROW(cs.id, m.sender_id, m.client_msg_id, m.id, m.seq, m.message,
                          m.created_at)
               FROM unnest($4::text[], $5::bigint[], $6::text[]) AS k(sid, sender_id, client_id)
               JOIN coaching_coachingsession cs ON cs.session_id = k.sid
               JOIN coaching_chatmessage m ON m.session_id = cs.id
                AND m.sender_id = k.sender_id AND m.client_msg_id = k.client_id
           ) AS stored
    FROM coaching_coachingsession WHERE session_id = ANY($1::text[])"""
# Data-modifying CTEs always run; the inserts take only the sessions the update moved.
WRITE = """
    WITH moved AS (
        UPDATE coaching_coachingsession AS cs SET last_seq = cs.last_seq + v.n
        FROM unnest($9::bigint[], $10::int[], $11::text[], $12::bigint[], $13::bigint[])
             AS v(i, n, status, student_id, coach_id)
        WHERE cs.id = v.i AND cs.status = v.status
          AND cs.student_id IS NOT DISTINCT FROM v.student_id
          AND cs.coach_id IS NOT DISTINCT FROM v.coach_id
        RETURNING cs.id, cs.last_seq - v.n AS base
    ), written AS (
        SELECT t.i, t.s, moved.base + t.k AS q, t.u, t.m, t.c, t.p
        FROM unnest($2::bigint[], $3::bigint[], $4::int[], $5::bigint[], $6::text[],
                    $7::text[], $8::text[]) AS t(i, s, k, u, m, c, p)
        JOIN moved ON moved.id = t.s
    ), messages AS (
        INSERT INTO coaching_chatmessage
            (id, session_id, seq, sender_id, message, client_msg_id, created_at)
        SELECT i, s, q, u, m, c, $1 FROM written
    ), logged AS (
        INSERT INTO coaching_sessionevent (session_id, seq, event, payload, created_at)
        SELECT s, q, 'chat:added', jsonb_set(p::jsonb, '{seq}', to_jsonb(q)), $1 FROM written
    )
    SELECT id, base FROM moved"""
# Rounds a batch may take when sessions change under it before it gives up (each round
# means another writer changed the session in the few ms between two statements).
ROUNDS = 5


class ChatWriter(Protocol):
    async def submit(self, post: ChatPost) -> dict | ServiceError: ...


@dataclass
class _Pending:
    post: ChatPost
    text: str
    client_msg_id: str | None
    future: asyncio.Future = field(repr=False)


class _Write(NamedTuple):
    """A message a round writes: its place in the batch, its session as read, its number
    among that session's new messages in the batch (its seq is the row's + this)."""

    index: int
    session: CoachingSession
    nth: int
    item: _Pending
    payload: dict


class _Unavailable(ServiceError):
    def __init__(self) -> None:
        super().__init__("unavailable", UNAVAILABLE_MESSAGE)

    def as_dict(self) -> dict[str, Any]:
        return unavailable_error()  # with `retry_after_ms`, like every `unavailable`


class PgChatWriter:
    """Chat batches on PostgreSQL from the event loop (see the module docstring)."""

    def __init__(self, *, writers: int, max_batch: int = 200) -> None:
        self._writers = writers
        self._max_batch = max_batch
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queues: list[asyncio.Queue[_Pending]] = []
        self._tasks: list[asyncio.Task] = []
        self._connections: list[asyncpg.Connection | None] = []
        self._id_sequence = ""  # the chat message table's id sequence, read at connect

    async def submit(self, post: ChatPost) -> dict | ServiceError:
        try:
            text = clean_message(post.text)
            client_msg_id = clean_client_msg_id(post.client_msg_id)
        except ServiceError as exc:
            return exc
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._start(loop)
        pending = _Pending(post, text, client_msg_id, loop.create_future())
        self._queues[hash(post.session_id) % self._writers].put_nowait(pending)
        return await pending.future

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._queues = [asyncio.Queue() for _ in range(self._writers)]
        self._connections = [None] * self._writers
        self._tasks = [loop.create_task(self._run(i)) for i in range(self._writers)]

    async def close(self) -> None:
        """Stop the writers and close their connections (tests; servers just exit)."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for conn in self._connections:
            if conn is not None:
                await conn.close()
        self._loop, self._tasks, self._connections = None, [], []

    async def _run(self, writer: int) -> None:
        queue = self._queues[writer]
        while True:
            batch = [await queue.get()]
            while len(batch) < self._max_batch and not queue.empty():
                batch.append(queue.get_nowait())
            try:
                await self._write_batch(writer, batch)
            except Exception as exc:
                if pg.unreachable(exc):
                    # Once per interval, no traceback: a down database fails every push.
                    log_database_down("socket chat:new", exc)
                    for item in batch:
                        if not item.future.done():
                            item.future.set_result(_Unavailable())  # the client retries
                    continue
                logger.exception("chat writer %d failed a message", writer)
                for item in batch:
                    if not item.future.done():
                        item.future.set_exception(exc)

    async def _write_batch(self, writer: int, batch: list[_Pending]) -> None:
        try:
            conn = await self._connection(writer)
            results = await self._store(conn, batch)
        except Exception as exc:
            if pg.unreachable(exc):
                self._drop(writer)
                raise
            if len(batch) == 1:
                raise
            # One message's fault must not fail the others: each on its own.
            for item in batch:
                try:
                    await self._write_batch(writer, [item])
                except Exception as exc:
                    if item.future.done():
                        continue
                    if pg.unreachable(exc):
                        item.future.set_result(_Unavailable())
                    else:
                        logger.exception("chat message could not be stored")
                        item.future.set_exception(exc)
            return
        for item, result in zip(batch, results, strict=True):
            if not item.future.done():
                item.future.set_result(result)

    async def _connection(self, writer: int) -> asyncpg.Connection:
        conn = self._connections[writer]
        if conn is None or conn.is_closed():
            conn = await asyncpg.connect(**pg.connection_params())
            self._id_sequence = await conn.fetchval(
                "SELECT pg_get_serial_sequence('coaching_chatmessage', 'id')"
            )
            self._connections[writer] = conn
        return conn

    def _drop(self, writer: int) -> None:
        conn, self._connections[writer] = self._connections[writer], None
        if conn is not None:
            conn.terminate()  # no goodbye to a server that may not answer

    async def _store(
        self, conn: asyncpg.Connection, batch: list[_Pending]
    ) -> list[dict | ServiceError]:
        results: list[dict | ServiceError | None] = [None] * len(batch)
        for _ in range(ROUNDS):
            todo = [i for i, result in enumerate(results) if result is None]
            if not todo:
                break
            try:
                done = await self._round(conn, [batch[i] for i in todo])
            except asyncpg.UniqueViolationError as exc:
                if exc.constraint_name != "chat_client_msg_unique":
                    raise
                continue  # a resend stored meanwhile: the next round finds it
            for i, result in zip(todo, done, strict=True):
                results[i] = result
        if any(result is None for result in results):
            raise RuntimeError(f"chat batch still contended after {ROUNDS} rounds")
        return results  # type: ignore[return-value]

    async def _round(
        self, conn: asyncpg.Connection, batch: list[_Pending]
    ) -> list[dict | ServiceError | None]:
        """One read and one write (module docstring); None: that message's session
        changed in between, try it again."""
        results: list[dict | ServiceError | None] = [None] * len(batch)
        keyed = [item for item in batch if item.client_msg_id is not None]
        read = await conn.fetch(
            READ,
            sorted({i.post.session_id for i in batch}),
            self._id_sequence,
            len(batch),
            [i.post.session_id for i in keyed],
            [i.post.sender.pk for i in keyed],
            [i.client_msg_id for i in keyed],
        )
        sessions = {row[1]: _session(row) for row in read}
        ids = read[0][6] if read else []
        stored = {(r[0], r[1], r[2]): tuple(r[3:]) for r in read[0][7]} if read else {}
        now = datetime.now(UTC)
        writes: list[_Write] = []
        counts: dict[int, int] = {}  # session pk → its new messages so far
        new_keys: dict[tuple[int, int, str], int] = {}  # → the index that stores it
        repeats: dict[int, int] = {}  # index → the index storing the same message
        for i, item in enumerate(batch):
            post, session = item.post, sessions.get(item.post.session_id)
            try:
                if session is None:
                    raise ServiceError("not_found", "No such session.")
                policy.check_chat(post.sender, session)
                key = (session.pk, post.sender.pk, item.client_msg_id)
                if item.client_msg_id is not None:
                    if key in new_keys:
                        repeats[i] = new_keys[key]  # the same message twice in this batch
                        continue
                    if key in stored:
                        results[i] = _stored_payload(session, post, item, stored[key])
                        continue
                state.ensure_open(session)
            except ServiceError as exc:
                results[i] = exc
                continue
            counts[session.pk] = counts.get(session.pk, 0) + 1
            payload = events.chat_added_payload(
                message_id=ids[i],
                seq=0,  # set from the session's row by the write
                session_id=session.session_id,
                sender_info=events.sender(post.sender),
                text=item.text,
                client_msg_id=item.client_msg_id,
                created_at=now,
            )
            if item.client_msg_id is not None:
                new_keys[key] = i
            writes.append(_Write(i, session, counts[session.pk], item, payload))
        if writes:
            moving = {w.session.pk: w.session for w in writes}
            moved = await conn.fetch(
                WRITE,
                now,
                [ids[w.index] for w in writes],
                [w.session.pk for w in writes],
                [w.nth for w in writes],
                [w.item.post.sender.pk for w in writes],
                [w.item.text for w in writes],
                [w.item.client_msg_id for w in writes],
                [orjson.dumps(w.payload).decode() for w in writes],
                list(moving),
                [counts[pk] for pk in moving],
                [s.status for s in moving.values()],
                [s.student_id for s in moving.values()],
                [s.coach_id for s in moving.values()],
            )
            bases = {row[0]: row[1] for row in moved}
            published: list[tuple[str, dict]] = []
            for w in writes:
                if w.session.pk in bases:  # else its row changed: None, another round
                    w.payload["seq"] = bases[w.session.pk] + w.nth
                    results[w.index] = w.payload
                    published.append((w.session.topic, w.payload))
            for topic, payload in published:
                broadcast_queued(topic, "chat:added", payload)
        for i, first in repeats.items():
            results[i] = results[first]
        return results


def _session(row: asyncpg.Record) -> CoachingSession:
    pk, session_id, student_id, coach_id, status, last_seq = row[:6]
    return CoachingSession(
        pk=pk,
        session_id=session_id,
        student_id=student_id,
        coach_id=coach_id,
        status=status,
        last_seq=last_seq,
    )


def _stored_payload(session: CoachingSession, post: ChatPost, item: _Pending, row: tuple) -> dict:
    message_id, seq, text, created_at = row
    return events.chat_added_payload(
        message_id=message_id,
        seq=seq,
        session_id=session.session_id,
        sender_info=events.sender(post.sender),
        text=text,
        client_msg_id=item.client_msg_id,
        created_at=created_at,
    )


def chat_writer() -> ChatWriter:
    """The writer for this process's database: PostgreSQL in the event loop, else the ORM
    (`chat_messages_post`) on the realtime thread pool."""
    if pg.on_postgresql():
        return PgChatWriter(writers=settings.CHAT_WRITERS)
    return Batcher(chat_messages_post)
