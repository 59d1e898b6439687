"""Event payloads, one builder per event type, and the session's event log.

These dicts are the wire schema of the contract (docs/protocol.md); the socket
and REST layers send them as they are. `log_event` gives a persisted event its
`seq` and must run inside the transaction that changes the session.
"""

from datetime import datetime
from typing import Any

from coaching.models import (
    Annotation,
    ChatMessage,
    Checkpoint,
    CoachingSession,
    Feedback,
    SessionEvent,
    Swing,
    User,
)

LOBBY_TOPIC = "lobby:coaches"


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def person(user: User | None) -> dict[str, str] | None:
    if user is None:
        return None
    return {"id": str(user.pk), "name": user.display_name}


def sender(user: User) -> dict[str, str]:
    return {"id": str(user.pk), "role": user.public_role, "name": user.display_name}


def session_state(session: CoachingSession) -> dict[str, Any]:
    return {
        "session_id": session.session_id,
        "status": session.status,
        "current_step": session.current_step,
        "coach": person(session.coach),
        "student": person(session.student),
        "updated_at": epoch_ms(session.updated_at),
    }


def lobby_entry(session: CoachingSession) -> dict[str, Any]:
    """What a coach's dashboard shows of a session."""
    return {
        **session_state(session),
        "title": session.title,
        "created_at": epoch_ms(session.created_at),
    }


def chat_added(message: ChatMessage) -> dict[str, Any]:
    return {
        "id": str(message.pk),
        "seq": message.seq,
        "session_id": message.session.session_id,
        "sender": sender(message.sender),
        "message": message.message,
        "client_msg_id": message.client_msg_id,
        "meta": {"ts": epoch_ms(message.created_at)},
    }


def ai_feedback(feedback: Feedback) -> dict[str, Any]:
    return {
        "id": str(feedback.pk),
        "seq": feedback.seq,
        "session_id": feedback.session.session_id,
        "swing_id": feedback.swing_id,
        "summary": feedback.summary,
        "metrics": feedback.metrics,
        "recommendations": feedback.recommendations,
        "level": feedback.level,
        "key_frames": feedback.key_frames,
        "created_at": epoch_ms(feedback.created_at),
    }


def system_notice(text: str, level: str) -> dict[str, Any]:
    return {"type": "system", "text": text, "level": level}


def checkpoint_added(checkpoint: Checkpoint) -> dict[str, Any]:
    return {
        "id": str(checkpoint.pk),
        "seq": checkpoint.seq,
        "session_id": checkpoint.session.session_id,
        "feedback_id": str(checkpoint.feedback_id),
        "swing_id": checkpoint.feedback.swing_id,
        "coach": person(checkpoint.coach),
        "note": checkpoint.note,
        "created_at": epoch_ms(checkpoint.created_at),
    }


def swing(swing: Swing) -> dict[str, Any]:
    """A swing as the room plays it (the contract's `Swing`)."""
    return {
        "swing_id": swing.swing_id,
        "video_url": swing.video_url,
        "poster_url": swing.poster_url,
        "fps": swing.fps,
        "duration_ms": swing.duration_ms,
        "club": swing.club,
        "camera_angle": swing.camera_angle,
        "label": swing.label,
        "recorded_at": epoch_ms(swing.recorded_at) if swing.recorded_at else None,
        "key_frames": swing.key_frames,
    }


def swing_added(added: Swing) -> dict[str, Any]:
    return {"seq": added.seq, "session_id": added.session.session_id, "swing": swing(added)}


def annotation_added(annotation: Annotation) -> dict[str, Any]:
    return {
        "id": str(annotation.pk),
        "seq": annotation.seq,
        "session_id": annotation.session.session_id,
        "swing_id": annotation.swing.swing_id,
        "time_ms": annotation.time_ms,
        "shapes": annotation.shapes,
        "note": annotation.note,
        "coach": person(annotation.coach),
        "created_at": epoch_ms(annotation.created_at),
    }


def swing_progress(session: CoachingSession, swing_id: str, percent: int, step: str) -> dict:
    return {
        "session_id": session.session_id,
        "swing_id": swing_id,
        "percent": percent,
        "step": step,
    }


def next_seq(session: CoachingSession) -> int:
    """Take the session's next seq. The caller holds the session row's lock."""
    session.last_seq += 1
    CoachingSession.objects.filter(pk=session.pk).update(last_seq=session.last_seq)
    return session.last_seq


def log_event(
    session: CoachingSession,
    event: str,
    payload: dict[str, Any],
    *,
    seq: int | None = None,
    dedupe_key: str | None = None,
) -> dict[str, Any]:
    """Append `event` to the session's log; returns the payload with its `seq`."""
    if seq is None:
        seq = next_seq(session)
    payload = {**payload, "seq": seq}
    SessionEvent.objects.create(
        session=session, seq=seq, event=event, payload=payload, dedupe_key=dedupe_key
    )
    return payload
