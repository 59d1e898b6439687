"""Reads: what a joining client, a dashboard and the history endpoints see."""

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from coaching import events, policy
from coaching.errors import ServiceError
from coaching.models import (
    ChatMessage,
    Checkpoint,
    CoachingSession,
    Feedback,
    SessionEvent,
    Status,
    User,
)

SNAPSHOT_MESSAGES = 50
SNAPSHOT_FEEDBACK = 20
SNAPSHOT_EVENTS = 100
# A rejoining client that missed more events than this reloads the snapshot instead.
MAX_REPLAY = 500


def session_snapshot(session: CoachingSession) -> dict[str, Any]:
    """The join reply: state, recent chat, feedback cards with the coach's checkpoints,
    and the seq it is current to."""
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
    return {
        "session": events.session_state(session),
        "messages": [events.chat_added(m) for m in reversed(messages)],
        "feedback": [events.ai_feedback(f) for f in reversed(feedback)],
        "checkpoints": [
            events.checkpoint_added(c)
            for c in checkpoint_list(session).filter(feedback__in=feedback)
        ],
        "last_seq": session.last_seq,
        **recent_events(session),
        "recap": session_recap(session) if session.status == Status.ENDED else None,
        "server_time": events.epoch_ms(timezone.now()),
    }


def recent_events(session: CoachingSession) -> dict[str, Any]:
    """The latest SNAPSHOT_EVENTS log entries in seq order, and whether older ones exist."""
    rows = list(
        SessionEvent.objects.filter(session=session)
        .order_by("-seq")
        .values_list("event", "payload")[: SNAPSHOT_EVENTS + 1]
    )
    return {
        "events": [{"event": e, "payload": p} for e, p in reversed(rows[:SNAPSHOT_EVENTS])],
        "has_more_before": len(rows) > SNAPSHOT_EVENTS,
    }


def events_before(
    session: CoachingSession, before_seq: int | None, limit: int
) -> tuple[list[dict[str, Any]], bool]:
    """Up to `limit` log entries before `before_seq` (all when None), oldest first,
    and whether older ones remain."""
    rows = SessionEvent.objects.filter(session=session)
    if before_seq is not None:
        rows = rows.filter(seq__lt=before_seq)
    page = list(rows.order_by("-seq")[: limit + 1])
    return [
        {
            "seq": row.seq,
            "event": row.event,
            "payload": row.payload,
            "created_at": events.epoch_ms(row.created_at),
        }
        for row in reversed(page[:limit])
    ], len(page) > limit


def session_recap(session: CoachingSession) -> dict[str, Any]:
    """The end-of-lesson summary: duration, cards, checkpoints and what to practise."""
    cards = [events.ai_feedback(f) for f in feedback_list(session)]
    practice = list(dict.fromkeys(line for card in cards for line in card["recommendations"]))
    ended = session.ended_at or session.updated_at
    return {
        "duration_ms": events.epoch_ms(ended) - events.epoch_ms(session.created_at),
        "started_at": events.epoch_ms(session.created_at),
        "ended_at": events.epoch_ms(ended),
        "feedback": cards,
        "checkpoints": [events.checkpoint_added(c) for c in checkpoint_list(session)],
        "practice": practice,
        "annotations": [],
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
