from coaching.errors import ServiceError
from coaching.models import CoachingSession


def locked_session(session_id: str) -> CoachingSession:
    """The session row, locked until the surrounding transaction ends.

    Holding the lock serializes every write to one session, so seqs are handed
    out in commit order and state checks cannot race.
    """
    try:
        return (
            CoachingSession.objects.select_for_update(of=("self",))
            .select_related("student", "coach")
            .get(session_id=session_id)
        )
    except CoachingSession.DoesNotExist:
        raise ServiceError("not_found", "No such session.") from None


def get_session(session_id: str) -> CoachingSession:
    try:
        return CoachingSession.objects.select_related("student", "coach").get(session_id=session_id)
    except CoachingSession.DoesNotExist:
        raise ServiceError("not_found", "No such session.") from None
