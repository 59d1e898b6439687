"""Session lifecycle: create, claim, control (status and step), end."""

from django.db import IntegrityError, transaction
from django.utils import timezone

from coaching import broadcasts, eventlog, events, policy, state
from coaching.errors import ServiceError
from coaching.models import CoachingSession, Role, Status, Step, StepSource, User
from coaching.services.lookup import locked_session


def _publish_state(session: CoachingSession) -> dict:
    payload = eventlog.append(session, "session:state", events.session_state(session))
    broadcasts.on_commit(session.topic, "session:state", payload)
    return payload


def session_create(
    *, creator: User, student: User | None = None, title: str = ""
) -> tuple[CoachingSession, bool]:
    """A student opens a waiting session for themselves; the service account for a student.

    A student waits once: if they have a waiting session already, it is returned
    (created False). A new, non-blank `title` then replaces its topic (the coaches'
    lobby gets `session:updated`); a blank or unchanged one leaves it as it was,
    unannounced. A partial unique constraint makes this hold under concurrent requests
    too.
    """
    policy.check_create_session(creator)
    if creator.role == Role.SERVICE:
        if student is None:
            raise ServiceError(
                "forbidden",
                "Only a student opens a session for themselves; the service account "
                "gives student_id.",
            )
    else:
        student = creator
    if student.role != Role.STUDENT or not student.is_active:
        raise ServiceError("invalid_input", "student_id is not a student.", field="student_id")
    if len(title) > 200:
        raise ServiceError("invalid_input", "title is longer than 200 characters.", field="title")
    title = title.strip()
    existing = _waiting_session_with_topic(student, title)
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            session = CoachingSession.objects.create(student=student, title=title)
            broadcasts.on_commit(events.LOBBY_TOPIC, "session:waiting", events.lobby_entry(session))
    except IntegrityError:
        existing = _waiting_session_with_topic(student, title)
        if existing is None:
            raise  # not the one-waiting-session rule
        return existing, False
    return CoachingSession.objects.select_related("student", "coach").get(pk=session.pk), True


@transaction.atomic
def _waiting_session_with_topic(student: User, title: str) -> CoachingSession | None:
    """The student's waiting session, locked, with `title` as its topic when that is new
    and not blank (announced to the lobby as `session:updated`); None when they do not
    wait (a coach may just have claimed it: then the caller opens a new one)."""
    session = (
        CoachingSession.objects.select_for_update(of=("self",))
        .select_related("student", "coach")
        .filter(student=student, status=Status.WAITING)
        .first()
    )
    if session is None or not title or title == session.title:
        return session
    session.title = title
    session.save(update_fields=["title", "updated_at"])
    broadcasts.on_commit(events.LOBBY_TOPIC, "session:updated", events.lobby_entry(session))
    return session


@transaction.atomic
def session_claim(*, session_id: str, coach: User) -> CoachingSession:
    """A coach takes a waiting session: exactly one coach wins; it becomes active."""
    policy.check_coach(coach)
    session = locked_session(session_id)
    if session.coach_id == coach.pk:
        return session  # a retried claim by the winner changes nothing
    if session.coach_id is not None:
        raise ServiceError("already_claimed", "Another coach has claimed this session.")
    state.ensure_open(session)
    state.check_transition(session.status, Status.ACTIVE)
    session.coach = coach
    session.status = Status.ACTIVE
    session.started_at = timezone.now()
    session.save(update_fields=["coach", "status", "started_at", "updated_at"])
    _publish_state(session)
    broadcasts.on_commit(events.LOBBY_TOPIC, "session:claimed", events.lobby_entry(session))
    return session


@transaction.atomic
def session_control(
    *,
    session_id: str,
    actor: User,
    status: str | None = None,
    current_step: str | None = None,
) -> dict:
    """Change status and/or step; returns the new state (with its seq when it changed)."""
    session = locked_session(session_id)
    policy.check_control(actor, session, status=status)
    state.ensure_open(session)
    if status is None and current_step is None:
        raise ServiceError("invalid_input", "Give status or current_step.", field="status")
    if current_step is not None:
        state.check_step(current_step)
    changed: list[str] = []
    if status is not None and status != session.status:
        state.check_transition(session.status, status)
        session.status = status
        changed.append("status")
        if status == Status.ENDED:
            session.ended_at = timezone.now()
            changed.append("ended_at")
    if current_step is not None:
        # The coach's choice holds: analysis events no longer move the step.
        if current_step != session.current_step:
            session.current_step = current_step
            changed.append("current_step")
        if session.step_source != StepSource.COACH:
            session.step_source = StepSource.COACH
            changed.append("step_source")
    if not changed:
        return {**events.session_state(session), "seq": session.last_seq}
    session.save(update_fields=[*changed, "updated_at"])
    payload = _publish_state(session)
    if session.status == Status.ENDED:
        broadcasts.on_commit(events.LOBBY_TOPIC, "session:ended", events.lobby_entry(session))
    return payload


def step_follow_analysis(session: CoachingSession, step: str) -> None:
    """An analysis event moves the step (auto), unless the coach has set it or the
    session has ended. The caller holds the session's lock."""
    if session.step_source != StepSource.AUTO or session.status == Status.ENDED:
        return
    if session.current_step == step:
        return
    session.current_step = Step(step).value
    session.save(update_fields=["current_step", "updated_at"])
    _publish_state(session)


def session_end(*, session_id: str, actor: User) -> dict:
    return session_control(session_id=session_id, actor=actor, status=Status.ENDED)
