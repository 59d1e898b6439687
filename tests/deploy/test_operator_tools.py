"""The operator tools on real processes: an admin logged in through nginx closes a user's
sockets on both app processes, sees on a session's page who is connected to either
process (their presence in Redis), and ends the lesson for the clients of both. And
what docs/operations.md tells operators: its alert rules name metrics the processes
export, and a new SECRET_KEY does what its *Rotating SECRET_KEY* says."""

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml
from django.conf import settings
from django.contrib.admin.models import LogEntry
from websockets.exceptions import InvalidStatus

from coaching.models import CoachingSession, Status, User
from tests.conftest import PASSWORD
from tests.deploy.topology import Front, get
from tests.support.auth import token_for
from tests.support.phoenix import PhoenixClient
from tests.support.servers import ServerProcess, wait_for_quiet_database

ROOT = Path(__file__).resolve().parents[2]

SESSIONS = "/admin/coaching/coachingsession"
USERS = "/admin/coaching/user"
# A join's presence entry is written just after its reply; presence reaches the other
# process through Redis within moments.
PRESENCE_WITHIN = 5.0


class AdminBrowser:
    """A staff user's browser session: cookies, and each form's CSRF token."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = requests.Session()
        self.http.trust_env = False  # no http_proxy: all traffic stays on 127.0.0.1

    def get(self, path: str, base_url: str | None = None) -> requests.Response:
        return self.http.get(f"{base_url or self.base_url}{path}", timeout=10)

    def submit(self, path: str, fields: dict[str, str] | None = None) -> requests.Response:
        """GET the page at `path`, then POST its form with the CSRF token it carries."""
        page = self.get(path)
        assert page.status_code == 200, page.text[:2000]
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        return self.http.post(
            f"{self.base_url}{path}",
            {"csrfmiddlewaretoken": token, **(fields or {})},
            timeout=10,
        )

    def log_in(self, user: User) -> None:
        response = self.submit(
            "/admin/login/?next=/admin/", {"username": user.username, "password": PASSWORD}
        )
        assert response.url.endswith("/admin/"), response.text[:2000]


@pytest.fixture
def own_front(start_front, transactional_db) -> Iterator[Front]:
    """nginx and two app processes of the test's own. Not the module's: the admin's log
    entries name their content type by id, which a process caches, and the flush after
    each test numbers the content types anew."""
    front = start_front(1)
    yield front
    front.nginx.stop()
    for app in front.apps:
        app.stop()
    wait_for_quiet_database()


@pytest.fixture
def admin(own_front: Front, admin_user: User) -> AdminBrowser:
    browser = AdminBrowser(own_front.url)
    browser.log_in(admin_user)
    return browser


@pytest.fixture
def opened() -> Iterator[list[PhoenixClient]]:
    clients: list[PhoenixClient] = []
    yield clients
    for client in clients:
        client.close()


def joined(front: Front, app: int, user: User, session: CoachingSession, opened: list):
    """A socket of `user`'s on app process `app`, joined to the session."""
    client = PhoenixClient(front.apps[app].socket_url, token_for(user))
    opened.append(client)
    client.join_ok(session.topic)
    return client


def connected_rows(page: str) -> dict[str, list[str]]:
    """The *Connected now* panel's rows: user id -> name, role, since, connection, sockets."""
    start = page.index('id="connected-now"')
    panel = page[start : page.index("</fieldset>", start)]
    return {
        user_id: re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        for user_id, row in re.findall(r'<tr data-user-id="(\d+)">(.*?)</tr>', panel, re.S)
    }


def until(read, done, what: str):
    """`read()` until `done` holds of it (within PRESENCE_WITHIN); its last value."""
    deadline = time.monotonic() + PRESENCE_WITHIN
    while True:
        value = read()
        if done(value):
            return value
        assert time.monotonic() < deadline, f"{what}: {value!r}"[:3000]
        time.sleep(0.05)


def test_closing_a_users_sockets_closes_them_on_both_processes(
    own_front, admin, admin_user, opened, student, coach, active_session
):
    first = joined(own_front, 0, student, active_session, opened)
    second = joined(own_front, 1, student, active_session, opened)
    bystander = joined(own_front, 0, coach, active_session, opened)
    old_token = token_for(student)
    path = f"{USERS}/{student.pk}/close-sockets/"
    # The confirm page (on whichever process nginx picks) counts both processes' sockets.
    until(
        lambda: admin.get(path).text,
        lambda page: "지금 레슨 연결 2개가 열려 있습니다." in page,
        "the confirm page did not count both sockets",
    )

    response = admin.submit(path)
    assert response.url.endswith(f"{USERS}/{student.pk}/change/")
    assert "(레슨 연결 2개가 열려 있었습니다)" in response.text
    assert first.wait_closed(5) == (4001, "closed_by_admin")
    assert second.wait_closed(5) == (4001, "closed_by_admin")
    assert bystander.heartbeat()["status"] == "ok"
    # The tokens issued before no longer open a socket, on either process.
    for app in own_front.apps:
        with pytest.raises(InvalidStatus) as refused:
            PhoenixClient(app.socket_url, old_token)
        assert refused.value.response.status_code == 403
    entry = LogEntry.objects.get(object_id=str(student.pk))
    assert (entry.user_id, entry.change_message) == (
        admin_user.pk,
        "모든 서버 프로세스에서 이 사용자의 소켓을 닫았습니다.",
    )


def test_session_page_lists_who_is_connected_to_either_process(
    own_front, admin, opened, student, coach, active_session
):
    joined(own_front, 0, student, active_session, opened)
    joined(own_front, 1, student, active_session, opened)
    joined(own_front, 1, coach, active_session, opened)
    path = f"{SESSIONS}/{active_session.pk}/change/"
    expected = {
        str(student.pk): ("Ian", "학생", "정상", "2"),
        str(coach.pk): ("IanPro", "코치", "정상", "1"),
    }

    def shown(rows: dict[str, list[str]]) -> dict[str, tuple[str, ...]]:
        return {key: (c[0], c[1], c[3], c[4]) for key, c in rows.items()}

    # Each process's page lists the sockets of both: its own and the other's, from Redis.
    for app in own_front.apps:
        until(
            lambda app=app: shown(connected_rows(admin.get(path, app.http_url).text)),
            lambda rows: rows == expected,
            f"the page on port {app.port} lists",
        )


def test_end_lesson_ends_it_for_the_clients_of_both_processes(
    own_front, admin, opened, student, coach, active_session
):
    on_first = joined(own_front, 0, student, active_session, opened)
    on_second = joined(own_front, 1, coach, active_session, opened)
    page = admin.get(f"{SESSIONS}/{active_session.pk}/change/").text
    assert f'<a href="{SESSIONS}/{active_session.pk}/end/">레슨 종료</a>' in page

    response = admin.submit(f"{SESSIONS}/{active_session.pk}/end/")
    assert "레슨을 종료했습니다. 접속한 모든 사람에게 전달되었습니다." in response.text
    for client in (on_first, on_second):
        assert client.event(active_session.topic, "session:state")["status"] == "ended"
    active_session.refresh_from_db()
    assert active_session.status == Status.ENDED
    assert 'aria-disabled="true">레슨 종료</span>' in response.text  # disabled now


def alert_rules() -> list[dict]:
    """The rules of docs/operations.md's *Alert rules*."""
    text = (ROOT / "docs/operations.md").read_text()
    section = text[text.index("### Alert rules") :]
    block = section[
        section.index("```yaml\n") + 8 : section.index("\n```", section.index("```yaml"))
    ]
    return yaml.safe_load(block)["groups"][0]["rules"]


def test_every_metric_the_alert_rules_name_is_exported_by_a_process(own_front):
    rules = alert_rules()
    assert len(rules) >= 10 and all({"alert", "expr"} <= set(rule) for rule in rules)
    named = {
        name.removesuffix("_bucket")
        for rule in rules
        for name in re.findall(r"\b((?:inswing|process)_[a-z_]+)", rule["expr"])
    }
    status, _, body = get(f"{own_front.apps[0].http_url}/metrics")
    assert status == 200
    exported = set(re.findall(r"^# TYPE (\S+) ", body.decode(), re.M))
    assert named - exported == set()
    assert {"inswing_sockets_open", "process_max_fds"} <= named


def logged_in(browser: AdminBrowser, app: ServerProcess) -> bool:
    """Whether the browser's session cookie logs it into the admin on this process."""
    response = browser.get("/admin/", app.http_url)
    return response.status_code == 200 and "/admin/login/" not in response.url


def test_a_new_secret_key_keeps_sessions_with_the_old_as_fallback_and_refuses_old_jwts(
    spawn_server, admin_user, student
):
    old_key = settings.SECRET_KEY
    new_key = "rotated-" + "k" * 50
    on_old = spawn_server()
    without_fallback = spawn_server(SECRET_KEY=new_key)
    with_fallback = spawn_server(SECRET_KEY=new_key, SECRET_KEY_FALLBACKS=old_key)
    browser = AdminBrowser(on_old.http_url)
    browser.log_in(admin_user)
    old_jwt = token_for(student)  # signed with the old key, as before the rotation

    # The page and admin logins: gone without the fallback, kept with it, and moved to
    # the new key by that request (then good without the fallback too).
    assert logged_in(browser, on_old)
    assert not logged_in(browser, without_fallback)
    assert logged_in(browser, with_fallback)
    assert logged_in(browser, without_fallback)

    # JWTs know no fallback: refused on REST and the socket by a process on the new key.
    def sessions_status(app: ServerProcess, token: str) -> int:
        bearer = {"Authorization": f"Bearer {token}"}
        return requests.get(f"{app.http_url}/api/sessions/", headers=bearer, timeout=10).status_code

    assert sessions_status(on_old, old_jwt) == 200
    assert sessions_status(with_fallback, old_jwt) == 401
    with pytest.raises(InvalidStatus) as refused:
        PhoenixClient(with_fallback.socket_url, old_jwt)
    assert refused.value.response.status_code == 403
    # A token made on the new key is refused by a process still on the old one: restart
    # them all together.
    login = {"username": student.username, "password": PASSWORD}
    made = requests.post(f"{with_fallback.http_url}/api/auth/token/", json=login, timeout=10)
    new_jwt = made.json()["access"]
    assert sessions_status(with_fallback, new_jwt) == 200
    assert sessions_status(on_old, new_jwt) == 401
