"""What the Node API's AI jobs push into a session: progress ticks and feedback cards.

The session's step follows them (a tick moves it to `analysis`, a card to `feedback`)
unless the coach has set the step. Ticks are ephemeral, but a tick that reaches a new
analysis step, or 100 %, is logged once as an `analysis:milestone`, so the timeline
shows the analysis after a reload.
"""

import hashlib
from typing import Any

from django.db import transaction

from coaching import broadcasts, eventlog, events, policy
from coaching.models import Feedback, SessionEvent, Status, Step, Swing, User
from coaching.services.lookup import locked_session
from coaching.services.sessions import step_follow_analysis
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
    seq = eventlog.next_seq(session)
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
    payload = eventlog.append(session, "ai:feedback", events.ai_feedback(feedback), seq=seq)
    broadcasts.on_commit(session.topic, "ai:feedback", payload)
    step_follow_analysis(session, Step.FEEDBACK)
    if session.status == Status.WAITING:
        # Coaches triage the waiting list by the latest swing: refresh its entry.
        broadcasts.on_commit(events.LOBBY_TOPIC, "session:updated", events.lobby_entry(session))
    return payload, True


def _milestone_key(swing_id: str, step: str, percent: int) -> str:
    """One milestone per swing and step, and one for 100 % (the key fits 100 chars)."""
    mark = "100%" if percent == 100 else f"step:{step}"
    return "milestone:" + hashlib.sha256(f"{swing_id}\n{mark}".encode()).hexdigest()[:40]


@transaction.atomic
def progress_post(*, session_id: str, actor: User, swing_id: str, percent: int, step: str) -> dict:
    """Broadcast an analysis progress tick (`swing:progress`, ephemeral, no seq).

    A tick that reaches a new step of the swing's analysis, or 100 %, is also logged
    as `analysis:milestone`. A tick for a swing that has no card yet moves the
    session's step to `analysis` (unless the coach set the step).
    """
    policy.check_service(actor)
    session = locked_session(session_id)
    if not Feedback.objects.filter(session=session, swing_id=swing_id).exists():
        step_follow_analysis(session, Step.ANALYSIS)
    key = _milestone_key(swing_id, step, percent)
    if not SessionEvent.objects.filter(session=session, dedupe_key=key).exists():
        milestone = eventlog.append(
            session,
            "analysis:milestone",
            events.analysis_milestone(session, swing_id, step, percent),
            dedupe_key=key,
        )
        broadcasts.on_commit(session.topic, "analysis:milestone", milestone)
    payload = events.swing_progress(session, swing_id, percent, step)
    broadcasts.on_commit(session.topic, "swing:progress", payload)
    return payload
