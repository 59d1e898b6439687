"""What the Node API's AI jobs push into a session: progress ticks and feedback cards."""

from typing import Any

from django.db import transaction

from coaching import events, policy
from coaching.models import Feedback, User
from coaching.realtime.publish import broadcast_on_commit
from coaching.services.lookup import get_session, locked_session


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
) -> tuple[dict, bool]:
    """Store the feedback for `swing_id` once and broadcast `ai:feedback` once.

    Returns the feedback payload and whether it was created now (False on a retry,
    which returns the stored card unchanged). Feedback for an ended session is
    still stored: an analysis result is never lost.
    """
    policy.check_service(actor)
    session = locked_session(session_id)
    existing = Feedback.objects.filter(session=session, swing_id=swing_id).first()
    if existing is not None:
        return events.ai_feedback(existing), False
    seq = events.next_seq(session)
    feedback = Feedback.objects.create(
        session=session,
        seq=seq,
        swing_id=swing_id,
        summary=summary,
        metrics=metrics,
        recommendations=recommendations,
        level=level,
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
