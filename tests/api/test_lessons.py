"""The library: GET /api/lessons/ (past lessons, newest first, filters) and its filters."""

import pytest

from coaching.models import CoachingSession, Status
from tests.support.auth import api_client_for
from tests.support.library import days_ago, past_lesson


@pytest.fixture
def lessons(student, coach, other_coach, other_student, service) -> dict[str, CoachingSession]:
    return {
        "old": past_lesson(
            student,
            coach,
            service,
            started=days_ago(10),
            title="Driver slice",
            swings=[("a1", "driver", {"face_angle": 5.2}), ("a2", "Driver", {})],
        ),
        "other_coach": past_lesson(
            student,
            other_coach,
            service,
            started=days_ago(3),
            title="Irons",
            swings=[("b1", "7i", {"face_angle_deg": 2.1})],
        ),
        "other_student": past_lesson(
            other_student, coach, service, started=days_ago(1), title="Putting"
        ),
        "active": past_lesson(
            student, coach, service, started=days_ago(0), title="Now", status=Status.ACTIVE
        ),
    }


def listed(user, query: str = "") -> list[str]:
    response = api_client_for(user).get(f"/api/lessons/{query}")
    assert response.status_code == 200, response.json()
    return [lesson["session_id"] for lesson in response.json()["results"]]


def ids(lessons, *names) -> list[str]:
    return [lessons[name].session_id for name in names]


def test_a_student_lists_their_past_lessons_newest_first(student, lessons):
    assert listed(student) == ids(lessons, "other_coach", "old")


def test_a_coach_lists_the_lessons_they_taught(coach, other_coach, lessons):
    assert listed(coach) == ids(lessons, "other_student", "old")
    assert listed(other_coach) == ids(lessons, "other_coach")


def test_an_admin_lists_every_past_lesson(admin_user, lessons):
    assert listed(admin_user) == ids(lessons, "other_student", "other_coach", "old")


def test_a_lesson_entry_has_what_the_library_shows(student, coach, lessons):
    response = api_client_for(student).get("/api/lessons/")
    old = response.json()["results"][1]
    session = lessons["old"]
    assert old["session_id"] == session.session_id
    assert old["title"] == "Driver slice"
    assert old["status"] == "ended"
    assert old["coach"] == {"id": str(coach.pk), "name": "IanPro"}
    assert old["student"] == {"id": str(student.pk), "name": "Ian"}
    assert old["duration_ms"] == 40 * 60 * 1000
    assert old["clubs"] == ["driver"]  # each once, whatever its case
    assert (old["swing_count"], old["feedback_count"]) == (2, 2)
    assert old["recap_url"] == f"/sessions/{session.session_id}/"
    assert old["replay_url"] == f"/sessions/{session.session_id}/replay/"
    assert old["swing_summary"]["swing_id"] == "a2"


def test_filter_by_coach_student_club_and_days(student, coach, other_coach, admin_user, lessons):
    assert listed(student, f"?coach={other_coach.pk}") == ids(lessons, "other_coach")
    assert listed(admin_user, f"?student={student.pk}") == ids(lessons, "other_coach", "old")
    # Clubs as the Node API names them, in any case.
    assert listed(student, "?club=DRIVER") == ids(lessons, "old")
    assert listed(student, "?club=7i") == ids(lessons, "other_coach")
    assert listed(student, "?club=putter") == []
    # Days in TIME_ZONE, both ends included.
    day = days_ago(3).date().isoformat()
    assert listed(student, f"?date_from={day}&date_to={day}") == ids(lessons, "other_coach")
    assert listed(student, f"?date_to={days_ago(4).date().isoformat()}") == ids(lessons, "old")
    assert listed(student, f"?date_from={days_ago(9).date().isoformat()}") == ids(
        lessons, "other_coach"
    )
    # A filter never widens what one may see.
    assert listed(coach, f"?student={student.pk}") == ids(lessons, "old")


@pytest.mark.parametrize(
    "query, field",
    [
        ("?coach=abc", "coach"),
        ("?student=0", "student"),
        ("?date_from=2026-13-01", "date_from"),
        ("?date_to=yesterday", "date_to"),
        ("?club=", "club"),
    ],
)
def test_bad_filters_are_refused_naming_them(student, lessons, query, field):
    response = api_client_for(student).get(f"/api/lessons/{query}")
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == [field]


def test_the_library_needs_an_account():
    assert api_client_for(None).get("/api/lessons/").status_code == 401
    assert api_client_for(None).get("/api/lessons/filters/").status_code == 401


def test_filters_list_the_people_and_clubs_of_ones_own_past_lessons(
    student, coach, other_coach, other_student, lessons
):
    mine = api_client_for(student).get("/api/lessons/filters/").json()
    assert mine["coaches"] == [
        {"id": str(coach.pk), "name": "IanPro"},
        {"id": str(other_coach.pk), "name": "Other Pro"},
    ]
    assert mine["students"] == [{"id": str(student.pk), "name": "Ian"}]
    assert mine["clubs"] == ["7i", "driver"]  # each once, whatever its case
    taught = api_client_for(coach).get("/api/lessons/filters/").json()
    assert [p["name"] for p in taught["students"]] == ["Ian", "Someone Else"]
    assert taught["clubs"] == ["driver"]
