"""Who came in or left, announced from the event loop in one statement.

A reconnect storm announces every coach and student again, so the notice is one
statement on the socket's asyncpg pool: the next seq and the log row (coaching/eventlog.py;
the payload is stamped with its eid first), unless the session has ended
(`state.open_sql`), then the broadcast.
"""

from functools import cache

import orjson

from coaching import broadcasts, eventlog, state
from coaching.models import User, session_topic
from coaching.realtime import pg
from coaching.services.notices import participant_notice


@cache
def _log_unless_ended_sql() -> str:
    take = eventlog.take_seqs_sql(where=f"cs.session_id = $1 AND {state.open_sql('cs')}")
    append = eventlog.append_sql(
        "SELECT id, base + 1, 'system:notice', $2::jsonb, now() FROM moved"
    )
    return f"WITH moved AS ({take}), logged AS ({append}) SELECT base + 1 FROM moved"


async def participant_announce(code: str, *, session_id: str, user: User, role: str) -> dict | None:
    """Tell the session that its coach or student came in (PARTICIPANT_JOINED) or has gone
    (PARTICIPANT_LEFT, after the grace period the channel waits, so that a dropped
    connection that comes back is not announced). The payload, or None when nothing was
    announced (the role is not announced, the session ended or is gone)."""
    notice = participant_notice(code, user, role)
    if notice is None:
        return None
    notice = eventlog.stamped(notice)
    rows = await pg.socket_pool().fetch(
        _log_unless_ended_sql(), session_id, orjson.dumps(notice).decode()
    )
    if not rows:
        return None
    payload = {**notice, "seq": rows[0][0]}
    broadcasts.now(session_topic(session_id), "system:notice", payload)
    return payload
