"""The token endpoints are throttled against password guessing: 429 `rate_limited`."""

from django.conf import settings
from rest_framework.test import APIClient

from tests.conftest import PASSWORD


def allowed(scope: str) -> int:
    count, _ = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"][scope].split("/")
    return int(count)


def test_password_attempts_are_throttled_per_client_address(student):
    client = APIClient()
    wrong = {"username": student.username, "password": "guess"}
    for _ in range(allowed("auth_token")):
        assert client.post("/api/auth/token/", wrong, format="json").status_code == 401
    right = {"username": student.username, "password": PASSWORD}
    response = client.post("/api/auth/token/", right, format="json")
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limited"
    assert int(response["Retry-After"]) > 0
    # Another address is not affected; a forged X-Forwarded-For does not make one.
    forged = client.post("/api/auth/token/", right, format="json", HTTP_X_FORWARDED_FOR="10.9.8.7")
    assert forged.status_code == 429
    other = client.post("/api/auth/token/", right, format="json", REMOTE_ADDR="10.1.2.3")
    assert other.status_code == 200


def test_socket_tokens_are_throttled_per_user(student, coach):
    client = APIClient()
    client.force_login(student)
    for _ in range(allowed("socket_token")):
        assert client.post("/api/auth/socket-token/").status_code == 200
    response = client.post("/api/auth/socket-token/")
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limited"
    assert "Retry-After" in response
    client.force_login(coach)
    assert client.post("/api/auth/socket-token/").status_code == 200
