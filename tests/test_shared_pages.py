"""The library page and share-link pages as rendered (browser behaviour in
tests/browser/test_library.py)."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from coaching.models import LessonShare
from coaching.services.shares import read_socket_token, share_create, share_path, share_revoke
from tests.support.library import days_ago, driver_lesson, past_lesson


@pytest.fixture
def lesson(student, coach, service):
    student.email = "ian@example.com"
    student.save()
    coach.email = "pro@example.com"
    coach.save()
    return driver_lesson(student, coach, service)


@pytest.fixture
def link(lesson, student):
    share, secret = share_create(session_id=lesson.session_id, user=student)
    return share, secret, share_path(share.share_id, secret)


def test_a_link_opens_the_recap_without_an_account(link, lesson, student, coach, service):
    share, secret, path = link
    other = past_lesson(student, coach, service, started=days_ago(5), title="Other lesson")
    response = Client().get(path)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Driver slice" in page and "Ian" in page and "IanPro" in page
    assert "Drill for sw_1" in page  # the recap's data
    # Display names only: no accounts, no tokens, nothing of other lessons.
    for hidden in (
        student.username,
        coach.username,
        "ian@example.com",
        "pro@example.com",
        secret,
        share.secret_hash,
        lesson.session_id,
        other.session_id,
        "Other lesson",
    ):
        assert hidden not in page, hidden
    assert response["Referrer-Policy"] == "same-origin"
    assert "noindex" in response["X-Robots-Tag"]
    assert "no-store" in response["Cache-Control"]


def test_a_signed_in_stranger_sees_the_same_page(link, make_user):
    client = Client()
    client.force_login(make_user("student", name="Stranger"))
    assert client.get(link[2]).status_code == 200


def test_an_expired_link_answers_410_saying_so(link):
    share, _, path = link
    LessonShare.objects.filter(pk=share.pk).update(expires_at=timezone.now() - timedelta(hours=1))
    response = Client().get(path)
    assert response.status_code == 410
    page = response.content.decode()
    assert 'data-reason="share_expired"' in page
    assert "Driver slice" not in page


def test_a_revoked_link_answers_410_saying_so(link, lesson, coach):
    share, _, path = link
    share_revoke(session_id=lesson.session_id, share_id=share.share_id, user=coach)
    response = Client().get(path)
    assert response.status_code == 410
    assert 'data-reason="share_revoked"' in response.content.decode()
    assert "Driver slice" not in response.content.decode()


def test_a_wrong_secret_is_not_found(link):
    share, secret, _ = link
    for path in (
        share_path(share.share_id, "x" * len(secret)),
        share_path("shr_nothing", secret),
        f"/shared/{share.share_id}/",
    ):
        response = Client().get(path)
        assert response.status_code == 404, path
        assert "Driver slice" not in response.content.decode()


def test_a_link_only_answers_reads(link):
    assert Client().post(link[2]).status_code == 405


def test_a_link_to_a_running_lesson_opens_the_room_read_only(student, coach, active_session):
    share, secret = share_create(session_id=active_session.session_id, user=student)
    response = Client().get(share_path(share.share_id, secret))
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-share="1"' in page and 'id="share-note"' in page
    assert "coaching/session.js" in page  # the room's own modules, read-only
    assert 'id="presence-list"' not in page  # viewers see nobody's presence
    for hidden in (secret, share.secret_hash, student.username, coach.username):
        assert hidden not in page, hidden
    assert '"session_role": "share"' in page
    assert "noindex" in response["X-Robots-Tag"]
    assert "no-store" in response["Cache-Control"]


# --- the live page's socket token (the socket side: tests/realtime/test_share_viewer.py) ---


def socket_token_path(path: str) -> str:
    return f"{path}socket-token/"


def test_a_link_gives_its_page_a_socket_token_for_its_lesson_only(link, lesson, settings):
    share, secret, path = link
    response = Client(enforce_csrf_checks=True).post(socket_token_path(path))
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"token", "expires_in", "topic"}
    assert body["topic"] == lesson.topic
    assert 0 < body["expires_in"] <= settings.SOCKET_TOKEN_LIFETIME.total_seconds()
    grant = read_socket_token(body["token"])
    assert (grant.share_id, grant.session_id) == (share.share_id, lesson.session_id)
    assert secret not in body["token"]
    assert "no-store" in response["Cache-Control"]
    assert response["Referrer-Policy"] == "same-origin"


def test_a_socket_token_lives_no_longer_than_its_link(link):
    share, _, path = link
    LessonShare.objects.filter(pk=share.pk).update(
        expires_at=timezone.now() + timedelta(seconds=30)
    )
    assert Client().post(socket_token_path(path)).json()["expires_in"] <= 30


def test_a_socket_token_is_no_credential_for_the_api(link, lesson):
    token = Client().post(socket_token_path(link[2])).json()["token"]
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    for url in (f"/api/sessions/{lesson.session_id}/", "/api/sessions/", "/api/auth/socket-token/"):
        response = api.get(url) if url != "/api/auth/socket-token/" else api.post(url)
        assert response.status_code == 401, url


def test_a_gone_link_gives_no_socket_token(link, lesson, coach):
    share, secret, path = link
    share_revoke(session_id=lesson.session_id, share_id=share.share_id, user=coach)
    response = Client().post(socket_token_path(path))
    assert response.status_code == 410
    assert response.json()["error"]["code"] == "share_revoked"
    LessonShare.objects.filter(pk=share.pk).update(
        revoked_at=None, expires_at=timezone.now() - timedelta(seconds=1)
    )
    response = Client().post(socket_token_path(path))
    assert response.status_code == 410
    assert response.json()["error"]["code"] == "share_expired"
    wrong = share_path(share.share_id, "x" * len(secret))
    response = Client().post(socket_token_path(wrong))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert Client().get(socket_token_path(path)).status_code == 405


def test_the_library_page_needs_an_account_and_the_student_home_links_to_it(student):
    assert Client().get("/lessons/").status_code == 302
    client = Client()
    client.force_login(student)
    assert client.get("/lessons/").status_code == 200
    home = client.get("/student/").content.decode()
    assert re.search(r'<a [^>]*href="/lessons/"', home)
