from django.db import transaction

from coaching import broadcasts, eventlog, events, policy
from coaching.errors import ServiceError
from coaching.models import Checkpoint, Feedback, User
from coaching.services.lookup import locked_session

MAX_NOTE_CHARS = 2000


@transaction.atomic
def checkpoint_save(*, session_id: str, coach: User, feedback_id: int, note: str = "") -> dict:
    """The coach bookmarks a feedback card of this session; broadcast `checkpoint:added`."""
    session = locked_session(session_id)
    policy.check_checkpoint(coach, session)
    if len(note) > MAX_NOTE_CHARS:
        raise ServiceError("invalid_input", "note is too long.", field="note")
    feedback = Feedback.objects.filter(session=session, pk=feedback_id).first()
    if feedback is None:
        raise ServiceError(
            "invalid_input", "feedback_id is not feedback of this session.", field="feedback_id"
        )
    seq = eventlog.next_seq(session)
    checkpoint = Checkpoint.objects.create(
        session=session, seq=seq, feedback=feedback, coach=coach, note=note.strip()
    )
    payload = eventlog.append(
        session, "checkpoint:added", events.checkpoint_added(checkpoint), seq=seq
    )
    broadcasts.on_commit(session.topic, "checkpoint:added", payload)
    return payload
