"""System notices: the service's and admins' announcements, and "X joined" on entry."""

from django.db import transaction

from coaching import events, policy
from coaching.models import CoachingSession, SessionEvent, User
from coaching.realtime.publish import broadcast_on_commit
from coaching.services.lookup import locked_session

LEVELS = ("info", "success", "warning", "error")


def _post(session: CoachingSession, text: str, level: str, dedupe_key: str | None) -> dict:
    payload = events.log_event(
        session, "system:notice", events.system_notice(text, level), dedupe_key=dedupe_key
    )
    broadcast_on_commit(session.topic, "system:notice", payload)
    return payload


@transaction.atomic
def notice_post(
    *, session_id: str, actor: User, text: str, level: str = "info", notice_id: str | None = None
) -> tuple[dict, bool]:
    """Post a notice; a retry with the same `notice_id` returns the first, unbroadcast."""
    policy.check_post_notice(actor)
    session = locked_session(session_id)
    if notice_id is not None:
        existing = SessionEvent.objects.filter(session=session, dedupe_key=notice_id).first()
        if existing is not None:
            return existing.payload, False
    return _post(session, text, level, notice_id), True


# Korean texts of the entry notice, by role; pages render code + params instead.
ENTRY_TEXT = {
    "coach": "코치 {name}님이 세션에 입장했습니다.",
    "student": "{name}님이 세션에 입장했습니다.",
}


@transaction.atomic
def entry_announce(*, session_id: str, user: User, role: str) -> dict | None:
    """Tell the session that its coach or student came in (observers enter silently)."""
    template = ENTRY_TEXT.get(role)
    if template is None:
        return None
    session = locked_session(session_id)
    if session.status == "ended":
        return None
    payload = events.log_event(
        session,
        "system:notice",
        events.system_notice(
            template.format(name=user.display_name),
            "info",
            "participant_joined",
            {"name": user.display_name, "role": role},
        ),
    )
    broadcast_on_commit(session.topic, "system:notice", payload)
    return payload
