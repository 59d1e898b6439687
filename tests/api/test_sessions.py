"""Sessions: create, list, detail and claim, for every role."""

import pytest

from coaching.events import LOBBY_TOPIC
from coaching.models import CoachingSession, Status
from tests.api.support import session_url
from tests.support.auth import api_client_for
from tests.support.broadcasts import captured_broadcasts, events_named


def test_student_creates_a_waiting_session_for_themselves(student):
    with captured_broadcasts() as sent:
        response = api_client_for(student).post(
            "/api/sessions/", {"title": "Driver slice"}, format="json"
        )
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "waiting"
    assert body["student"] == {"id": str(student.pk), "name": "Ian"}
    assert body["coach"] is None
    assert body["title"] == "Driver slice"
    session = CoachingSession.objects.get(session_id=body["session_id"])
    assert session.student == student
    assert sent == [(LOBBY_TOPIC, "session:waiting", body)]


def test_service_creates_a_session_on_behalf_of_a_student(service, student):
    response = api_client_for(service).post(
        "/api/sessions/", {"student_id": student.pk}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["student"]["id"] == str(student.pk)


def test_service_must_name_the_student(service):
    """Opening a session for oneself is a student's action: the body is valid, the role is not."""
    response = api_client_for(service).post("/api/sessions/", {}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert "student_id" in response.json()["error"]["message"]


@pytest.mark.parametrize("student_id", ["not-a-number", 0])
def test_service_student_id_must_be_a_positive_integer(service, student_id):
    response = api_client_for(service).post(
        "/api/sessions/", {"student_id": student_id}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["student_id"]


def test_service_cannot_create_a_session_for_a_coach(service, coach):
    response = api_client_for(service).post(
        "/api/sessions/", {"student_id": coach.pk}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_input"
    assert "student_id" in response.json()["error"]["fields"]


def test_unknown_student_id_is_invalid_input(service):
    response = api_client_for(service).post(
        "/api/sessions/", {"student_id": 999_999}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"student_id": ["No such student."]}


def test_title_longer_than_200_characters_is_refused(student):
    response = api_client_for(student).post("/api/sessions/", {"title": "x" * 201}, format="json")
    assert response.status_code == 400
    assert "title" in response.json()["error"]["fields"]


@pytest.mark.parametrize("who", ["coach", "admin_user"])
def test_coaches_and_admins_cannot_create_sessions(request, who):
    user = request.getfixturevalue(who)
    response = api_client_for(user).post("/api/sessions/", {}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert not CoachingSession.objects.exists()


@pytest.fixture
def sessions(student, other_student, coach, other_coach) -> dict[str, CoachingSession]:
    """One session of each kind the visibility rules tell apart."""
    make = CoachingSession.objects.create
    return {
        "waiting": make(student=other_student),
        "mine_active": make(student=student, coach=coach, status=Status.ACTIVE),
        "other_coach_active": make(student=other_student, coach=other_coach, status=Status.ACTIVE),
        "mine_ended": make(student=student, coach=coach, status=Status.ENDED),
    }


def listed(user, query: str = "") -> set[str]:
    response = api_client_for(user).get(f"/api/sessions/{query}")
    assert response.status_code == 200, response.content
    return {entry["session_id"] for entry in response.json()["results"]}


def ids(sessions: dict[str, CoachingSession], *names: str) -> set[str]:
    return {sessions[name].session_id for name in names}


def test_coach_lists_waiting_sessions_and_their_own(coach, sessions):
    assert listed(coach) == ids(sessions, "waiting", "mine_active", "mine_ended")


def test_student_lists_only_their_own_sessions(student, sessions):
    assert listed(student) == ids(sessions, "mine_active", "mine_ended")


def test_admin_lists_every_session(admin_user, sessions):
    assert listed(admin_user) == ids(sessions, *sessions)


def test_service_lists_every_session(service, sessions):
    assert listed(service) == ids(sessions, *sessions)


def test_status_filter_narrows_the_list(coach, admin_user, sessions):
    assert listed(coach, "?status=waiting") == ids(sessions, "waiting")
    assert listed(coach, "?status=active") == ids(sessions, "mine_active")
    assert listed(admin_user, "?status=active") == ids(
        sessions, "mine_active", "other_coach_active"
    )


def test_mine_lists_only_the_lessons_you_take_part_in(coach, student, admin_user, sessions):
    """A coach's own lessons without the waiting list; a student's own, as before."""
    assert listed(coach, "?mine=true") == ids(sessions, "mine_active", "mine_ended")
    assert listed(coach, "?mine=true&status=ended") == ids(sessions, "mine_ended")
    assert listed(coach, "?mine=true&status=waiting") == set()
    assert listed(coach, "?mine=false") == ids(sessions, "waiting", "mine_active", "mine_ended")
    assert listed(student, "?mine=1") == ids(sessions, "mine_active", "mine_ended")
    assert listed(admin_user, "?mine=true") == set()


@pytest.mark.parametrize("value", ["", "maybe"])
def test_mine_must_be_a_boolean(coach, value):
    response = api_client_for(coach).get(f"/api/sessions/?mine={value}")
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["mine"]


def test_unknown_status_filter_names_the_field(coach):
    response = api_client_for(coach).get("/api/sessions/?status=sleeping")
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["status"]


def test_list_entries_are_lobby_entries(student, sessions):
    entry = api_client_for(student).get("/api/sessions/?status=active").json()["results"][0]
    assert set(entry) == {
        "session_id",
        "status",
        "current_step",
        "coach",
        "student",
        "updated_at",
        "title",
        "created_at",
        "started_at",
        "ended_at",
        "step_source",
        "swing_summary",
    }
    assert entry["coach"] == {"id": str(sessions["mine_active"].coach_id), "name": "IanPro"}


def test_list_is_paginated_newest_first(student):
    created = [CoachingSession.objects.create(student=student, status="ended") for _ in range(5)]
    client = api_client_for(student)
    first = client.get("/api/sessions/?page_size=2").json()
    assert first["count"] == 5
    assert first["previous"] is None
    assert [e["session_id"] for e in first["results"]] == [
        created[4].session_id,
        created[3].session_id,
    ]
    last = client.get("/api/sessions/?page_size=2&page=3").json()
    assert last["next"] is None
    assert [e["session_id"] for e in last["results"]] == [created[0].session_id]


def test_page_size_is_capped_at_100(student):
    for _ in range(3):
        CoachingSession.objects.create(student=student, status="ended")
    response = api_client_for(student).get("/api/sessions/?page_size=1000")
    assert response.status_code == 200
    assert len(response.json()["results"]) == 3


def test_page_past_the_end_is_not_found(student):
    response = api_client_for(student).get("/api/sessions/?page=9")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_participant_reads_session_detail_with_last_seq(student, active_session):
    active_session.last_seq = 7
    active_session.save()
    response = api_client_for(student).get(session_url(active_session))
    assert response.status_code == 200
    body = response.json()
    assert body["session_id"] == active_session.session_id
    assert body["status"] == "active"
    assert body["last_seq"] == 7


@pytest.mark.parametrize(
    "who, status",
    [
        ("student", 200),
        ("coach", 200),
        ("admin_user", 200),
        ("service", 200),
        ("other_student", 404),
        ("other_coach", 404),
    ],
)
def test_session_detail_is_for_those_who_may_see_it(request, active_session, who, status):
    user = request.getfixturevalue(who)
    response = api_client_for(user).get(session_url(active_session))
    assert response.status_code == status


def test_any_coach_sees_a_waiting_session(other_coach, waiting_session):
    response = api_client_for(other_coach).get(session_url(waiting_session))
    assert response.status_code == 200
    assert response.json()["status"] == "waiting"


def test_unknown_and_hidden_sessions_look_the_same(other_student, active_session):
    client = api_client_for(other_student)
    hidden = client.get(session_url(active_session)).json()
    missing = client.get("/api/sessions/sess_does_not_exist/").json()
    assert hidden == missing == {"error": {"code": "not_found", "message": "No such session."}}


def test_coach_claims_a_waiting_session(coach, waiting_session):
    with captured_broadcasts() as sent:
        response = api_client_for(coach).post(session_url(waiting_session, "claim"))
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "active"
    assert body["coach"] == {"id": str(coach.pk), "name": "IanPro"}
    assert [e for _, e, _ in sent] == ["session:state", "session:claimed"]
    assert events_named(sent, "session:claimed") == [body]


def test_second_coach_gets_conflict_when_claiming(coach, other_coach, waiting_session):
    assert api_client_for(coach).post(session_url(waiting_session, "claim")).status_code == 200
    response = api_client_for(other_coach).post(session_url(waiting_session, "claim"))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "already_claimed"


def test_claim_retried_by_the_winner_is_harmless(coach, waiting_session):
    client = api_client_for(coach)
    client.post(session_url(waiting_session, "claim"))
    with captured_broadcasts() as sent:
        response = client.post(session_url(waiting_session, "claim"))
    assert response.status_code == 200
    assert sent == []


@pytest.mark.parametrize("who", ["student", "service", "admin_user"])
def test_only_coaches_claim(request, waiting_session, who):
    user = request.getfixturevalue(who)
    response = api_client_for(user).post(session_url(waiting_session, "claim"))
    assert response.status_code == 403


def test_ended_session_cannot_be_claimed(coach, student):
    session = CoachingSession.objects.create(student=student, status=Status.ENDED)
    response = api_client_for(coach).post(session_url(session, "claim"))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "session_ended"


class TestOneWaitingSessionPerStudent:
    def test_starting_again_returns_the_waiting_session_with_200(self, student):
        client = api_client_for(student)
        first = client.post("/api/sessions/", {"title": "Driver"}, format="json")
        with captured_broadcasts() as sent:
            again = client.post("/api/sessions/", {}, format="json")
        assert (first.status_code, again.status_code) == (201, 200)
        assert again.json()["session_id"] == first.json()["session_id"]
        assert again.json()["title"] == "Driver"
        assert sent == []

    def test_starting_again_with_a_new_topic_updates_it_for_everyone(self, student, coach):
        client = api_client_for(student)
        first = client.post("/api/sessions/", {"title": "Driver"}, format="json").json()
        with captured_broadcasts() as sent:
            again = client.post("/api/sessions/", {"title": "Irons"}, format="json")
        assert again.status_code == 200
        body = again.json()
        assert (body["session_id"], body["title"]) == (first["session_id"], "Irons")
        assert sent == [(LOBBY_TOPIC, "session:updated", body)]
        # What the coaches list and the student's own list say from now on.
        for user in (coach, student):
            listed = api_client_for(user).get("/api/sessions/?status=waiting").json()
            assert [e["title"] for e in listed["results"]] == ["Irons"]

    def test_the_service_starting_for_a_waiting_student_gets_200(self, service, waiting_session):
        response = api_client_for(service).post(
            "/api/sessions/", {"student_id": waiting_session.student_id}, format="json"
        )
        assert response.status_code == 200
        assert response.json()["session_id"] == waiting_session.session_id


def test_lobby_entry_has_the_latest_swing_summary_once_analysed(coach, waiting_session, service):
    from coaching.services.analysis import feedback_record

    client = api_client_for(coach)
    before = client.get(session_url(waiting_session)).json()
    assert before["swing_summary"] is None
    for swing_id, summary in [("sw_1", "Open face."), ("sw_2", "Better, still late.")]:
        feedback_record(
            session_id=waiting_session.session_id,
            actor=service,
            swing_id=swing_id,
            summary=summary,
            metrics={},
            recommendations=[],
            level="beginner",
        )
    listed = client.get("/api/sessions/?status=waiting").json()["results"][0]
    assert listed["swing_summary"]["swing_id"] == "sw_2"
    assert listed["swing_summary"]["summary"] == "Better, still late."
    assert listed["swing_summary"]["level"] == "beginner"
    assert isinstance(listed["swing_summary"]["created_at"], int)


def test_a_coach_previews_a_waiting_session_before_claiming(coach, waiting_session):
    response = api_client_for(coach).get(session_url(waiting_session))
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["started_at"], body["step_source"]) == ("waiting", None, "auto")


def test_claim_answers_with_started_at(coach, waiting_session):
    response = api_client_for(coach).post(session_url(waiting_session, "claim"))
    assert isinstance(response.json()["started_at"], int)
