import pytest

from coaching.models import CoachingSession, Role, User
from coaching.services.analysis import feedback_record


@pytest.fixture
def other_coach(make_user) -> User:
    return make_user(Role.COACH, name="Other Pro")


@pytest.fixture
def other_student(make_user) -> User:
    return make_user(Role.STUDENT, name="Someone Else")


@pytest.fixture
def feedback_card(active_session: CoachingSession, service: User) -> dict:
    """A feedback card in the active session, as the Node API posted it."""
    payload, _ = feedback_record(
        session_id=active_session.session_id,
        actor=service,
        swing_id="sw_1",
        summary="The face is open at impact.",
        metrics={"face_angle": 5.2},
        recommendations=["Take a stronger grip."],
        level="intermediate",
    )
    return payload
