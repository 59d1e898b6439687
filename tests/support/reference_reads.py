"""The socket's reads as the ORM would make them: the oracle its asyncpg statements are
held to (tests/realtime/test_socket_reads.py), composed from the selectors REST uses."""

from typing import Any

from coaching.models import ChatMessage, CoachingSession, Feedback, SessionEvent, Status
from coaching.selectors import (
    MAX_REPLAY,
    SNAPSHOT_ANNOTATIONS,
    SNAPSHOT_EVENTS,
    SNAPSHOT_FEEDBACK,
    SNAPSHOT_MESSAGES,
    annotation_list,
    checkpoint_list,
    session_recap,
    snapshot_of,
    swing_list,
)


def session_snapshot(session: CoachingSession) -> dict[str, Any]:
    """The join reply; `snapshot_of` says what is in it."""
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
    return snapshot_of(
        session,
        newest_messages=messages,
        newest_feedback=feedback,
        checkpoints=list(checkpoint_list(session).filter(feedback__in=feedback)),
        newest_events=list(
            SessionEvent.objects.filter(session=session)
            .order_by("-seq")
            .values_list("event", "payload")[: SNAPSHOT_EVENTS + 1]
        ),
        swings=list(swing_list(session)),
        newest_annotations=list(annotation_list(session).order_by("-seq")[:SNAPSHOT_ANNOTATIONS]),
        recap=session_recap(session) if session.status == Status.ENDED else None,
    )


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
