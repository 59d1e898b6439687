"""Chat: validate, store with a seq, broadcast `chat:added` once stored.

One store for every caller. The socket's chat writer (coaching/realtime/chat_writer.py,
asyncpg from the event loop) and REST, admin and commands (`chat_messages_post`, on
Django's connection) run the same algorithm, `store_batch`, which does no I/O of its
own: it yields the statements to run and the broadcasts to make, and each caller's
driver runs them. So there is one set of statements, one decision per message
(`decide`), one write guard and one retry policy.

A batch is stored in two statements, each its own transaction:
  1. read the batch's sessions (the columns the rules read, `RULE_FIELDS`) and look up
     resent `client_msg_id`s (no lock); `decide` runs on what it read;
  2. write: move each session's `last_seq` by its number of new messages, unless a
     column the rules read changed meanwhile (the guard is built from `RULE_FIELDS`, so
     a rule reading a new column declares it there and is guarded), and insert the
     messages (ids from their sequence) and their event-log rows (coaching/eventlog.py)
     with the seqs that gives (each message's row and log row store the eid its payload
     was stamped with).
A session whose row changed in between, or a resend stored in between (the unique
`client_msg_id` constraint), sends its messages round again, read afresh. The row lock
the write takes orders it with every other writer of the session; seqs come from the
row, so no gap and no duplicate. A batch the database refuses is stored again message
by message, so that only the refused message fails (`internal_error`).

A caller that keeps `Known` sessions (the socket's writer) skips the read when every
session of the batch is known and the rules let every message through on what it knows:
the write's guard checks that knowledge as it checks a read's, and a resend among the
messages is caught by the unique constraint, so either sends the batch round again,
read afresh. A refusal always comes from a fresh read.
"""

import logging
from collections import namedtuple
from collections.abc import Callable, Generator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any, NamedTuple

import orjson
import psycopg
from django.db import connection, transaction

from coaching import broadcasts, eventlog, events, policy, state
from coaching.errors import ServiceError, invalid
from coaching.models import ChatMessage, CoachingSession, User, session_topic
from coaching.outage import is_database_down
from coaching.text import clean_text, ensure_storable

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 2000
MAX_CLIENT_MSG_ID_CHARS = 64
CLIENT_ID_CONSTRAINT = "chat_client_msg_unique"
# Rounds a batch may take when sessions change under it before it gives up (each round
# means another writer changed the session in the few ms between two statements).
ROUNDS = 5
# Sessions a `Known` holds before it starts over (a writer sees the sessions hashed to it).
KNOWN_LIMIT = 10_000

# The session fields the chat rules (`decide`: policy.check_chat, state.ensure_open)
# read. Only these reach the rules, and the write is guarded on each of them.
RULE_FIELDS = ("status", "student", "coach")


def clean_message(text: Any) -> str:
    """The chat line as stored, under the text rules REST fields follow too."""
    return clean_text(text, field="message", max_chars=MAX_MESSAGE_CHARS)


def clean_client_msg_id(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= MAX_CLIENT_MSG_ID_CHARS:
        raise invalid(
            "client_msg_id",
            f"client_msg_id must be a string of 1-{MAX_CLIENT_MSG_ID_CHARS} chars.",
        )
    return ensure_storable(value, field="client_msg_id")


@dataclass(frozen=True)
class ChatPost:
    """One message to store: raw input, validated by the service."""

    session_id: str
    sender: User
    text: Any
    client_msg_id: Any = None


@dataclass(frozen=True)
class CleanPost:
    """A post that passed validation: the text and client id as they are stored."""

    post: ChatPost
    text: str
    client_msg_id: str | None


def cleaned(post: ChatPost) -> CleanPost:
    """Raises `invalid_input` naming the field."""
    return CleanPost(post, clean_message(post.text), clean_client_msg_id(post.client_msg_id))


# --- The rule -----------------------------------------------------------------------


@cache
def _rule_columns() -> tuple[tuple[str, str], ...]:
    """`(column, SQL type)` of each of RULE_FIELDS."""
    fields = [CoachingSession._meta.get_field(name) for name in RULE_FIELDS]
    return tuple((field.column, field.db_type(connection)) for field in fields)


@cache
def _session_row() -> type:
    """What the rules see of a session: its identity and RULE_FIELDS' columns, nothing
    else (a rule reading another column fails instead of racing the write)."""
    columns = [column for column, _ in _rule_columns()]
    return namedtuple("ChatSessionRow", ["pk", "session_id", *columns])


class Write:
    """`decide`: store the message."""


class Resend(NamedTuple):
    """`decide`: the message was stored before; answer with it, broadcast nothing."""

    payload: dict


WRITE = Write()
Decision = Write | Resend | ServiceError


def decide(session: Any, sender: User, stored: dict | None) -> Decision:
    """Whether `sender` may post to `session` (a `ChatSessionRow`, None if there is no
    such session), given the message already stored under its `client_msg_id`."""
    try:
        if session is None:
            raise ServiceError("not_found", "No such session.")
        policy.check_chat(sender, session)
        if stored is not None:
            return Resend(stored)
        state.ensure_open(session)
    except ServiceError as exc:
        return exc
    return WRITE


# --- The statements ----------------------------------------------------------------


@cache
def _read_sql() -> str:
    columns = ", ".join(column for column, _ in _rule_columns())
    stored = ("s", "u", "c", "id", "seq", "message", "created_at", "eid")
    # Uncorrelated subqueries are evaluated once: the same resends on every row.
    return f"""
        WITH stored AS (
            SELECT cs.id AS s, m.sender_id AS u, m.client_msg_id AS c, m.id, m.seq,
                   m.message, m.created_at, m.eid
            FROM unnest($2::text[], $3::bigint[], $4::text[]) AS k(sid, sender_id, client_id)
            JOIN {eventlog.SESSIONS} cs ON cs.session_id = k.sid
            JOIN {ChatMessage._meta.db_table} m ON m.session_id = cs.id
             AND m.sender_id = k.sender_id AND m.client_msg_id = k.client_id
        )
        SELECT id, session_id, {columns},
               {", ".join(f"(SELECT array_agg({c}) FROM stored)" for c in stored)}
        FROM {eventlog.SESSIONS} WHERE session_id = ANY($1::text[])"""


@cache
def _write_sql() -> str:
    rules = _rule_columns()
    arrays = ", ".join(f"${11 + i}::{kind}[]" for i, (_, kind) in enumerate(rules))
    names = ", ".join(column for column, _ in rules)
    guard = " AND ".join(f"cs.{column} IS NOT DISTINCT FROM v.{column}" for column, _ in rules)
    take = eventlog.take_seqs_sql(
        count="v.n",
        source=f"unnest($9::bigint[], $10::int[], {arrays}) AS v(i, n, {names})"
        " JOIN locked ON locked.id = v.i",
        where=f"cs.id = v.i AND {guard}",
    )
    append = eventlog.append_sql(
        "SELECT s, q, 'chat:added', jsonb_set(p::jsonb, '{id}', to_jsonb(i::text)),"
        " $1::timestamptz FROM written"
    )
    message_id = f"pg_get_serial_sequence('{ChatMessage._meta.db_table}', 'id')"
    # The rows are locked in id order first, as the notices' statement does: batches of
    # several processes (or a notices batch) that share sessions wait for each other
    # instead of deadlocking. Data-modifying CTEs always run; the inserts take only the
    # sessions the update moved. `written` is evaluated once (a volatile CTE is
    # materialized): one id per message.
    return f"""
        WITH locked AS (
            SELECT id FROM {eventlog.SESSIONS} WHERE id = ANY($9::bigint[]) ORDER BY id FOR UPDATE
        ), moved AS ({take}
        ), written AS (
            SELECT t.x, nextval({message_id}) AS i, t.s, moved.base + t.k AS q, t.u, t.m,
                   t.c, t.p
            FROM unnest($2::int[], $3::bigint[], $4::int[], $5::bigint[], $6::text[],
                        $7::text[], $8::text[]) AS t(x, s, k, u, m, c, p)
            JOIN moved ON moved.id = t.s
        ), messages AS (
            INSERT INTO {ChatMessage._meta.db_table}
                (id, session_id, seq, sender_id, message, client_msg_id, created_at, eid)
            SELECT i, s, q, u, m, c, $1, p::jsonb ->> 'eid' FROM written
        ), logged AS ({append}
        )
        SELECT x, i, q FROM written"""


# --- The algorithm, without I/O ----------------------------------------------------------


class Statement(NamedTuple):
    """Run `sql` (`$n` placeholders) with `args`; send back its rows (indexable)."""

    sql: str
    args: tuple


class Broadcast(NamedTuple):
    """Broadcast this committed event; send back None."""

    topic: str
    event: str
    payload: dict


# A stored message's payload, a resend's (the message stored before), or the refusal.
Result = dict | Resend | ServiceError
Step = Statement | Broadcast
Store = Generator[Step, Any, list[Result]]


class Finished(NamedTuple):
    """`advance`: the store is done; per post, its result."""

    results: list[Result]


def advance(
    store: Store,
    rows: Any,
    error: Exception | None,
    broadcast: Callable[[str, str, dict[str, Any]], None],
) -> Statement | Finished:
    """The store's next statement, once the last one answered `rows` (or raised `error`),
    handing its broadcasts to `broadcast` on the way; or `Finished`. Every driver steps
    the store through this, whatever its I/O."""
    while True:
        try:
            step = store.send(rows) if error is None else store.throw(error)
        except StopIteration as done:
            return Finished(done.value)
        if not isinstance(step, Broadcast):
            return step
        broadcast(step.topic, step.event, step.payload)
        rows, error = None, None


class Known:
    """The sessions a caller's batches went to, as last read (see the module docstring):
    what lets a batch skip its read. Bounded by KNOWN_LIMIT."""

    def __init__(self) -> None:
        self._rows: dict[str, Any] = {}

    def get(self, session_ids: list[str]) -> dict[str, Any] | None:
        """Every one of these sessions as known, or None if one is not."""
        try:
            return {sid: self._rows[sid] for sid in session_ids}
        except KeyError:
            return None

    def read(self, session_ids: list[str], rows: dict[str, Any]) -> None:
        """`session_ids` were read afresh: `rows` (a session missing from it is gone)."""
        if len(self._rows) >= KNOWN_LIMIT:
            self._rows.clear()
        for sid in session_ids:
            if sid in rows:
                self._rows[sid] = rows[sid]
            else:
                self._rows.pop(sid, None)

    def forget(self, session_id: str) -> None:
        """Its row changed since it was read."""
        self._rows.pop(session_id, None)


def store_batch(batch: list[CleanPost], known: Known | None = None) -> Store:
    """Store `batch`; per post, its payload or its error. A driver runs the statements it
    yields and throws what they raise back in; raises when the database is down. With
    `known`, a batch whose sessions it holds may be written without a read."""
    try:
        return (yield from _rounds(batch, known))
    except Exception as exc:
        if is_database_down(exc):
            raise
    # The database refused something in this batch: each message on its own, so that
    # only the one it refuses fails (`internal_error`, logged).
    results: list[Result] = []
    for item in batch:
        try:
            results += yield from _rounds([item], None)
        except Exception as exc:
            if is_database_down(exc):
                raise
            logger.exception("a chat message of a batch could not be stored")
            results.append(ServiceError("internal_error", "This message could not be stored."))
    return results


def _rounds(batch: list[CleanPost], known: Known | None) -> Store:
    results: list[Result | None] = [None] * len(batch)
    for _ in range(ROUNDS):
        todo = [i for i, result in enumerate(results) if result is None]
        if not todo:
            break
        try:
            done = yield from _round([batch[i] for i in todo], known)
        except Exception as exc:
            if _constraint(exc) != CLIENT_ID_CONSTRAINT:
                raise
            known = None  # a resend stored meanwhile: the next round reads, and finds it
            continue
        for i, result in zip(todo, done, strict=True):
            results[i] = result
    if any(result is None for result in results):
        raise RuntimeError(f"chat batch still contended after {ROUNDS} rounds")
    return results  # type: ignore[return-value]


def _constraint(exc: BaseException) -> str | None:
    """The constraint a statement violated, from asyncpg's or psycopg's error."""
    diag = getattr(exc, "diag", None)
    return getattr(exc, "constraint_name", None) or getattr(diag, "constraint_name", None)


class _Planned(NamedTuple):
    """A message a round writes: its place in the round, its session as read, its number
    among that session's new messages in the round (its seq is the row's + this)."""

    index: int
    session: Any
    nth: int
    item: CleanPost
    payload: dict


def _round(
    batch: list[CleanPost], known: Known | None
) -> Generator[Step, Any, list[Result | None]]:
    """A read (unless `known` lets every message through) and a write (module
    docstring); None: that message's session changed in between, try it again."""
    results: list[Result | None] = [None] * len(batch)
    session_ids = sorted({item.post.session_id for item in batch})
    sessions = known.get(session_ids) if known is not None else None
    stored: dict[tuple, tuple] = {}
    if sessions is None or any(
        decide(sessions[item.post.session_id], item.post.sender, None) is not WRITE
        for item in batch
    ):
        sessions, stored = yield from _read(batch, session_ids)
        if known is not None:
            known.read(session_ids, sessions)
    now = datetime.now(UTC)
    planned: list[_Planned] = []
    counts: dict[int, int] = {}  # session pk → its new messages so far
    new_keys: dict[tuple, int] = {}  # (session, sender, client id) → the index storing it
    repeats: dict[int, int] = {}  # index → the index storing the same message
    for i, item in enumerate(batch):
        post, session = item.post, sessions.get(item.post.session_id)
        key = (post.session_id, post.sender.pk, item.client_msg_id)
        if item.client_msg_id is not None and key in new_keys:
            repeats[i] = new_keys[key]  # the same message twice in this batch
            continue
        row = stored.get(key)
        decision = decide(session, post.sender, None if row is None else _payload(item, *row))
        if decision is not WRITE:
            results[i] = decision
            continue
        counts[session.pk] = counts.get(session.pk, 0) + 1
        if item.client_msg_id is not None:
            new_keys[key] = i
        payload = eventlog.stamped(
            events.chat_added_payload(
                message_id=0,  # set from the sequence by the write
                seq=0,  # set from the session's row by the write
                session_id=session.session_id,
                sender_info=events.sender(post.sender),
                text=item.text,
                client_msg_id=item.client_msg_id,
                created_at=now,
                eid=None,  # stamped: the message's row and its log row store this one
            )
        )
        planned.append(_Planned(i, session, counts[session.pk], item, payload))
    if planned:
        moving = {p.session.pk: p.session for p in planned}
        columns = [column for column, _ in _rule_columns()]
        written = yield Statement(
            _write_sql(),
            (
                now,
                list(range(len(planned))),
                [p.session.pk for p in planned],
                [p.nth for p in planned],
                [p.item.post.sender.pk for p in planned],
                [p.item.text for p in planned],
                [p.item.client_msg_id for p in planned],
                [orjson.dumps(p.payload).decode() for p in planned],
                list(moving),
                [counts[pk] for pk in moving],
                *([getattr(s, column) for s in moving.values()] for column in columns),
            ),
        )
        stamps = {row[0]: (row[1], row[2]) for row in written}  # place → (id, seq)
        for x, p in enumerate(planned):
            if x not in stamps:  # its row changed: None, another round, read afresh
                if known is not None:
                    known.forget(p.session.session_id)
                continue
            message_id, seq = stamps[x]
            p.payload["id"], p.payload["seq"] = str(message_id), seq
            results[p.index] = p.payload
            yield Broadcast(session_topic(p.session.session_id), "chat:added", p.payload)
    for i, first in repeats.items():
        stored_first = results[first]
        results[i] = Resend(stored_first) if isinstance(stored_first, dict) else stored_first
    return results


def _read(
    batch: list[CleanPost], session_ids: list[str]
) -> Generator[Step, Any, tuple[dict[str, Any], dict[tuple, tuple]]]:
    """The batch's sessions as the rules see them (by session id), and its resends."""
    keyed = [item for item in batch if item.client_msg_id is not None]
    read = yield Statement(
        _read_sql(),
        (
            session_ids,
            [item.post.session_id for item in keyed],
            [item.post.sender.pk for item in keyed],
            [item.client_msg_id for item in keyed],
        ),
    )
    row_type = _session_row()
    width = len(row_type._fields)
    sessions = {row[1]: row_type(*row[:width]) for row in read}
    return sessions, _stored(sessions, read[0][width:]) if read else {}


def _stored(sessions: dict[str, Any], arrays: tuple) -> dict[tuple, tuple]:
    """Resent messages already stored, by (session id, sender, client id): their id, seq,
    text, time and eid."""
    if arrays[0] is None:
        return {}
    by_pk = {session.pk: session.session_id for session in sessions.values()}
    return {
        (by_pk[pk], sender_id, client_id): tuple(stored)
        for pk, sender_id, client_id, *stored in zip(*arrays, strict=True)
    }


def _payload(
    item: CleanPost, message_id: int, seq: int, text: str, at: datetime, eid: str | None
) -> dict:
    """`chat:added` of a message stored before."""
    return events.chat_added_payload(
        message_id=message_id,
        seq=seq,
        session_id=item.post.session_id,
        sender_info=events.sender(item.post.sender),
        text=text,
        client_msg_id=item.client_msg_id,
        created_at=at,
        eid=eid,
    )


# --- REST, admin, commands: the store on Django's connection ------------------------------


def chat_message_post(
    *, session_id: str, sender: User, text: Any, client_msg_id: Any = None
) -> dict:
    """Store one chat line and broadcast `chat:added`; a resent `client_msg_id` is stored once."""
    [result] = chat_messages_post([ChatPost(session_id, sender, text, client_msg_id)])
    if isinstance(result, ServiceError):
        raise result
    return result


def chat_messages_post(posts: list[ChatPost]) -> list[dict | ServiceError]:
    """Store many messages as one batch; per post, its payload (a resend's: the message
    stored before) or its error (raises when the database is down). Broadcasts once the
    surrounding transaction commits."""
    results: list[dict | ServiceError | None] = [None] * len(posts)
    valid: list[tuple[int, CleanPost]] = []
    for i, post in enumerate(posts):
        try:
            valid.append((i, cleaned(post)))
        except ServiceError as exc:
            results[i] = exc
    if valid:
        stored = _run(store_batch([item for _, item in valid]))
        for (i, _), result in zip(valid, stored, strict=True):
            results[i] = result.payload if isinstance(result, Resend) else result
    return results  # type: ignore[return-value]


def _run(store: Store) -> list[Result]:
    """Drive `store` on Django's connection, each statement in a transaction (a
    savepoint inside the caller's) of its own, as the socket's writer does."""
    connection.ensure_connection()
    raw = connection.connection
    rows: Any = None
    error: Exception | None = None
    while not isinstance(step := advance(store, rows, error, broadcasts.on_commit), Finished):
        rows, error = None, None
        try:
            with transaction.atomic(), psycopg.RawCursor(raw) as cursor:
                cursor.execute(step.sql, step.args)
                rows = cursor.fetchall()
        except psycopg.Error as exc:
            error = exc
    return step.results
