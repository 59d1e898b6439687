"""Who may do what: the only place that decides authorization.

Session-level rules answer with `ServiceError` (`forbidden` or `not_found`);
callers never compare roles themselves.
"""

from django.db.models import Q

from coaching.errors import ServiceError
from coaching.models import CoachingSession, Role, Status, User

STUDENT, COACH, OBSERVER = "student", "coach", "observer"
PREVIEW = "preview"


def session_role(user: User, session: CoachingSession) -> str | None:
    """The part `user` plays in `session`: student, coach, observer (admin) or none."""
    if user.pk == session.student_id:
        return STUDENT
    if session.coach_id is not None and user.pk == session.coach_id:
        return COACH
    if user.is_staff:
        return OBSERVER
    return None


def can_view(user: User, session: CoachingSession) -> bool:
    """Participants, admins and the service account (it feeds every session)."""
    return session_role(user, session) is not None or user.role == Role.SERVICE


def visible_sessions(user: User) -> Q:
    """Sessions `user` may list: coach, waiting + own; student, own; admin and service, all."""
    if user.is_staff or user.role == Role.SERVICE:
        return Q()
    if user.role == Role.COACH:
        return Q(status=Status.WAITING) | Q(coach=user)
    return Q(student=user)


def check_view(user: User, session: CoachingSession) -> None:
    if not can_view(user, session):
        # Indistinguishable from a missing session: ids are not confirmed to outsiders.
        raise ServiceError("not_found", "No such session.")


def can_preview(user: User, session: CoachingSession) -> bool:
    """A coach may look at a waiting session, read-only, before claiming it."""
    return user.role == Role.COACH and session.status == Status.WAITING


def check_join(user: User, session: CoachingSession) -> str:
    role = session_role(user, session)
    if role is None and can_preview(user, session):
        return PREVIEW
    if role is None:
        raise ServiceError("forbidden", "You are not a participant of this session.")
    return role


def check_read(user: User, session: CoachingSession) -> None:
    """Chat history, feedback and checkpoints: the session's student and coach, and admins."""
    if session_role(user, session) is None:
        raise ServiceError("forbidden", "Only the session's participants and admins can read this.")


def check_chat(user: User, session: CoachingSession) -> None:
    if session_role(user, session) not in (STUDENT, COACH):
        raise ServiceError("forbidden", "Only the session's student and coach can chat.")


def check_control(user: User, session: CoachingSession, *, status: str | None) -> None:
    """The session's coach controls the lesson; an admin may only end it."""
    role = session_role(user, session)
    if role == COACH:
        return
    if role == OBSERVER and status == Status.ENDED:
        return
    if role == OBSERVER:
        raise ServiceError("forbidden", "Admins may only end a session.")
    raise ServiceError("forbidden", "Only the session's coach can control it.")


def check_create_session(user: User) -> None:
    if user.role not in (Role.STUDENT, Role.SERVICE) or user.is_staff:
        raise ServiceError("forbidden", "Only students and the service account create sessions.")


def check_coach(user: User) -> None:
    if user.role != Role.COACH:
        raise ServiceError("forbidden", "Only coaches can do this.")


def check_service(user: User) -> None:
    if user.role != Role.SERVICE:
        raise ServiceError("forbidden", "Only the service account can do this.")


def check_post_notice(user: User) -> None:
    if user.role != Role.SERVICE and not user.is_staff:
        raise ServiceError("forbidden", "Only the service account and admins post notices.")


def check_checkpoint(user: User, session: CoachingSession) -> None:
    if session_role(user, session) != COACH:
        raise ServiceError("forbidden", "Only the session's coach saves checkpoints.")
