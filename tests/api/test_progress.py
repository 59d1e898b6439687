"""A student's progress across lessons: GET /api/students/{id}/progress/?metric= and
…/metrics/ (the student, coaches who taught them, admins)."""

import pytest

from coaching.events import epoch_ms
from coaching.models import Status
from tests.support.auth import api_client_for
from tests.support.library import days_ago, past_lesson


@pytest.fixture
def history(student, coach, other_coach, service) -> dict:
    first = past_lesson(
        student,
        coach,
        service,
        started=days_ago(10),
        swings=[
            ("a1", "driver", {"face_angle": 5.2, "swing_speed": 92.0}),
            ("a2", "driver", {"face_angle_deg": 3.5, "tempo_score": True}),  # an alias
            ("a3", "driver", {"tempo_score": 70}),
        ],
    )
    second = past_lesson(
        student,
        other_coach,
        service,
        started=days_ago(2),
        swings=[("b1", "7i", {"face_angle": 1.0, "nested": {"face_angle": 9}})],
    )
    # A lesson in progress counts too: its cards are swings analysed like any other.
    live = past_lesson(
        student,
        coach,
        service,
        started=days_ago(0),
        status=Status.ACTIVE,
        swings=[("c1", "driver", {"face_angle": -0.5})],
    )
    return {"first": first, "second": second, "live": live}


def progress(user, student, metric="face_angle"):
    return api_client_for(user).get(f"/api/students/{student.pk}/progress/?metric={metric}")


def test_one_point_per_swing_oldest_first_in_the_catalog_unit(student, history):
    response = progress(student, student)
    assert response.status_code == 200
    body = response.json()
    assert (body["metric"], body["unit"]) == ("face_angle", "°")
    first, second, live = history["first"], history["second"], history["live"]
    assert [(p["session_id"], p["swing_id"], p["value"]) for p in body["points"]] == [
        (first.session_id, "a1", 5.2),
        (first.session_id, "a2", 3.5),
        (second.session_id, "b1", 1.0),
        (live.session_id, "c1", -0.5),
    ]
    # When: the swing's recorded time (a minute apart in the lesson).
    assert body["points"][0]["at"] == epoch_ms(days_ago(10).replace(minute=1))
    assert body["points"][1]["at"] - body["points"][0]["at"] == 60_000


def test_values_that_are_not_numbers_are_left_out(student, history):
    body = progress(student, student, "tempo_score").json()
    assert [(p["swing_id"], p["value"]) for p in body["points"]] == [("a3", 70.0)]
    assert progress(student, student, "spin_rate").json()["points"] == []


def test_who_may_see_a_students_progress(
    student, coach, other_coach, other_student, admin_user, service, make_user, history
):
    stranger_coach = make_user("coach", name="Stranger")
    for allowed in (student, coach, other_coach, admin_user):
        assert progress(allowed, student).status_code == 200, allowed
    for refused in (other_student, stranger_coach, service):
        response = progress(refused, student)
        assert response.status_code == 404, refused
        assert response.json()["error"]["code"] == "not_found"
    assert progress(None, student).status_code == 401


def test_a_coachs_lesson_in_progress_is_enough_to_have_taught(make_user, student, service, history):
    new_coach = make_user("coach", name="New Pro")
    assert progress(new_coach, student).status_code == 404
    past_lesson(student, new_coach, service, started=days_ago(0), status=Status.ACTIVE)
    assert progress(new_coach, student).status_code == 200


def test_only_students_have_progress(coach, admin_user):
    assert progress(admin_user, coach).status_code == 404
    assert api_client_for(admin_user).get("/api/students/999999999/metrics/").status_code == 404
    huge = api_client_for(admin_user).get(f"/api/students/{2**70}/progress/?metric=face_angle")
    assert huge.status_code == 404


@pytest.mark.parametrize("query", ["", "?metric=", "?metric=face_angle_deg", "?metric=nested"])
def test_the_metric_must_be_a_catalog_key(student, history, query):
    response = api_client_for(student).get(f"/api/students/{student.pk}/progress/{query}")
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["metric"]


def test_the_metrics_a_student_has_values_for(student, coach, history):
    response = api_client_for(coach).get(f"/api/students/{student.pk}/metrics/")
    assert response.status_code == 200
    body = response.json()
    assert body["student"] == {"id": str(student.pk), "name": "Ian"}
    counts = {m["metric"]: m["count"] for m in body["metrics"]}
    assert counts == {"face_angle": 4, "swing_speed": 1, "tempo_score": 1}
    # In catalog order.
    assert [m["metric"] for m in body["metrics"]] == ["face_angle", "swing_speed", "tempo_score"]
    face = body["metrics"][0]
    assert face["last_at"] == epoch_ms(days_ago(0).replace(minute=1))
