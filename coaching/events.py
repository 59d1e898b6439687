"""Event payloads, one builder per event type, and the session's event log.

These dicts are the wire schema of the contract (docs/protocol.md); the socket
and REST layers send them as they are. A persisted event gets its `seq` and `eid`
from the session's event log (coaching/eventlog.py); a record's payload carries the
eid stored with it.
"""

from datetime import datetime
from typing import Any

from coaching.models import (
    Annotation,
    ChatMessage,
    Checkpoint,
    CoachingSession,
    Feedback,
    Swing,
    User,
)

LOBBY_TOPIC = "lobby:coaches"


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def optional_epoch_ms(moment: datetime | None) -> int | None:
    return None if moment is None else epoch_ms(moment)


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
        "created_at": epoch_ms(session.created_at),
        "started_at": optional_epoch_ms(session.started_at),
        "ended_at": optional_epoch_ms(session.ended_at),
        "step_source": session.step_source,
    }


def swing_summary(feedback: Feedback | None) -> dict[str, Any] | None:
    """The latest analysed swing, in a line: what a coach triages the lobby by."""
    if feedback is None:
        return None
    return {
        "swing_id": feedback.swing_id,
        "summary": feedback.summary,
        "level": feedback.level,
        "created_at": epoch_ms(feedback.created_at),
    }


def latest_feedback(session: CoachingSession) -> Feedback | None:
    """The session's newest card: from `selectors.with_latest_feedback` when prefetched."""
    prefetched = getattr(session, "newest_feedback", None)
    if prefetched is not None:
        return prefetched[0] if prefetched else None
    return Feedback.objects.filter(session=session).order_by("-seq").first()


def lobby_entry(session: CoachingSession) -> dict[str, Any]:
    """What a coach's dashboard shows of a session: who, what about, since when, and the
    latest swing's summary once one is analysed (null before)."""
    return {
        **session_state(session),
        "title": session.title,
        "swing_summary": swing_summary(latest_feedback(session)),
    }


def chat_added(message: ChatMessage) -> dict[str, Any]:
    return chat_added_payload(
        message_id=message.pk,
        seq=message.seq,
        session_id=message.session.session_id,
        sender_info=sender(message.sender),
        text=message.message,
        client_msg_id=message.client_msg_id,
        created_at=message.created_at,
        eid=message.eid,
    )


def chat_added_payload(
    *,
    message_id: int,
    seq: int,
    session_id: str,
    sender_info: dict[str, str],
    text: str,
    client_msg_id: str | None,
    created_at: datetime,
    eid: str | None,
) -> dict[str, Any]:
    """`chat:added` from plain values (the PostgreSQL chat store has no model instances)."""
    return {
        "id": str(message_id),
        "seq": seq,
        "eid": eid,
        "session_id": session_id,
        "sender": sender_info,
        "message": text,
        "client_msg_id": client_msg_id,
        "meta": {"ts": epoch_ms(created_at)},
    }


def ai_feedback(feedback: Feedback) -> dict[str, Any]:
    return {
        "id": str(feedback.pk),
        "seq": feedback.seq,
        "eid": feedback.eid,
        "session_id": feedback.session.session_id,
        "swing_id": feedback.swing_id,
        "summary": feedback.summary,
        "metrics": feedback.metrics,
        "recommendations": feedback.recommendations,
        "level": feedback.level,
        "key_frames": feedback.key_frames,
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
        "eid": checkpoint.eid,
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
        "eid": annotation.eid,
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


def analysis_milestone(
    session: CoachingSession, swing_id: str, step: str, percent: int
) -> dict[str, Any]:
    return {
        "session_id": session.session_id,
        "swing_id": swing_id,
        "step": step,
        "percent": percent,
    }


def review_lead_changed(
    session_id: str,
    *,
    leader: dict[str, str],
    previous: dict[str, str] | None,
    by: dict[str, str] | None,
    asked: bool,
) -> dict[str, Any]:
    """The review's lead went to `leader` (`asked`: the one who had asked for it)."""
    return {
        "session_id": session_id,
        "leader": leader,
        "previous": previous,
        "by": by,
        "asked": asked,
    }


def review_compare(
    session_id: str, swing_id: str | None, compare: dict[str, Any], by: dict[str, str] | None
) -> dict[str, Any]:
    """A compare of `swing_id` with `compare['swing_id']` started or ended."""
    return {
        "session_id": session_id,
        "swing_id": swing_id,
        "compare_swing_id": compare["swing_id"],
        "offset_ms": compare["offset_ms"],
        "by": by,
    }
