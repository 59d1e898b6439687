"""Share links in the service: what opens a link, and what a link shows."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from coaching.errors import ServiceError
from coaching.models import LessonShare
from coaching.services.checkpoints import checkpoint_save
from coaching.services.shares import (
    revoke,
    secret_digest,
    share_create,
    share_open,
    share_revoke,
    shared_recap,
)
from tests.support.library import driver_lesson


@pytest.fixture
def lesson(student, coach, service):
    session = driver_lesson(student, coach, service, status="active")
    checkpoint_save(
        session_id=session.session_id,
        coach=coach,
        feedback_id=session.feedback.get().pk,
        note="Grip first.",
    )
    session.status = "ended"
    session.ended_at = timezone.now()
    session.save()
    return session


def test_a_link_opens_with_its_secret_only(student, lesson):
    share, secret = share_create(session_id=lesson.session_id, user=student)
    assert share_open(share.share_id, secret) == share
    assert share.secret_hash == secret_digest(secret) != secret
    for share_id, wrong in [
        (share.share_id, secret[:-1] + ("A" if secret[-1] != "A" else "B")),
        (share.share_id, ""),
        ("shr_unknown", secret),
    ]:
        with pytest.raises(ServiceError) as refused:
            share_open(share_id, wrong)
        assert refused.value.code == "not_found"


def test_a_link_is_gone_once_expired_or_revoked(student, coach, lesson):
    expiring, secret = share_create(session_id=lesson.session_id, user=student, expires_in_days=1)
    LessonShare.objects.filter(pk=expiring.pk).update(expires_at=timezone.now())
    with pytest.raises(ServiceError) as expired:
        share_open(expiring.share_id, secret)
    assert expired.value.code == "share_expired"

    revoked, secret = share_create(session_id=lesson.session_id, user=coach)
    share_revoke(session_id=lesson.session_id, share_id=revoked.share_id, user=student)
    with pytest.raises(ServiceError) as gone:
        share_open(revoked.share_id, secret)
    assert gone.value.code == "share_revoked"
    # Revoked wins over expired, and revoking twice keeps the first time.
    first = LessonShare.objects.get(pk=revoked.pk).revoked_at
    revoke(LessonShare.objects.get(pk=revoked.pk))
    assert LessonShare.objects.get(pk=revoked.pk).revoked_at == first


@pytest.mark.parametrize("days", [0, 31, -1, True, "7", None])
def test_the_lifetime_is_one_to_thirty_whole_days(student, lesson, days):
    with pytest.raises(ServiceError) as refused:
        share_create(session_id=lesson.session_id, user=student, expires_in_days=days)
    assert (refused.value.code, refused.value.field) == ("invalid_input", "expires_in_days")


def test_the_lifetime_is_counted_from_now(student, lesson):
    before = timezone.now()
    share, _ = share_create(session_id=lesson.session_id, user=student, expires_in_days=30)
    assert before + timedelta(days=30) <= share.expires_at <= timezone.now() + timedelta(days=30)


def test_only_the_lessons_student_and_coach_share(make_user, admin_user, lesson):
    other_student = make_user("student", name="Someone Else")
    for user, code in [(other_student, "not_found"), (admin_user, "forbidden")]:
        with pytest.raises(ServiceError) as refused:
            share_create(session_id=lesson.session_id, user=user)
        assert refused.value.code == code


def test_what_a_link_shows_names_people_by_display_name_only(student, coach, lesson):
    share, secret = share_create(session_id=lesson.session_id, user=student)
    shown = shared_recap(share)
    assert shown["title"] == "Driver slice"
    assert shown["student"] == {"name": "Ian"}
    assert shown["coach"] == {"name": "IanPro"}
    recap = shown["recap"]
    assert recap["practice"] == ["Drill for sw_1"]
    assert recap["checkpoints"][0]["coach"] == {"name": "IanPro"}
    assert recap["checkpoints"][0]["note"] == "Grip first."
    assert [s["swing_id"] for s in shown["swings"]] == ["sw_1"]
    text = json.dumps(shown)
    for hidden in (
        student.username,
        coach.username,
        lesson.session_id,
        secret,
        share.secret_hash,
        f'"id": "{coach.pk}"',
        "email",
    ):
        assert hidden not in text, hidden
