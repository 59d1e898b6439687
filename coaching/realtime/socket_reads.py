"""What the socket reads on its hot path: the user at connect, the join snapshot, and
the events a rejoin or a gap missed (checked against the eid the reader holds).

A reconnect storm brings every socket back at once, and each reads these. Through
the ORM that cost a thread hop and SQL compiled anew per query, seven queries per
snapshot: most of a storm's CPU (py-spy, bench/README.md). `PgSocketReads` reads them
from the event loop through a small asyncpg pool, a snapshot in one statement; the
rows become model instances and the payloads come from `selectors.snapshot_of` and
events.py, as REST's do. The snapshots of joins that come together, and the users of
connects that do, are read many in one statement (coalesce.py).
"""

from functools import cache
from typing import Any

import asyncpg

from coaching import selectors
from coaching.errors import ServiceError
from coaching.models import (
    Annotation,
    ChatMessage,
    Checkpoint,
    CoachingSession,
    Feedback,
    Status,
    Swing,
    User,
)
from coaching.realtime import pg
from coaching.realtime.coalesce import Coalesced
from coaching.realtime.db import in_db_thread

Snapshot = tuple[CoachingSession, dict[str, Any]]
# A user id is a PostgreSQL bigint.
BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1
Events = list[tuple[str, dict]]


class Diverged(Exception):
    """The log has another event at the seq a reader holds (its eid differs, or there
    is none there): the database lost events the reader saw, and their seqs were
    given again (docs/protocol.md, Recovery)."""


@cache
def _sql() -> dict[str, str]:
    """The statements, with every model's columns in `from_db` order (built once the
    models are loaded)."""
    user, session = pg.columns(User, "u"), pg.columns(CoachingSession, "s")
    return {
        "active_users": f"SELECT {user} FROM coaching_user u"
        " WHERE u.id = ANY($1::bigint[]) AND u.is_active",
        # Nested ROW()s arrive as tuples; ARRAY() of none is an empty list.
        "snapshots": f"""
            SELECT {session}, {pg.row_of(User, "st")},
                CASE WHEN co.id IS NULL THEN NULL ELSE {pg.row_of(User, "co")} END,
                ARRAY(SELECT ROW({pg.columns(ChatMessage, "m")}, {pg.row_of(User, "u")})
                      FROM coaching_chatmessage m JOIN coaching_user u ON u.id = m.sender_id
                      WHERE m.session_id = s.id ORDER BY m.seq DESC
                      LIMIT {selectors.SNAPSHOT_MESSAGES}),
                ARRAY(SELECT {pg.row_of(Feedback, "f")} FROM coaching_feedback f
                      WHERE f.session_id = s.id ORDER BY f.seq DESC
                      LIMIT {selectors.SNAPSHOT_FEEDBACK}),
                ARRAY(SELECT ROW({pg.columns(Checkpoint, "c")}, {pg.row_of(Feedback, "f")},
                                 {pg.row_of(User, "u")})
                      FROM coaching_checkpoint c
                      JOIN coaching_feedback f ON f.id = c.feedback_id
                      JOIN coaching_user u ON u.id = c.coach_id
                      WHERE c.session_id = s.id AND c.feedback_id IN (
                          SELECT id FROM coaching_feedback WHERE session_id = s.id
                          ORDER BY seq DESC LIMIT {selectors.SNAPSHOT_FEEDBACK})
                      ORDER BY c.seq),
                ARRAY(SELECT ROW(e.event, e.payload) FROM coaching_sessionevent e
                      WHERE e.session_id = s.id ORDER BY e.seq DESC
                      LIMIT {selectors.SNAPSHOT_EVENTS + 1}),
                ARRAY(SELECT {pg.row_of(Swing, "w")} FROM coaching_swing w
                      WHERE w.session_id = s.id ORDER BY w.seq),
                ARRAY(SELECT ROW({pg.columns(Annotation, "a")}, {pg.row_of(Swing, "w")},
                                 {pg.row_of(User, "u")})
                      FROM coaching_annotation a
                      JOIN coaching_swing w ON w.id = a.swing_id
                      JOIN coaching_user u ON u.id = a.coach_id
                      WHERE a.session_id = s.id ORDER BY a.seq DESC
                      LIMIT {selectors.SNAPSHOT_ANNOTATIONS})
            FROM coaching_coachingsession s
            JOIN coaching_user st ON st.id = s.student_id
            LEFT JOIN coaching_user co ON co.id = s.coach_id
            WHERE s.session_id = ANY($1::text[])""",
        "events_from": """
            SELECT e.seq, e.event, e.payload FROM coaching_sessionevent e
            JOIN coaching_coachingsession s ON s.id = e.session_id
            WHERE s.session_id = $1 AND e.seq >= $2 ORDER BY e.seq LIMIT $3""",
    }


class SocketReads:
    """The reads from the event loop, on the process's asyncpg pool (`pg.socket_pool`,
    module docstring)."""

    def __init__(self, pool: pg.LoopPool) -> None:
        self._pool = pool
        self._users = Coalesced(self._active_users)
        self._snapshots = Coalesced(self._snapshot_rows)

    async def active_user(self, user_id: int) -> User | None:
        """The user, if they exist and are active. The users of connects that come
        together are read in one statement."""
        if not BIGINT_MIN <= user_id <= BIGINT_MAX:
            return None  # no such id (and it would fail the statement of the others)
        row = await self._users(user_id)
        return None if row is None else pg.instance(User, row)  # each socket its own

    async def _snapshot_rows(self, session_ids: list[str]) -> list[asyncpg.Record | None]:
        rows = await self._pool.fetch(_sql()["snapshots"], session_ids)
        at = [f.attname for f in CoachingSession._meta.concrete_fields].index("session_id")
        found = {row[at]: row for row in rows}
        return [found.get(session_id) for session_id in session_ids]

    async def _active_users(self, user_ids: list[int]) -> list[asyncpg.Record | None]:
        rows = await self._pool.fetch(_sql()["active_users"], user_ids)
        at = User._meta.concrete_fields.index(User._meta.pk)
        found = {row[at]: row for row in rows}
        return [found.get(user_id) for user_id in user_ids]

    async def snapshot(self, session_id: str) -> Snapshot:
        """The session and its join snapshot; `not_found` when there is no such session.
        The snapshots of joins of several sessions that come together are read in one
        statement."""
        row = await self._snapshots(session_id)
        if row is None:
            raise ServiceError("not_found", "No such session.")  # as get_session says it
        session, snapshot = _snapshot_from(row)
        if session.status == Status.ENDED:
            snapshot["recap"] = await in_db_thread(selectors.session_recap)(session)
        return session, snapshot

    async def events_after(
        self, session_id: str, seq: int, eid: str | None = None
    ) -> Events | None:
        """The session's events after `seq`, oldest first; None when more than
        `selectors.MAX_REPLAY` were missed. With `eid` (what the reader holds at `seq`),
        raises `Diverged` unless the log's event at `seq` is that one."""
        limit = selectors.MAX_REPLAY
        if eid is None:
            rows = await self._pool.fetch(_sql()["events_from"], session_id, seq + 1, limit + 1)
        else:
            rows = await self._pool.fetch(_sql()["events_from"], session_id, seq, limit + 2)
            if not rows or rows[0][0] != seq or pg.json_value(rows[0][2]).get("eid") != eid:
                raise Diverged(seq)
            rows = rows[1:]
        if len(rows) > limit:
            return None
        return [(event, pg.json_value(payload)) for _, event, payload in rows]


def _snapshot_from(row: asyncpg.Record) -> Snapshot:
    width = len(CoachingSession._meta.concrete_fields)
    session = pg.instance(CoachingSession, row[:width])
    student, coach, messages, feedback, checkpoints, events, swings, annotations = row[width:]
    session.student = pg.instance(User, student)
    session.coach = None if coach is None else pg.instance(User, coach)
    return session, selectors.snapshot_of(
        session,
        newest_messages=[_message(session, values) for values in messages],
        newest_feedback=[_feedback(session, values) for values in feedback],
        checkpoints=[_checkpoint(session, values) for values in checkpoints],
        newest_events=[(event, pg.json_value(payload)) for event, payload in events],
        swings=[_with_session(Swing, session, values) for values in swings],
        newest_annotations=[_annotation(session, values) for values in annotations],
        recap=None,
    )


def _with_session(model: type, session: CoachingSession, values: tuple) -> Any:
    obj = pg.instance(model, values)
    obj.session = session
    return obj


def _message(session: CoachingSession, values: tuple) -> ChatMessage:
    message = _with_session(ChatMessage, session, values[:-1])
    message.sender = pg.instance(User, values[-1])
    return message


def _feedback(session: CoachingSession, values: tuple) -> Feedback:
    return _with_session(Feedback, session, values)


def _checkpoint(session: CoachingSession, values: tuple) -> Checkpoint:
    checkpoint = _with_session(Checkpoint, session, values[:-2])
    checkpoint.feedback = _feedback(session, values[-2])
    checkpoint.coach = pg.instance(User, values[-1])
    return checkpoint


def _annotation(session: CoachingSession, values: tuple) -> Annotation:
    annotation = _with_session(Annotation, session, values[:-2])
    annotation.swing = _with_session(Swing, session, values[-2])
    annotation.coach = pg.instance(User, values[-1])
    return annotation


@cache
def socket_reads() -> SocketReads:
    """This process's reads, on its asyncpg pool."""
    return SocketReads(pg.socket_pool())
