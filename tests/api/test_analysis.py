"""The Node API's hooks: feedback, progress and notices, and who may use them."""

import pytest

from coaching.models import Feedback, SessionEvent
from tests.api.support import PARTICIPANT_READS, session_url
from tests.support.auth import api_client_for
from tests.support.broadcasts import captured_broadcasts, events_named
from tests.support.event_log import is_eid

FEEDBACK = {
    "swing_id": "sw_999",
    "summary": "The face tends to be open at impact.",
    "metrics": {"face_angle": 5.2, "tempo_score": 78},
    "recommendations": ["Take a stronger grip.", "Hinge the lead wrist less."],
    "level": "intermediate",
}
PROGRESS = {"swing_id": "sw_999", "percent": 40, "step": "club_tracking"}
NOTICE = {"text": "Analysis servers are busy; results may be slow.", "level": "warning"}


def test_service_posts_feedback_which_is_stored_and_broadcast(service, active_session):
    with captured_broadcasts() as sent:
        response = api_client_for(service).post(
            session_url(active_session, "feedback"), FEEDBACK, format="json"
        )
    assert response.status_code == 201
    card = response.json()
    assert {k: card[k] for k in FEEDBACK} == FEEDBACK
    assert card["session_id"] == active_session.session_id
    assert card["seq"] == 1
    assert sent[0] == (active_session.topic, "ai:feedback", card)
    # The step follows the analysis: a card moves the session to `feedback`.
    assert [(e, p["current_step"]) for _, e, p in sent[1:]] == [("session:state", "feedback")]


def test_feedback_posted_twice_is_stored_and_broadcast_once(service, active_session):
    client = api_client_for(service)
    url = session_url(active_session, "feedback")
    with captured_broadcasts() as sent:
        first = client.post(url, FEEDBACK, format="json")
        retry = client.post(url, {**FEEDBACK, "summary": "changed"}, format="json")
    assert (first.status_code, retry.status_code) == (201, 200)
    assert retry.json() == first.json()
    assert Feedback.objects.filter(session=active_session).count() == 1
    assert len(events_named(sent, "ai:feedback")) == 1


def test_feedback_needs_only_swing_id_and_summary(service, active_session):
    response = api_client_for(service).post(
        session_url(active_session, "feedback"),
        {"swing_id": "sw_1", "summary": "Good tempo."},
        format="json",
    )
    assert response.status_code == 201
    card = response.json()
    assert (card["metrics"], card["recommendations"], card["level"]) == ({}, [], "")


def test_feedback_for_an_ended_session_is_still_stored(service, active_session):
    active_session.status = "ended"
    active_session.save()
    response = api_client_for(service).post(
        session_url(active_session, "feedback"), FEEDBACK, format="json"
    )
    assert response.status_code == 201


@pytest.mark.parametrize(
    "body, field",
    [
        ({**FEEDBACK, "swing_id": ""}, "swing_id"),
        ({k: v for k, v in FEEDBACK.items() if k != "summary"}, "summary"),
        ({**FEEDBACK, "metrics": [1, 2]}, "metrics"),
        ({**FEEDBACK, "recommendations": "not a list"}, "recommendations"),
        ({**FEEDBACK, "recommendations": [{"text": "x"}]}, "recommendations"),
        ({**FEEDBACK, "swing_id": "s" * 101}, "swing_id"),
        ({**FEEDBACK, "metrics": {"blob": "x" * 20_000}}, "metrics"),
    ],
)
def test_invalid_feedback_is_refused_naming_the_field(service, active_session, body, field):
    response = api_client_for(service).post(
        session_url(active_session, "feedback"), body, format="json"
    )
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert not Feedback.objects.exists()


@pytest.mark.parametrize("who", ["student", "coach", "admin_user"])
def test_only_the_service_posts_feedback(request, active_session, who):
    user = request.getfixturevalue(who)
    with captured_broadcasts() as sent:
        response = api_client_for(user).post(
            session_url(active_session, "feedback"), FEEDBACK, format="json"
        )
    assert response.status_code == 403
    assert sent == []
    assert not Feedback.objects.exists()


def test_student_cannot_post_feedback_even_with_a_bad_body(student, active_session):
    """The role is checked before the body: no probing of validation rules."""
    response = api_client_for(student).post(
        session_url(active_session, "feedback"), {}, format="json"
    )
    assert response.status_code == 403


def test_feedback_to_an_unknown_session_is_not_found(service):
    response = api_client_for(service).post(
        "/api/sessions/sess_nope/feedback/", FEEDBACK, format="json"
    )
    assert response.status_code == 404


@pytest.mark.parametrize(("who", "status"), PARTICIPANT_READS)
def test_feedback_is_read_by_participants_and_admins(
    request, active_session, feedback_card, who, status
):
    user = request.getfixturevalue(who)
    response = api_client_for(user).get(session_url(active_session, "feedback"))
    assert response.status_code == status
    if status == 200:
        assert response.json()["results"] == [feedback_card]


def test_service_posts_progress_which_is_broadcast_as_a_tick(service, active_session):
    with captured_broadcasts() as sent:
        response = api_client_for(service).post(
            session_url(active_session, "progress"), PROGRESS, format="json"
        )
    assert response.status_code == 202
    tick = {"session_id": active_session.session_id, **PROGRESS}
    assert response.json() == tick
    assert (active_session.topic, "swing:progress", tick) in sent
    assert "seq" not in tick


def test_progress_reaching_a_new_step_is_logged_once_as_a_milestone(service, active_session):
    client = api_client_for(service)
    url = session_url(active_session, "progress")
    ticks = [(15, "pose_detection"), (30, "pose_detection"), (40, "club_tracking")]
    with captured_broadcasts() as sent:
        for percent, step in [*ticks, (40, "club_tracking")]:
            body = {"swing_id": "sw_9", "percent": percent, "step": step}
            assert client.post(url, body, format="json").status_code == 202
    logged = SessionEvent.objects.filter(session=active_session, event="analysis:milestone")
    milestones = [e.payload for e in logged.order_by("seq")]
    assert [(m["step"], m["percent"]) for m in milestones] == [
        ("pose_detection", 15),
        ("club_tracking", 40),
    ]
    assert milestones[0] == {
        "session_id": active_session.session_id,
        "swing_id": "sw_9",
        "step": "pose_detection",
        "percent": 15,
        "seq": milestones[0]["seq"],
        "eid": milestones[0]["eid"],
    }
    assert is_eid(milestones[0]["eid"])
    assert milestones[0]["eid"] != milestones[1]["eid"]
    assert events_named(sent, "analysis:milestone") == milestones
    assert len(events_named(sent, "swing:progress")) == 4


def test_progress_reaching_100_percent_is_a_milestone_even_in_the_same_step(
    service, active_session
):
    client = api_client_for(service)
    url = session_url(active_session, "progress")
    for percent in (85, 100, 100):
        body = {"swing_id": "sw_9", "percent": percent, "step": "scoring"}
        client.post(url, body, format="json")
    logged = SessionEvent.objects.filter(session=active_session, event="analysis:milestone")
    assert [e.payload["percent"] for e in logged.order_by("seq")] == [85, 100]


def test_repeated_progress_ticks_are_harmless(service, active_session):
    client = api_client_for(service)
    seqs = []
    for _ in range(2):
        response = client.post(session_url(active_session, "progress"), PROGRESS, format="json")
        assert response.status_code == 202
        active_session.refresh_from_db()
        seqs.append(active_session.last_seq)
    assert seqs[0] == seqs[1]


@pytest.mark.parametrize(
    "change, field",
    [
        ({"percent": 101}, "percent"),
        ({"percent": -1}, "percent"),
        ({"percent": "half"}, "percent"),
        ({"step": "s" * 41}, "step"),
        ({"swing_id": ""}, "swing_id"),
    ],
)
def test_invalid_progress_is_refused_naming_the_field(service, active_session, change, field):
    response = api_client_for(service).post(
        session_url(active_session, "progress"), {**PROGRESS, **change}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == [field]


@pytest.mark.parametrize("who", ["student", "coach", "admin_user"])
def test_only_the_service_posts_progress(request, active_session, who):
    user = request.getfixturevalue(who)
    response = api_client_for(user).post(
        session_url(active_session, "progress"), PROGRESS, format="json"
    )
    assert response.status_code == 403


def test_progress_to_a_session_the_caller_cannot_see_is_not_found(other_student, active_session):
    response = api_client_for(other_student).post(
        session_url(active_session, "progress"), PROGRESS, format="json"
    )
    assert response.status_code == 404


@pytest.mark.parametrize("who", ["service", "admin_user"])
def test_service_and_admins_post_notices(request, active_session, who):
    user = request.getfixturevalue(who)
    with captured_broadcasts() as sent:
        response = api_client_for(user).post(
            session_url(active_session, "notices"), NOTICE, format="json"
        )
    assert response.status_code == 201
    notice = response.json()
    assert notice == {
        "type": "system",
        **NOTICE,
        "code": "service",
        "params": {},
        "seq": 1,
        "eid": notice["eid"],
    }
    assert is_eid(notice["eid"])
    assert sent == [(active_session.topic, "system:notice", notice)]


def test_notice_level_defaults_to_info(service, active_session):
    response = api_client_for(service).post(
        session_url(active_session, "notices"), {"text": "Hello"}, format="json"
    )
    assert response.json()["level"] == "info"


def test_notice_retried_with_its_id_is_stored_and_broadcast_once(service, active_session):
    client = api_client_for(service)
    body = {**NOTICE, "notice_id": "n-1"}
    with captured_broadcasts() as sent:
        first = client.post(session_url(active_session, "notices"), body, format="json")
        retry = client.post(session_url(active_session, "notices"), body, format="json")
    assert (first.status_code, retry.status_code) == (201, 200)
    assert retry.json() == first.json()
    assert SessionEvent.objects.filter(session=active_session, event="system:notice").count() == 1
    assert len(events_named(sent, "system:notice")) == 1


def test_notices_without_an_id_are_each_posted(service, active_session):
    client = api_client_for(service)
    for _ in range(2):
        client.post(session_url(active_session, "notices"), NOTICE, format="json")
    assert SessionEvent.objects.filter(session=active_session, event="system:notice").count() == 2


@pytest.mark.parametrize(
    "change, field",
    [
        ({"text": ""}, "text"),
        ({"text": "x" * 501}, "text"),
        ({"level": "panic"}, "level"),
        ({"notice_id": "n" * 101}, "notice_id"),
    ],
)
def test_invalid_notice_is_refused_naming_the_field(service, active_session, change, field):
    response = api_client_for(service).post(
        session_url(active_session, "notices"), {**NOTICE, **change}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == [field]


@pytest.mark.parametrize("who", ["student", "coach"])
def test_participants_cannot_post_notices(request, active_session, who):
    user = request.getfixturevalue(who)
    response = api_client_for(user).post(
        session_url(active_session, "notices"), NOTICE, format="json"
    )
    assert response.status_code == 403
