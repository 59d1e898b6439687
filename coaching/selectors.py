"""Reads: what a joining client, a dashboard and the history endpoints see."""

from typing import Any

from django.db.models import QuerySet

from coaching import events, policy
from coaching.errors import ServiceError
from coaching.models import (
    Annotation,
    ChatMessage,
    Checkpoint,
    CoachingSession,
    Feedback,
    SessionEvent,
    Status,
    Swing,
    User,
)

SNAPSHOT_MESSAGES = 50
SNAPSHOT_FEEDBACK = 20
SNAPSHOT_ANNOTATIONS = 200
# A rejoining client that missed more events than this reloads the snapshot instead.
MAX_REPLAY = 500


def session_snapshot(session: CoachingSession) -> dict[str, Any]:
    """The join reply: state, recent chat, feedback cards with the coach's checkpoints,
    the swings and the latest annotations, and the seq it is current to."""
    messages = list(
        ChatMessage.objects.filter(session=session)
        .select_related("sender", "session")
        .order_by("-seq")[:SNAPSHOT_MESSAGES]
    )
    feedback = list(
        Feedback.objects.filter(session=session)
        .select_related("session")
        .order_by("-seq")[:SNAPSHOT_FEEDBACK]
    )
    annotations = list(annotation_list(session).order_by("-seq")[:SNAPSHOT_ANNOTATIONS])
    return {
        "session": events.session_state(session),
        "messages": [events.chat_added(m) for m in reversed(messages)],
        "feedback": [events.ai_feedback(f) for f in reversed(feedback)],
        "checkpoints": [
            events.checkpoint_added(c)
            for c in checkpoint_list(session).filter(feedback__in=feedback)
        ],
        "last_seq": session.last_seq,
        "swings": [events.swing(w) for w in swing_list(session)],
        "annotations": [events.annotation_added(a) for a in reversed(annotations)],
    }


def events_after(session: CoachingSession, seq: int) -> list[tuple[str, dict]] | None:
    """Events after `seq`, oldest first; None when more than MAX_REPLAY were missed."""
    rows = list(
        SessionEvent.objects.filter(session=session, seq__gt=seq)
        .order_by("seq")
        .values_list("event", "payload")[: MAX_REPLAY + 1]
    )
    if len(rows) > MAX_REPLAY:
        return None
    return rows


def waiting_sessions() -> QuerySet[CoachingSession]:
    return (
        CoachingSession.objects.filter(status=Status.WAITING)
        .select_related("student", "coach")
        .order_by("created_at")
    )


def lobby_snapshot() -> list[dict[str, Any]]:
    return [events.lobby_entry(s) for s in waiting_sessions()[:200]]


def sessions_visible_to(user: User, *, status: str | None = None) -> QuerySet[CoachingSession]:
    """The sessions `user` may list, newest first, optionally only those in `status`."""
    sessions = CoachingSession.objects.select_related("student", "coach").filter(
        policy.visible_sessions(user)
    )
    if status is not None:
        sessions = sessions.filter(status=status)
    return sessions.order_by("-created_at", "-pk")


def visible_session(user: User, session_id: str) -> CoachingSession:
    """The session, if `user` may see it; otherwise `not_found`, as if it did not exist."""
    session = sessions_visible_to(user).filter(session_id=session_id).first()
    if session is None:
        raise ServiceError("not_found", "No such session.")
    return session


def chat_history(session: CoachingSession, after_seq: int = 0) -> QuerySet[ChatMessage]:
    return (
        ChatMessage.objects.filter(session=session, seq__gt=after_seq)
        .select_related("sender", "session")
        .order_by("seq")
    )


def feedback_list(session: CoachingSession) -> QuerySet[Feedback]:
    return Feedback.objects.filter(session=session).select_related("session").order_by("seq")


def checkpoint_list(session: CoachingSession) -> QuerySet[Checkpoint]:
    return (
        Checkpoint.objects.filter(session=session)
        .select_related("session", "feedback", "coach")
        .order_by("seq")
    )


def swing_list(session: CoachingSession) -> QuerySet[Swing]:
    """The session's swings (at most MAX_SWINGS_PER_SESSION), in the order attached."""
    return Swing.objects.filter(session=session).select_related("session").order_by("seq")


def annotation_list(session: CoachingSession) -> QuerySet[Annotation]:
    return (
        Annotation.objects.filter(session=session)
        .select_related("session", "swing", "coach")
        .order_by("seq")
    )


def annotations_for_recap(session: CoachingSession) -> list[dict[str, Any]]:
    """The recap's `annotations`: every saved annotation, as `annotation:added`, in order."""
    return [events.annotation_added(a) for a in annotation_list(session)]
