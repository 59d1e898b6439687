"""System notices: the service's and admins' announcements, and who came in or left.

Every notice carries a Korean `text` (for clients that show it as is) and a `code` +
`params` from which a page renders it in its viewer's language.
"""

from django.db import transaction

from coaching import broadcasts, eventlog, events, policy
from coaching.models import CoachingSession, SessionEvent, User
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
    payload = eventlog.append(session, "system:notice", notice, dedupe_key=dedupe_key)
    broadcasts.on_commit(session.topic, "system:notice", payload)
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
