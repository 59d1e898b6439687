"""Who came in or left, announced from the event loop, many in one statement.

A reconnect storm announces every coach and student again, so the notices are written
by statements on the socket's asyncpg pool, one at a time, each for every notice asked
for while the one before ran: the sessions' next seqs and the log rows
(coaching/eventlog.py; each payload stamped with its eid first), for the sessions that
have not ended (`state.open_sql`), then the broadcasts, in seq order.
"""

from functools import cache

import orjson

from coaching import broadcasts, eventlog, state
from coaching.models import User, session_topic
from coaching.realtime import pg
from coaching.realtime.coalesce import Coalesced
from coaching.services.notices import participant_notice


@cache
def _log_unless_ended_sql() -> str:
    """$1: the sessions' ids, $2: the notices (jsonb), in the order asked. Returns the
    seq each notice got (by its 1-based place), none for an ended or missing session."""
    sessions = eventlog.SESSIONS
    # The rows are locked in id order: statements of several processes that take the
    # same sessions wait for each other instead of deadlocking.
    take = eventlog.take_seqs_sql(
        where=f"cs.id = c.id AND {state.open_sql('cs')}", count="c.k", source="counts AS c"
    )
    append = eventlog.append_sql("SELECT id, seq, 'system:notice', payload, now() FROM numbered")
    return f"""
        WITH asked AS (
            SELECT a.sid, a.payload, a.n
            FROM unnest($1::text[], $2::jsonb[]) WITH ORDINALITY AS a(sid, payload, n)
        ), locked AS (
            SELECT cs.id, cs.session_id FROM {sessions} cs
            WHERE cs.session_id = ANY($1::text[]) ORDER BY cs.id FOR UPDATE
        ), counts AS (
            SELECT l.id, count(*)::int AS k FROM asked JOIN locked l ON l.session_id = asked.sid
            GROUP BY l.id
        ), moved AS ({take}
        ), numbered AS (
            SELECT m.id, asked.n, asked.payload,
                   m.base + row_number() OVER (PARTITION BY m.id ORDER BY asked.n) AS seq
            FROM asked JOIN locked l ON l.session_id = asked.sid JOIN moved m ON m.id = l.id
        ), logged AS ({append}
        )
        SELECT n, seq FROM numbered"""


async def _log(asked: list[tuple[str, dict]]) -> list[dict | None]:
    """Log each (session id, notice) with its session's next seq, broadcast those logged
    in seq order: the payloads as sent (None: the session ended or is gone)."""
    rows = await pg.socket_pool().fetch(
        _log_unless_ended_sql(),
        [session_id for session_id, _ in asked],
        [orjson.dumps(notice).decode() for _, notice in asked],
    )
    seqs = dict(rows)
    logged = []
    for n, (session_id, notice) in enumerate(asked, 1):
        payload = None if n not in seqs else {**notice, "seq": seqs[n]}
        if payload is not None:
            broadcasts.now(session_topic(session_id), "system:notice", payload)
        logged.append(payload)
    return logged


# Notices asked while one statement runs go in the next.
_notices = Coalesced(_log)


async def participant_announce(code: str, *, session_id: str, user: User, role: str) -> dict | None:
    """Tell the session that its coach or student came in (PARTICIPANT_JOINED) or has gone
    (PARTICIPANT_LEFT, after the grace period the channel waits, so that a dropped
    connection that comes back is not announced). The payload, or None when nothing was
    announced (the role is not announced, the session ended or is gone)."""
    notice = participant_notice(code, user, role)
    if notice is None:
        return None
    return await _notices((session_id, eventlog.stamped(notice)))
