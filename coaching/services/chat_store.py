"""Where the socket path stores chat: on PostgreSQL in the event loop, elsewhere via the ORM.

`chat_writer()` gives the process's writer; `await writer.submit(post)` returns the
message's payload or its `ServiceError`, like `chat_messages_post` (chat.py), whose
rules it applies: the same validation (`clean_message`), the same policy and state
checks, `client_msg_id` idempotency, payloads from events.py, broadcast after commit.

On PostgreSQL, `PgChatWriter` skips the ORM and the thread hop: a few writer tasks
each own an asyncpg connection (its protocol is compiled, so a round trip costs a
fraction of what psycopg's async machinery costs in Python) and store a batch per
transaction:
  1. lock the batch's sessions (`FOR UPDATE`, in id order, like every other writer of
     a session) and take message ids from the sequence, in one statement;
  2. look up resent `client_msg_id`s (only when the batch has some);
  3. insert the messages and their event-log rows and move the sessions' `last_seq`,
     in one statement for the whole batch, and commit —
and broadcasts once the commit returns (`synchronous_commit` stays on: an ok reply
means durable). Several writers let PostgreSQL flush their commits together; a
session always goes to the same writer, so this process publishes its messages in
seq order. A batch that fails is retried message by message, so one bad message
never fails the others.
"""

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

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

# The ids come from an uncorrelated subquery: evaluated once, the same array on every row.
LOCK_SESSIONS = """
    SELECT id, session_id, student_id, coach_id, status, last_seq,
           (SELECT array_agg(nextval($2::regclass)) FROM generate_series(1, $3::int)) AS ids
    FROM coaching_coachingsession WHERE session_id = ANY($1::text[]) ORDER BY id FOR UPDATE"""
STORED_MESSAGES = """
    SELECT cs.id, m.sender_id, m.client_msg_id, m.id, m.seq, m.message, m.created_at
    FROM unnest($1::text[], $2::bigint[], $3::text[]) AS k(sid, sender_id, client_id)
    JOIN coaching_coachingsession cs ON cs.session_id = k.sid
    JOIN coaching_chatmessage m ON m.session_id = cs.id AND m.sender_id = k.sender_id
     AND m.client_msg_id = k.client_id"""
# Data-modifying CTEs always run, referenced or not.
WRITE = """
    WITH messages AS (
        INSERT INTO coaching_chatmessage
            (id, session_id, seq, sender_id, message, client_msg_id, created_at)
        SELECT i, s, q, u, m, c, $1
        FROM unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::text[],
                    $7::text[]) AS t(i, s, q, u, m, c)
    ), logged AS (
        INSERT INTO coaching_sessionevent (session_id, seq, event, payload, created_at)
        SELECT s, q, 'chat:added', p::jsonb, $1
        FROM unnest($3::bigint[], $4::bigint[], $8::text[]) AS t(s, q, p)
    )
    UPDATE coaching_coachingsession AS cs SET last_seq = v.q
    FROM unnest($9::bigint[], $10::bigint[]) AS v(i, q) WHERE cs.id = v.i"""


class ChatWriter(Protocol):
    async def submit(self, post: ChatPost) -> dict | ServiceError: ...


@dataclass
class _Pending:
    post: ChatPost
    text: str
    client_msg_id: str | None
    future: asyncio.Future = field(repr=False)


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
        keyed = [item for item in batch if item.client_msg_id is not None]
        published: list[tuple[str, dict]] = []
        async with conn.transaction():
            locked = await conn.fetch(
                LOCK_SESSIONS,
                sorted({i.post.session_id for i in batch}),
                self._id_sequence,
                len(batch),
            )
            sessions = {row[1]: _session(row) for row in locked}
            ids = locked[0][6] if locked else []
            stored = {}
            if keyed and locked:
                stored_rows = await conn.fetch(
                    STORED_MESSAGES,
                    [i.post.session_id for i in keyed],
                    [i.post.sender.pk for i in keyed],
                    [i.client_msg_id for i in keyed],
                )
                stored = {(r[0], r[1], r[2]): tuple(r[3:]) for r in stored_rows}
            now = datetime.now(UTC)
            rows: list[tuple[CoachingSession, int, Any, str, str | None, dict]] = []
            new_keys: dict[tuple[int, int, str], dict] = {}
            for i, item in enumerate(batch):
                post, session = item.post, sessions.get(item.post.session_id)
                try:
                    if session is None:
                        raise ServiceError("not_found", "No such session.")
                    policy.check_chat(post.sender, session)
                    key = (session.pk, post.sender.pk, item.client_msg_id)
                    if item.client_msg_id is not None:
                        if key in new_keys:
                            results[i] = new_keys[key]  # the same message twice in this batch
                            continue
                        if key in stored:
                            results[i] = _stored_payload(session, post, item, stored[key])
                            continue
                    state.ensure_open(session)
                except ServiceError as exc:
                    results[i] = exc
                    continue
                session.last_seq += 1
                payload = events.chat_added_payload(
                    message_id=ids[i],
                    seq=session.last_seq,
                    session_id=session.session_id,
                    sender_info=events.sender(post.sender),
                    text=item.text,
                    client_msg_id=item.client_msg_id,
                    created_at=now,
                )
                if item.client_msg_id is not None:
                    new_keys[key] = payload
                results[i] = payload
                rows.append(
                    (session, ids[i], post.sender.pk, item.text, item.client_msg_id, payload)
                )
                published.append((session.topic, payload))
            if rows:
                moved = {r[0].pk: r[0].last_seq for r in rows}
                await conn.execute(
                    WRITE,
                    now,
                    [r[1] for r in rows],
                    [r[0].pk for r in rows],
                    [r[5]["seq"] for r in rows],
                    [r[2] for r in rows],
                    [r[3] for r in rows],
                    [r[4] for r in rows],
                    [orjson.dumps(r[5]).decode() for r in rows],
                    list(moved),
                    list(moved.values()),
                )
        for topic, payload in published:
            broadcast_queued(topic, "chat:added", payload)
        return results  # type: ignore[return-value]


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
