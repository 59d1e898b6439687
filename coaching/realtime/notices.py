"""Who came in or left, announced from the event loop, many in one statement.

A reconnect storm announces every coach and student again, so the notices are written
by statements on the socket's asyncpg pool, one at a time, each for every notice asked
for while the one before ran: the sessions' next seqs and the log rows
(coaching/eventlog.py; each payload stamped with its eid first), for the sessions that
have not ended (`state.open_sql`), then the broadcasts, in seq order.
"""

import asyncio
from functools import cache

import orjson

from coaching import broadcasts, eventlog, state
from coaching.models import User, session_topic
from coaching.realtime import pg
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


class _Notices:
    """The notices waiting for the next statement, and the one task writing them."""

    def __init__(self) -> None:
        self._asked: list[tuple[str, dict, asyncio.Future[dict | None]]] = []
        self._writing: asyncio.Task | None = None

    async def log(self, session_id: str, notice: dict) -> dict | None:
        """Log `notice` with the session's next seq and broadcast it: the payload as
        sent, or None when the session ended or is gone."""
        loop = asyncio.get_running_loop()
        if self._writing is None or self._writing.done() or self._writing.get_loop() is not loop:
            self._asked = []  # any left are of a loop that is gone (tests run several)
            self._writing = loop.create_task(self._write())
        logged = loop.create_future()
        self._asked.append((session_id, notice, logged))
        return await asyncio.shield(logged)

    async def _write(self) -> None:
        while self._asked:
            asked, self._asked = self._asked, []
            try:
                rows = await pg.socket_pool().fetch(
                    _log_unless_ended_sql(),
                    [session_id for session_id, _, _ in asked],
                    [orjson.dumps(notice).decode() for _, notice, _ in asked],
                )
            except Exception as exc:
                for _, _, logged in asked:
                    logged.set_exception(exc)
                    logged.exception()  # each asker gets it; none unretrieved if all left
                continue
            seqs = dict(rows)
            for n, (session_id, notice, logged) in enumerate(asked, 1):
                seq = seqs.get(n)
                payload = None if seq is None else {**notice, "seq": seq}
                if payload is not None:
                    broadcasts.now(session_topic(session_id), "system:notice", payload)
                logged.set_result(payload)


_notices = _Notices()


async def participant_announce(code: str, *, session_id: str, user: User, role: str) -> dict | None:
    """Tell the session that its coach or student came in (PARTICIPANT_JOINED) or has gone
    (PARTICIPANT_LEFT, after the grace period the channel waits, so that a dropped
    connection that comes back is not announced). The payload, or None when nothing was
    announced (the role is not announced, the session ended or is gone)."""
    notice = participant_notice(code, user, role)
    if notice is None:
        return None
    return await _notices.log(session_id, eventlog.stamped(notice))
