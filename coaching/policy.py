"""Who may do what: the only place that decides authorization.

Session-level rules answer with `ServiceError` (`forbidden` or `not_found`);
callers never compare roles themselves.
"""

from django.db.models import Q

from coaching.errors import ServiceError
from coaching.models import CoachingSession, Role, Status, User
from coaching.share_viewer import SHARE_ROLE, ShareViewer

STUDENT, COACH, OBSERVER, PREVIEW = "student", "coach", "observer", "preview"
SHARE = SHARE_ROLE


def session_role(user: User | ShareViewer, session: CoachingSession) -> str | None:
    """The part `user` plays in `session`: student, coach, observer (admin), preview
    (any coach looking at a waiting, unclaimed session before claiming it), share (a
    share link's viewer, in that link's lesson only) or none.

    Observers, previewing coaches and share viewers read everything and may neither
    chat nor control; a share viewer is also never listed in presence (only counted).
    """
    if isinstance(user, ShareViewer):
        return SHARE if user.session_id == session.session_id else None
    if user.pk == session.student_id:
        return STUDENT
    if session.coach_id is not None and user.pk == session.coach_id:
        return COACH
    if user.is_staff:
        return OBSERVER
    if user.role == Role.COACH and session.coach_id is None and session.status == Status.WAITING:
        return PREVIEW
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


def check_join(user: User, session: CoachingSession) -> str:
    role = session_role(user, session)
    if role is None:
        raise ServiceError("forbidden", "You are not a participant of this session.")
    return role


def check_push(role: str) -> None:
    """A share viewer only watches: each of its pushes is refused (heartbeats and leaves
    are the transport's, not pushes)."""
    if role == SHARE:
        raise ServiceError("forbidden", "A shared lesson is watched read-only.")


def check_read(user: User, session: CoachingSession) -> None:
    """Chat history, feedback and checkpoints: the session's student and coach, admins,
    and coaches previewing a waiting session."""
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


def check_annotate(user: User, session: CoachingSession) -> None:
    if session_role(user, session) != COACH:
        raise ServiceError("forbidden", "Only the session's coach saves annotations.")


def check_review_update(user: User, leader_id: str | None) -> None:
    """Only the current leader moves the shared playback."""
    if leader_id is None or str(user.pk) != leader_id:
        raise ServiceError("forbidden", "Only the leader of the review controls the playback.")


def check_review_pass_lead(
    user: User, session: CoachingSession, leader_id: str | None, target_id: str
) -> None:
    """The coach gives the lead to the student or takes it back; the student, while
    leading, may hand it back to the coach. Nobody else leads."""
    target = {str(session.student_id): STUDENT}
    if session.coach_id is not None:
        target[str(session.coach_id)] = COACH
    if target_id not in target:
        raise ServiceError(
            "invalid_input", "user_id must be the session's coach or student.", field="user_id"
        )
    role = session_role(user, session)
    if role == COACH:
        return
    if role == STUDENT and leader_id == str(user.pk) and target[target_id] == COACH:
        return
    raise ServiceError(
        "forbidden", "Only the coach passes the lead (the leading student may hand it back)."
    )


def check_review_ask_lead(user: User, session: CoachingSession, leader_id: str | None) -> None:
    """The session's student asks the coach for the lead (or takes the request back),
    while the coach leads."""
    if session_role(user, session) != STUDENT:
        raise ServiceError("forbidden", "Only the session's student asks for the lead.")
    if session.coach_id is None:
        raise ServiceError("forbidden", "The lesson has no coach to ask yet.")
    if leader_id == str(user.pk):
        raise ServiceError("forbidden", "You already lead the review.")


def check_review_answer_lead(user: User, session: CoachingSession) -> None:
    """The session's coach accepts or declines the student's request for the lead."""
    if session_role(user, session) != COACH:
        raise ServiceError("forbidden", "Only the session's coach answers a request for the lead.")


def check_review_alone(user: User, session: CoachingSession, leader_id: str | None) -> None:
    """The session's coach or student, while someone else leads, tells the leader they
    watch alone (or follow again). Observers watch alone without telling."""
    if session_role(user, session) not in (STUDENT, COACH):
        raise ServiceError("forbidden", "Only the session's coach and student tell the leader.")
    if leader_id is None or leader_id == str(user.pk):
        raise ServiceError("forbidden", "Only someone following a leader watches alone.")


def check_review_bring_back(user: User, leader_id: str | None) -> None:
    """The leader brings a viewer who watches alone back to following."""
    if leader_id is None or str(user.pk) != leader_id:
        raise ServiceError("forbidden", "Only the leader of the review brings viewers back.")


def check_review_draw(user: User, role: str, leader_id: str | None) -> None:
    """Live strokes: the session's coach, or whoever leads the review."""
    if role != COACH and str(user.pk) != leader_id:
        raise ServiceError("forbidden", "Only the coach or the review's leader draws.")


def check_call(user: User, session: CoachingSession) -> None:
    """Voice calls and their signals: only between the session's student and its coach
    (observers, previews and anyone else neither call nor receive signals)."""
    if session_role(user, session) not in (STUDENT, COACH):
        raise ServiceError("forbidden", "Only the session's student and coach take part in calls.")
    if session.coach_id is None:
        raise ServiceError("forbidden", "The lesson has no coach to call yet.")


def check_upload(user: User, session: CoachingSession) -> None:
    """Swing videos from the room: the session's student and coach, while the lesson is
    open (an ended lesson takes no new swings from the room)."""
    if session_role(user, session) not in (STUDENT, COACH):
        raise ServiceError("forbidden", "Only the session's student and coach upload swings.")
    if session.status == Status.ENDED:
        raise ServiceError("session_ended", "The lesson has ended.")


def library_sessions(user: User) -> Q:
    """Lessons in `user`'s library (/lessons/): a student's own, the lessons a coach
    taught, every lesson for admins and the service account."""
    if user.is_staff or user.role == Role.SERVICE:
        return Q()
    if user.role == Role.COACH:
        return Q(coach=user)
    return Q(student=user)


def can_see_progress(user: User, student: User) -> bool:
    """A student's progress across lessons: the student, every coach who taught them (a
    lesson they claimed, ended or not) and admins."""
    if student.role != Role.STUDENT:
        return False
    if user.pk == student.pk or user.is_staff:
        return True
    return (
        user.role == Role.COACH
        and CoachingSession.objects.filter(student=student, coach=user).exists()
    )


def check_progress(user: User, student: User | None) -> None:
    if student is None or not can_see_progress(user, student):
        # Indistinguishable from a missing student, as for sessions.
        raise ServiceError("not_found", "No such student.")


def check_share(user: User, session: CoachingSession) -> None:
    """Links to a lesson's recap: the session's student and coach create, list and
    revoke them (admins see them in the admin)."""
    if session_role(user, session) not in (STUDENT, COACH):
        raise ServiceError("forbidden", "Only the lesson's student and coach share it.")


def check_replay(user: User, session: CoachingSession) -> None:
    """A lesson's replay (its log and recorded review): the session's student and coach,
    and admins; anyone else is told there is no such session."""
    if session_role(user, session) not in (STUDENT, COACH, OBSERVER):
        raise ServiceError("not_found", "No such session.")


def check_recording_consent(user: User, session: CoachingSession) -> None:
    """Consent to record the lesson's call: each of its two participants gives their own."""
    if session_role(user, session) not in (STUDENT, COACH):
        raise ServiceError(
            "forbidden", "Only the lesson's student and coach answer for themselves."
        )


def check_record(user: User, session: CoachingSession) -> None:
    """The call is recorded by the coach's page (it mixes both voices), while the lesson
    is open; consent is checked by coaching/services/recordings.py on every chunk."""
    if session_role(user, session) != COACH:
        raise ServiceError("forbidden", "Only the lesson's coach's page records the call.")
    if session.status == Status.ENDED:
        raise ServiceError("session_ended", "The lesson has ended.")


def check_recording_delete(user: User, session: CoachingSession) -> None:
    """Either participant deletes the lesson's call recording, in one action."""
    if session_role(user, session) not in (STUDENT, COACH):
        raise ServiceError("forbidden", "Only the lesson's student and coach delete its recording.")
