"""Swings: the Node API attaches them (at creation or later); participants read them."""

import pytest

from coaching.api.serializers import SWING_EXAMPLE
from coaching.models import CoachingSession, SessionEvent, Swing
from coaching.services.swings import MAX_SWINGS_PER_SESSION
from tests.api.support import PARTICIPANT_READS, session_url
from tests.support.auth import api_client_for
from tests.support.broadcasts import captured_broadcasts, events_named
from tests.support.event_log import is_eid

# The schema's own example: what the Node API is shown is what works.
SWING = dict(SWING_EXAMPLE.value)


def attach(user, session, body):
    return api_client_for(user).post(session_url(session, "swings"), body, format="json")


def test_service_attaches_a_swing_and_everyone_gets_swing_added(service, active_session):
    with captured_broadcasts() as sent:
        response = attach(service, active_session, SWING)
    assert response.status_code == 201
    assert response.json() == SWING
    [added] = events_named(sent, "swing:added")
    assert added == {
        "seq": 1,
        "eid": added["eid"],
        "session_id": active_session.session_id,
        "swing": SWING,
    }
    assert is_eid(added["eid"])
    logged = SessionEvent.objects.get(session=active_session, seq=1)
    assert (logged.event, logged.payload) == ("swing:added", added)


def test_only_swing_id_and_video_url_are_required(service, active_session):
    response = attach(service, active_session, {"swing_id": "sw_1", "video_url": "/media/a.mp4"})
    assert response.status_code == 201
    assert response.json() == {
        "swing_id": "sw_1",
        "video_url": "/media/a.mp4",
        "poster_url": None,
        "fps": None,
        "duration_ms": None,
        "club": None,
        "camera_angle": None,
        "label": None,
        "recorded_at": None,
        "key_frames": None,
    }


def test_attaching_the_same_swing_again_returns_it_without_a_second_event(service, active_session):
    attach(service, active_session, SWING)
    with captured_broadcasts() as sent:
        again = attach(service, active_session, {**SWING, "label": "changed"})
    assert again.status_code == 200
    assert again.json() == SWING  # the stored swing, unchanged
    assert sent == []
    assert Swing.objects.filter(session=active_session).count() == 1
    assert SessionEvent.objects.filter(session=active_session).count() == 1


def test_the_same_swing_id_may_belong_to_two_sessions(service, student, active_session):
    other = CoachingSession.objects.create(student=student)
    assert attach(service, active_session, SWING).status_code == 201
    assert attach(service, other, SWING).status_code == 201


def test_an_ended_session_still_takes_swings(service, active_session):
    active_session.status = "ended"
    active_session.save()
    assert attach(service, active_session, SWING).status_code == 201


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("swing_id", ""),
        ("swing_id", "x" * 101),
        ("video_url", "ftp://cdn.example.com/a.mp4"),
        ("video_url", "javascript:alert(1)"),
        ("video_url", "swings/a.mp4"),
        ("video_url", "/etc/passwd"),
        ("video_url", "//evil.example.com/a.mp4"),
        ("video_url", "/static/../settings.py"),
        ("video_url", "/media/a b.mp4"),
        ("video_url", "https://" + "a" * 1000 + ".com/a.mp4"),
        ("poster_url", "file:///etc/passwd"),
        ("fps", 0),
        ("fps", 1001),
        ("fps", "sixty"),
        ("duration_ms", 0),
        ("duration_ms", 600_001),
        ("club", "x" * 41),
        ("camera_angle", "side"),
        ("label", "x" * 101),
        ("recorded_at", -1),
        ("recorded_at", "yesterday"),
        ("key_frames", ["top", 1300]),
        ("key_frames", {f"k{i}": i for i in range(21)}),
        ("key_frames", {"x" * 31: 100}),
        ("key_frames", {"": 100}),
        ("key_frames", {"top": -1}),
        ("key_frames", {"top": 3201}),  # beyond duration_ms
    ],
)
def test_invalid_swings_are_refused_naming_the_field(service, active_session, field, value):
    response = attach(service, active_session, {**SWING, field: value})
    assert response.status_code == 400, response.json()
    assert response.json()["error"]["code"] == "invalid_input"
    assert list(response.json()["error"]["fields"]) == [field]
    assert not Swing.objects.exists()


@pytest.mark.parametrize("missing", ["swing_id", "video_url"])
def test_swing_id_and_video_url_are_required(service, active_session, missing):
    body = {k: v for k, v in SWING.items() if k != missing}
    response = attach(service, active_session, body)
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == [missing]


def test_key_frames_without_a_duration_are_bounded_by_the_longest_swing(service, active_session):
    body = {**SWING, "duration_ms": None, "key_frames": {"finish": 600_000}}
    assert attach(service, active_session, body).status_code == 201


def test_a_session_holds_at_most_a_hundred_swings(service, active_session):
    for i in range(MAX_SWINGS_PER_SESSION):
        Swing.objects.create(session=active_session, seq=i + 1, swing_id=f"s{i}", video_url="/x")
    response = attach(service, active_session, SWING)
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["swing_id"]


@pytest.mark.parametrize("who", ["student", "coach", "admin_user"])
def test_only_the_service_attaches_swings(request, active_session, who):
    response = attach(request.getfixturevalue(who), active_session, SWING)
    assert response.status_code == 403
    assert not Swing.objects.exists()


def test_unknown_session_is_not_found(service):
    response = api_client_for(service).post("/api/sessions/nope/swings/", SWING, format="json")
    assert response.status_code == 404


# --- At creation ------------------------------------------------------------------


def test_service_creates_a_session_with_its_swings(service, student):
    second = {**SWING, "swing_id": "sw_1000", "camera_angle": "down_the_line"}
    with captured_broadcasts() as sent:
        response = api_client_for(service).post(
            "/api/sessions/",
            {"student_id": student.pk, "title": "Driver", "swings": [SWING, second]},
            format="json",
        )
    assert response.status_code == 201
    session = CoachingSession.objects.get(session_id=response.json()["session_id"])
    assert [a["swing"] for a in events_named(sent, "swing:added")] == [SWING, second]
    assert list(Swing.objects.filter(session=session).values_list("swing_id", "seq")) == [
        ("sw_999", 1),
        ("sw_1000", 2),
    ]
    detail = api_client_for(student).get(session_url(session)).json()
    assert detail["swings"] == [SWING, second]
    assert detail["last_seq"] == 2


def test_a_session_with_an_invalid_swing_is_not_created(service, student):
    response = api_client_for(service).post(
        "/api/sessions/",
        {"student_id": student.pk, "swings": [SWING, {**SWING, "video_url": "nope"}]},
        format="json",
    )
    assert response.status_code == 400
    assert "swings" in response.json()["error"]["fields"]
    assert not CoachingSession.objects.exists()


def test_a_student_cannot_attach_swings_when_creating_a_session(student):
    with captured_broadcasts() as sent:
        response = api_client_for(student).post(
            "/api/sessions/", {"swings": [SWING]}, format="json"
        )
    assert response.status_code == 403
    assert not CoachingSession.objects.exists()
    assert sent == []


def test_creating_without_swings_is_unchanged(service, student):
    response = api_client_for(service).post(
        "/api/sessions/", {"student_id": student.pk}, format="json"
    )
    assert response.status_code == 201
    assert "swings" not in response.json()


# --- Reading ------------------------------------------------------------------------


def test_session_detail_lists_no_swings_before_any(student, active_session):
    assert api_client_for(student).get(session_url(active_session)).json()["swings"] == []


@pytest.mark.parametrize(("who", "expected"), PARTICIPANT_READS)
def test_who_reads_the_swings(request, service, active_session, who, expected):
    attach(service, active_session, SWING)
    response = api_client_for(request.getfixturevalue(who)).get(
        session_url(active_session, "swings")
    )
    assert response.status_code == expected
    if expected == 200:
        assert response.json()["results"] == [SWING]


# --- Feedback cards link to their swing and may carry key frames ---------------------


def feedback_body(**extra):
    return {"swing_id": "sw_999", "summary": "Open face.", **extra}


def test_feedback_card_carries_key_frames(service, active_session):
    attach(service, active_session, SWING)
    key_frames = {"address": 0, "impact": 1900}
    response = api_client_for(service).post(
        session_url(active_session, "feedback"), feedback_body(key_frames=key_frames), format="json"
    )
    assert response.status_code == 201
    assert response.json()["key_frames"] == key_frames
    assert response.json()["swing_id"] == SWING["swing_id"]


def test_feedback_card_without_key_frames_has_null(service, active_session):
    response = api_client_for(service).post(
        session_url(active_session, "feedback"), feedback_body(), format="json"
    )
    assert response.json()["key_frames"] is None


@pytest.mark.parametrize(
    "key_frames",
    [
        {"top": 3201},  # beyond the attached swing's duration
        {"top": -5},
        {"x" * 31: 5},
        {f"k{i}": i for i in range(21)},
    ],
)
def test_feedback_key_frames_are_validated_like_the_swings(service, active_session, key_frames):
    attach(service, active_session, SWING)
    response = api_client_for(service).post(
        session_url(active_session, "feedback"), feedback_body(key_frames=key_frames), format="json"
    )
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["key_frames"]


def test_a_swing_may_not_be_shorter_than_the_key_frames_of_its_earlier_card(
    service, active_session
):
    """A card may come before its swing; the swing then keeps the card's key frames within it."""
    client = api_client_for(service)
    card = {"swing_id": "sw_late", "summary": "s", "key_frames": {"top": 5000}}
    assert (
        client.post(session_url(active_session, "feedback"), card, format="json").status_code == 201
    )
    swing = {"swing_id": "sw_late", "video_url": "/media/a.mp4", "duration_ms": 1000}
    response = client.post(session_url(active_session, "swings"), swing, format="json")
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["duration_ms"]
    swing["duration_ms"] = 5000
    assert (
        client.post(session_url(active_session, "swings"), swing, format="json").status_code == 201
    )
