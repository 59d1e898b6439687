"""Event payloads, one builder per event type, and the session's event log.

These dicts are the wire schema of the contract (docs/protocol.md); the socket
and REST layers send them as they are. `log_event` gives a persisted event its
`seq` and must run inside the transaction that changes the session.
"""

from datetime import datetime
from typing import Any

from coaching.models import (
    ChatMessage,
    Checkpoint,
    CoachingSession,
    Feedback,
    SessionEvent,
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
        "created_at": epoch_ms(feedback.created_at),
    }


def system_notice(
    text: str, level: str, code: str = "service", params: dict[str, str] | None = None
) -> dict[str, Any]:
    """`text` is Korean, for clients that show it as is; pages render `code` + `params`
    in their viewer's language. Codes: participant_joined, participant_left, service."""
    return {"type": "system", "text": text, "level": level, "code": code, "params": params or {}}


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
