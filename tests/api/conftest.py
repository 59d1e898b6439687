import pytest

from coaching.models import Role, User


@pytest.fixture
def other_coach(make_user) -> User:
    return make_user(Role.COACH, name="Other Pro")


@pytest.fixture
def other_student(make_user) -> User:
    return make_user(Role.STUDENT, name="Someone Else")
