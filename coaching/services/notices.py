"""System notices: the service's and admins' announcements, and who came in or left.

Every notice carries a Korean `text` (for clients that show it as is) and a `code` +
`params` from which a page renders it in its viewer's language.
"""

import orjson
from django.db import transaction

from coaching import events, policy
from coaching.errors import ServiceError
from coaching.models import CoachingSession, SessionEvent, Status, User, session_topic
from coaching.realtime.db import in_db_thread
from coaching.realtime.publish import broadcast_on_commit, broadcast_queued
from coaching.services import pg
from coaching.services.lookup import locked_session

LEVELS = ("info", "success", "warning", "error")

SERVICE = "service"
PARTICIPANT_JOINED = "participant_joined"
PARTICIPANT_LEFT = "participant_left"

# Korean texts of the participant notices, by code and role.
PARTICIPANT_TEXT = {
    PARTICIPANT_JOINED: {
        "coach": "코치 {name}님이 세션에 입장했습니다.",
        "student": "{name}님이 세션에 입장했습니다.",
    },
    PARTICIPANT_LEFT: {
        "coach": "코치 {name}님이 세션에서 나갔습니다.",
        "student": "{name}님이 세션에서 나갔습니다.",
    },
}


def _post(
    session: CoachingSession,
    notice: dict,
    dedupe_key: str | None = None,
) -> dict:
    payload = events.log_event(session, "system:notice", notice, dedupe_key=dedupe_key)
    broadcast_on_commit(session.topic, "system:notice", payload)
    return payload


@transaction.atomic
def notice_post(
    *, session_id: str, actor: User, text: str, level: str = "info", notice_id: str | None = None
) -> tuple[dict, bool]:
    """Post a notice (code `service`); a retry with the same `notice_id` returns the
    first, unbroadcast."""
    policy.check_post_notice(actor)
    session = locked_session(session_id)
    if notice_id is not None:
        existing = SessionEvent.objects.filter(session=session, dedupe_key=notice_id).first()
        if existing is not None:
            return existing.payload, False
    return _post(session, events.system_notice(text, level, SERVICE), notice_id), True


def participant_notice(code: str, user: User, role: str) -> dict | None:
    """`code` for the session's coach or student; observers and previewing coaches come
    and go silently (None)."""
    template = PARTICIPANT_TEXT[code].get(role)
    if template is None:
        return None
    params = {"name": user.display_name, "role": role}
    return events.system_notice(template.format(name=user.display_name), "info", code, params)


# One statement, one commit: the next seq, the log row (the payload with its seq), unless
# the session has ended. The UPDATE locks the row and reads its latest version, as
# `locked_session` does.
LOG_UNLESS_ENDED = """
    WITH moved AS (
        UPDATE coaching_coachingsession SET last_seq = last_seq + 1
        WHERE session_id = $1 AND status <> $2 RETURNING id, last_seq
    ), logged AS (
        INSERT INTO coaching_sessionevent (session_id, seq, event, payload, created_at)
        SELECT id, last_seq, 'system:notice', $3::jsonb || jsonb_build_object('seq', last_seq),
               now()
        FROM moved
    )
    SELECT last_seq FROM moved"""


async def participant_announce(code: str, *, session_id: str, user: User, role: str) -> dict | None:
    """Tell the session that its coach or student came in (PARTICIPANT_JOINED) or has gone
    (PARTICIPANT_LEFT, after the grace period the channel waits, so that a dropped
    connection that comes back is not announced), from the event loop. On PostgreSQL
    one statement through the socket's asyncpg pool (a reconnect storm announces every
    coach and student again), else the ORM on the thread pool. The payload, or None when
    nothing was announced (the role is not announced, the session ended or is gone)."""
    notice = participant_notice(code, user, role)
    if notice is None:
        return None
    if not pg.on_postgresql():
        return await in_db_thread(_log_unless_ended)(session_id, notice)
    rows = await pg.socket_pool().fetch(
        LOG_UNLESS_ENDED, session_id, Status.ENDED, orjson.dumps(notice).decode()
    )
    if not rows:
        return None
    payload = {**notice, "seq": rows[0][0]}
    broadcast_queued(session_topic(session_id), "system:notice", payload)
    return payload


def _log_unless_ended(session_id: str, notice: dict) -> dict | None:
    """LOG_UNLESS_ENDED through the ORM, and the broadcast."""
    with transaction.atomic():
        try:
            session = locked_session(session_id)
        except ServiceError:
            return None  # the session is gone
        if session.status == Status.ENDED:
            return None
        return _post(session, notice)
