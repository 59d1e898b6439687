"""Access that ends ends the socket: logout, deactivation and a role change close the
user's open sockets on every process, and the tokens issued before stop working."""

import http.cookiejar
import json
import time
import urllib.parse
import urllib.request
from datetime import timedelta

import pytest
from django.conf import settings
from rest_framework_simplejwt.tokens import AccessToken
from websockets.exceptions import InvalidStatus

from coaching.models import Role, User
from tests.conftest import PASSWORD
from tests.support.auth import token_for
from tests.support.servers import ServerProcess
from tests.support.sockets import Connect

needs_redis = pytest.mark.skipif(
    not settings.REDIS_URL,
    reason="needs REDIS_URL: the change is made in this process, the socket is on a server",
)
CLOSE_WITHIN = 5.0  # seconds


def refused(connect: Connect, user: User, token: str, on: ServerProcess | None = None) -> bool:
    """Whether a socket with `token` is refused before the upgrade (HTTP 403)."""
    try:
        connect(user, on=on, token=token).close()
    except InvalidStatus as exc:
        assert exc.response.status_code == 403
        return True
    return False


class PageSession:
    """A browser's Django session on a server: log in, fetch a socket token, log out."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def csrf(self) -> str:
        return next(c.value for c in self.cookies if c.name == "csrftoken")

    def post_form(self, path: str, fields: dict[str, str]) -> None:
        data = urllib.parse.urlencode({**fields, "csrfmiddlewaretoken": self.csrf()}).encode()
        self.opener.open(self.server.http_url + path, data=data, timeout=10).read()

    def login(self, user: User) -> None:
        self.opener.open(self.server.http_url + "/login/", timeout=10).read()
        self.post_form("/login/", {"username": user.username, "password": PASSWORD})

    def socket_token(self) -> str:
        request = urllib.request.Request(
            self.server.http_url + "/api/auth/socket-token/",
            data=b"",
            headers={"X-CSRFToken": self.csrf(), "Accept": "application/json"},
            method="POST",
        )
        return json.loads(self.opener.open(request, timeout=10).read())["token"]

    def logout(self) -> None:
        self.post_form("/logout/", {})


def test_logout_closes_the_pages_sockets_and_voids_the_socket_token(
    server, connect, student, active_session
):
    page = PageSession(server)
    page.login(student)
    token = page.socket_token()
    with connect(student, token=token) as socket:
        socket.join_ok(active_session.topic)
        page.logout()
        assert socket.wait_closed(CLOSE_WITHIN) == (4001, "logged_out")
    assert refused(connect, student, token)


def test_a_token_fetched_again_after_logging_in_again_works(
    server, connect, student, active_session
):
    page = PageSession(server)
    page.login(student)
    page.socket_token()
    page.logout()
    page.login(student)
    with connect(student, token=page.socket_token()) as socket:
        socket.join_ok(active_session.topic)


@needs_redis
def test_deactivating_a_user_closes_their_sockets_on_every_process(
    spawn_server, connect, student, coach, active_session
):
    one, two = spawn_server(), spawn_server()
    token = token_for(student)
    with (
        connect(student, on=one, token=token) as first,
        connect(student, on=two, token=token) as second,
        connect(coach, on=two) as lesson,
    ):
        first.join_ok(active_session.topic)
        second.join_ok(active_session.topic)
        lesson_ref, _ = lesson.join_ok(active_session.topic)
        started = time.monotonic()
        student.is_active = False
        student.save()
        assert first.wait_closed(CLOSE_WITHIN) == (4001, "deactivated")
        assert second.wait_closed(CLOSE_WITHIN) == (4001, "deactivated")
        print(f"\nboth sockets closed {time.monotonic() - started:.3f} s after the save")
        # The coach's socket is not touched.
        assert (
            lesson.call(active_session.topic, lesson_ref, "chat:new", {"message": "still here"})[
                "status"
            ]
            == "ok"
        )
    assert refused(connect, student, token, on=one)
    assert refused(connect, student, token, on=two)


@needs_redis
@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"role": Role.STUDENT}, id="role"),
        pytest.param({"is_staff": True}, id="staff"),
    ],
)
def test_a_role_change_closes_the_users_sockets(connect, coach, active_session, change):
    token = token_for(coach)
    with connect(coach, token=token) as socket:
        socket.join_ok(active_session.topic)
        for field, value in change.items():
            setattr(coach, field, value)
        coach.save()
        assert socket.wait_closed(CLOSE_WITHIN) == (4001, "role_changed")
    assert refused(connect, coach, token)


def test_a_socket_closes_when_its_token_expires(connect, student, active_session):
    token = AccessToken.for_user(student)
    token.set_exp(lifetime=timedelta(seconds=2))
    with connect(student, token=str(token)) as socket:
        socket.join_ok(active_session.topic)
        assert socket.wait_closed(10) == (4002, "token_expired")


@needs_redis
def test_deleting_a_user_closes_their_sockets(connect, make_user):
    outsider = make_user(Role.STUDENT)
    with connect(outsider) as socket:
        socket.heartbeat()
        outsider.delete()
        assert socket.wait_closed(CLOSE_WITHIN) == (4001, "deleted")
