"""Share links: POST/GET /api/sessions/{id}/shares/ and DELETE …/shares/{share_id}/ (the
session's student or coach)."""

import hashlib
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from coaching.events import epoch_ms
from coaching.models import LessonShare
from tests.api.support import session_url
from tests.support.auth import api_client_for
from tests.support.library import days_ago, driver_lesson, past_lesson

URL = re.compile(r"^http://testserver/shared/(shr_[A-Za-z0-9_-]{16})/([A-Za-z0-9_-]{43})/$")


@pytest.fixture
def lesson(student, coach, service):
    return driver_lesson(student, coach, service)


def create(user, session, body=None):
    return api_client_for(user).post(session_url(session, "shares"), body or {}, format="json")


def test_the_student_makes_a_link_for_seven_days_by_default(student, lesson):
    before = timezone.now()
    response = create(student, lesson)
    assert response.status_code == 201
    body = response.json()
    share_id, secret = URL.match(body["url"]).groups()
    assert body["share_id"] == share_id
    assert body["state"] == "active"
    assert body["label"] == ""
    assert body["created_by"] == {"name": "Ian"}
    expected = epoch_ms(before + timedelta(days=7))
    assert expected <= body["expires_at"] < expected + 60_000
    # Only a digest of the secret is stored (256 bits of it: 43 URL-safe characters).
    stored = LessonShare.objects.get(share_id=share_id)
    assert stored.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(LessonShare.objects.filter(pk=stored.pk).values().get())


def test_the_coach_makes_a_link_with_a_label_and_a_lifetime(coach, lesson):
    before = timezone.now()
    response = create(coach, lesson, {"expires_in_days": 30, "label": "  For Mina "})
    assert response.status_code == 201
    body = response.json()
    assert body["label"] == "For Mina"
    assert body["created_by"] == {"name": "IanPro"}
    assert body["expires_at"] >= epoch_ms(before + timedelta(days=30))


def test_every_link_is_different(student, lesson):
    urls = {create(student, lesson).json()["url"] for _ in range(3)}
    assert len(urls) == 3


@pytest.mark.parametrize(
    "body, field",
    [
        ({"expires_in_days": 0}, "expires_in_days"),
        ({"expires_in_days": 31}, "expires_in_days"),
        ({"expires_in_days": 1.5}, "expires_in_days"),
        ({"label": "x" * 101}, "label"),
        ({"label": 5}, "label"),
    ],
)
def test_bad_input_is_refused_naming_the_field(student, lesson, body, field):
    response = create(student, lesson, body)
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == [field]
    assert not LessonShare.objects.exists()


@pytest.mark.parametrize(
    "who, code",
    [("admin_user", 403), ("service", 403), ("other_student", 404), ("other_coach", 404)],
)
def test_only_the_lessons_student_and_coach_share_it(request, lesson, who, code):
    user = request.getfixturevalue(who)
    assert create(user, lesson).status_code == code
    assert api_client_for(user).get(session_url(lesson, "shares")).status_code == code
    assert not LessonShare.objects.exists()
    assert create(None, lesson).status_code == 401


def test_a_previewing_coach_may_not_share_a_waiting_lesson(other_coach, waiting_session):
    assert create(other_coach, waiting_session).status_code == 403


def test_listing_shows_every_link_newest_first_never_its_secret(student, coach, lesson):
    first = create(student, lesson, {"label": "first"}).json()
    second = create(coach, lesson, {"label": "second"}).json()
    for user in (student, coach):
        response = api_client_for(user).get(session_url(lesson, "shares"))
        assert response.status_code == 200
        results = response.json()["results"]
        assert [s["share_id"] for s in results] == [second["share_id"], first["share_id"]]
        assert all("url" not in s for s in results)
        text = response.content.decode()
        for made in (first, second):
            assert URL.match(made["url"]).group(2) not in text
        assert [s["created_by"] for s in results] == [{"name": "IanPro"}, {"name": "Ian"}]


def test_revoking_a_link(student, coach, lesson):
    made = create(student, lesson).json()
    url = session_url(lesson, f"shares/{made['share_id']}")
    response = api_client_for(coach).delete(url)
    assert response.status_code == 204
    listed = api_client_for(student).get(session_url(lesson, "shares")).json()["results"]
    assert listed[0]["state"] == "revoked"
    assert listed[0]["revoked_at"] is not None
    # Again: still revoked, the first time kept.
    assert api_client_for(student).delete(url).status_code == 204
    again = api_client_for(student).get(session_url(lesson, "shares")).json()["results"]
    assert again[0]["revoked_at"] == listed[0]["revoked_at"]


def test_revoking_is_for_the_lessons_student_and_coach(
    student, other_student, admin_user, lesson, service
):
    made = create(student, lesson).json()
    url = session_url(lesson, f"shares/{made['share_id']}")
    assert api_client_for(other_student).delete(url).status_code == 404
    assert api_client_for(admin_user).delete(url).status_code == 403
    assert api_client_for(None).delete(url).status_code == 401
    assert LessonShare.objects.get().revoked_at is None


def test_a_link_of_another_lesson_cannot_be_revoked_here(student, coach, service, lesson):
    other = past_lesson(student, coach, service, started=days_ago(5))
    made = create(student, other).json()
    response = api_client_for(student).delete(session_url(lesson, f"shares/{made['share_id']}"))
    assert response.status_code == 404
    assert api_client_for(student).delete(session_url(lesson, "shares/shr_nope")).status_code == 404
    assert LessonShare.objects.get().revoked_at is None


def test_expired_links_are_listed_as_expired(student, lesson):
    made = create(student, lesson, {"expires_in_days": 1}).json()
    LessonShare.objects.filter(share_id=made["share_id"]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    listed = api_client_for(student).get(session_url(lesson, "shares")).json()["results"]
    assert listed[0]["state"] == "expired"


def test_the_new_endpoints_are_in_the_schema():
    from tests.api.test_schema import openapi

    paths = openapi()["paths"]
    for path, method in [
        ("/api/lessons/", "get"),
        ("/api/lessons/filters/", "get"),
        ("/api/students/{student_id}/progress/", "get"),
        ("/api/students/{student_id}/metrics/", "get"),
        ("/api/sessions/{session_id}/shares/", "get"),
        ("/api/sessions/{session_id}/shares/", "post"),
        ("/api/sessions/{session_id}/shares/{share_id}/", "delete"),
    ]:
        operation = paths[path][method]
        assert operation.get("description"), (path, method)
        assert "401" in operation["responses"], (path, method)
    progress = paths["/api/students/{student_id}/progress/"]["get"]
    metric = next(p for p in progress["parameters"] if p["name"] == "metric")
    assert metric["required"] is True
    created = paths["/api/sessions/{session_id}/shares/"]["post"]["responses"]["201"]
    schema = created["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    fields = openapi()["components"]["schemas"][schema]["properties"]
    assert {"share_id", "url", "expires_at"} <= set(fields)
