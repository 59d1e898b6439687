"""Checkpoints: the coach's bookmarks on feedback cards."""

import pytest

from coaching.models import Checkpoint, CoachingSession, Feedback
from tests.api.support import PARTICIPANT_READS, session_url
from tests.support.auth import api_client_for
from tests.support.broadcasts import captured_broadcasts


def test_coach_saves_a_checkpoint_with_a_note(coach, active_session, feedback_card):
    body = {"feedback_id": feedback_card["id"], "note": "Work on this next week."}
    with captured_broadcasts() as sent:
        response = api_client_for(coach).post(
            session_url(active_session, "checkpoints"), body, format="json"
        )
    assert response.status_code == 201
    checkpoint = response.json()
    assert checkpoint["feedback_id"] == feedback_card["id"]
    assert checkpoint["swing_id"] == "sw_1"
    assert checkpoint["note"] == "Work on this next week."
    assert checkpoint["coach"] == {"id": str(coach.pk), "name": "IanPro"}
    active_session.refresh_from_db()
    assert checkpoint["seq"] == active_session.last_seq > feedback_card["seq"]
    assert sent == [(active_session.topic, "checkpoint:added", checkpoint)]


def test_checkpoint_note_is_optional(coach, active_session, feedback_card):
    response = api_client_for(coach).post(
        session_url(active_session, "checkpoints"),
        {"feedback_id": feedback_card["id"]},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["note"] == ""


def test_checkpoint_on_another_sessions_feedback_is_refused(coach, active_session, student):
    other = CoachingSession.objects.create(student=student, coach=coach, status="active")
    foreign = Feedback.objects.create(session=other, seq=1, swing_id="x", summary="y")
    response = api_client_for(coach).post(
        session_url(active_session, "checkpoints"), {"feedback_id": foreign.pk}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["feedback_id"]
    assert not Checkpoint.objects.exists()


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "feedback_id"),
        ({"feedback_id": "abc"}, "feedback_id"),
        ({"feedback_id": 0}, "feedback_id"),
        ({"feedback_id": 1, "note": "n" * 2001}, "note"),
    ],
)
def test_invalid_checkpoint_is_refused_naming_the_field(coach, active_session, body, field):
    response = api_client_for(coach).post(
        session_url(active_session, "checkpoints"), body, format="json"
    )
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


@pytest.mark.parametrize(
    "who, status", [("student", 403), ("admin_user", 403), ("service", 403), ("other_coach", 404)]
)
def test_only_the_sessions_coach_saves_checkpoints(
    request, active_session, feedback_card, who, status
):
    user = request.getfixturevalue(who)
    response = api_client_for(user).post(
        session_url(active_session, "checkpoints"),
        {"feedback_id": feedback_card["id"]},
        format="json",
    )
    assert response.status_code == status
    assert not Checkpoint.objects.exists()


@pytest.mark.parametrize(("who", "status"), PARTICIPANT_READS)
def test_checkpoints_are_read_by_participants_and_admins(
    request, coach, active_session, feedback_card, who, status
):
    saved = api_client_for(coach).post(
        session_url(active_session, "checkpoints"),
        {"feedback_id": feedback_card["id"], "note": "Key swing"},
        format="json",
    )
    user = request.getfixturevalue(who)
    response = api_client_for(user).get(session_url(active_session, "checkpoints"))
    assert response.status_code == status
    if status == 200:
        assert response.json()["results"] == [saved.json()]
