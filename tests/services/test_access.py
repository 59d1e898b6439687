"""Tokens issued before a user's access ends stop working (REST and socket alike)."""

import pytest
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import update_last_login
from rest_framework.test import APIClient

from coaching.models import Role, User
from coaching.services.access import user_access_end
from tests.conftest import PASSWORD


def token_pair(user: User) -> dict:
    response = APIClient().post(
        "/api/auth/token/", {"username": user.username, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200, response.content
    return response.json()


def can_list_sessions(access: str) -> bool:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    status = client.get("/api/sessions/").status_code
    assert status in (200, 401)
    return status == 200


def generation(user: User) -> int:
    return User.objects.values_list("token_generation", flat=True).get(pk=user.pk)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda u: setattr(u, "role", Role.COACH), id="role"),
        pytest.param(lambda u: setattr(u, "is_staff", True), id="staff"),
        pytest.param(lambda u: setattr(u, "is_superuser", True), id="superuser"),
        pytest.param(lambda u: u.set_password("another-pass-456"), id="password"),
    ],
)
def test_access_change_saved_on_the_user_voids_their_tokens(student, change):
    pair = token_pair(student)
    assert can_list_sessions(pair["access"])
    change(student)
    student.save()
    assert generation(student) == 1
    assert not can_list_sessions(pair["access"])
    refreshed = APIClient().post(
        "/api/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json"
    )
    assert refreshed.status_code == 401
    assert refreshed.json()["error"]["code"] == "authentication_failed"


def test_deactivation_voids_the_tokens_even_when_saved_with_update_fields(student):
    pair = token_pair(student)
    student.is_active = False
    student.save(update_fields=["is_active"])
    assert generation(student) == 1
    student.is_active = True
    student.save()
    assert generation(student) == 1  # reactivating ends nothing
    assert not can_list_sessions(pair["access"])
    assert can_list_sessions(token_pair(student)["access"])


def test_saves_that_change_no_access_keep_the_tokens(student):
    pair = token_pair(student)
    update_last_login(None, student)
    student.name = "Renamed"
    student.save()
    # The hash upgrade at login (same password, new hash) is not a password change.
    student.password = make_password(PASSWORD)  # a new salt: another hash
    student.save(update_fields=["password"])
    assert generation(student) == 0
    assert can_list_sessions(pair["access"])


def test_ending_access_voids_old_tokens_and_new_ones_work(student):
    old = token_pair(student)
    user_access_end(student, "logged_out")
    assert not can_list_sessions(old["access"])
    assert can_list_sessions(token_pair(student)["access"])


def test_socket_token_carries_the_current_generation(student):
    user_access_end(student, "logged_out")
    client = APIClient()
    client.force_login(student)
    token = client.post("/api/auth/socket-token/").json()["token"]
    assert can_list_sessions(token)
