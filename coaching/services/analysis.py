"""What the Node API's AI jobs push into a session: progress ticks and feedback cards."""

from typing import Any

from django.db import transaction

from coaching import events, policy
from coaching.models import Feedback, Swing, User
from coaching.realtime.publish import broadcast_on_commit
from coaching.services.lookup import get_session, locked_session
from coaching.services.swings import clean_key_frames


@transaction.atomic
def feedback_record(
    *,
    session_id: str,
    actor: User,
    swing_id: str,
    summary: str,
    metrics: dict[str, Any],
    recommendations: list[str],
    level: str = "",
    key_frames: dict[str, int] | None = None,
) -> tuple[dict, bool]:
    """Store the feedback for `swing_id` once and broadcast `ai:feedback` once.

    Returns the feedback payload and whether it was created now (False on a retry,
    which returns the stored card unchanged). Feedback for an ended session is
    still stored: an analysis result is never lost. `key_frames` must lie within
    the swing's duration when the session has that swing with a known duration.
    """
    policy.check_service(actor)
    session = locked_session(session_id)
    existing = Feedback.objects.filter(session=session, swing_id=swing_id).first()
    if existing is not None:
        return events.ai_feedback(existing), False
    swing = Swing.objects.filter(session=session, swing_id=swing_id).first()
    key_frames = clean_key_frames(key_frames, swing.duration_ms if swing else None)
    seq = events.next_seq(session)
    feedback = Feedback.objects.create(
        session=session,
        seq=seq,
        swing_id=swing_id,
        summary=summary,
        metrics=metrics,
        recommendations=recommendations,
        level=level,
        key_frames=key_frames,
    )
    payload = events.log_event(session, "ai:feedback", events.ai_feedback(feedback), seq=seq)
    broadcast_on_commit(session.topic, "ai:feedback", payload)
    return payload, True


def progress_post(*, session_id: str, actor: User, swing_id: str, percent: int, step: str) -> dict:
    """Broadcast an analysis progress tick. Ephemeral: nothing is stored, no seq."""
    policy.check_service(actor)
    session = get_session(session_id)
    payload = events.swing_progress(session, swing_id, percent, step)
    broadcast_on_commit(session.topic, "swing:progress", payload)
    return payload
