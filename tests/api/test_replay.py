"""GET /api/sessions/{id}/replay/: the lesson as it can be replayed (coaching/replay.py):
its swings, its whole event log and the recorded review, on one clock of server ms."""

import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from coaching import replay
from coaching.events import epoch_ms
from coaching.models import CoachingSession, ReviewRecord, Status
from coaching.services.chat import chat_message_post
from coaching.services.review import initial_state
from tests.api.support import session_url
from tests.support.auth import api_client_for
from tests.support.library import days_ago, driver_lesson, past_lesson


@pytest.fixture
def lesson(student, coach, service):
    return driver_lesson(student, coach, service)


def person(user) -> dict:
    return {"id": str(user.pk), "name": user.display_name}


def recorded(session, at_ms: int, kind: str, body: dict, swing_id: str | None = None):
    return ReviewRecord.objects.create(
        session=session, at_ms=at_ms, kind=kind, body=body, swing_id=swing_id
    )


def state_at(coach, at_ms: int, **fields) -> dict:
    return {**initial_state(person(coach), "sw_1"), "server_ts": at_ms, **fields}


def get(user, session):
    return api_client_for(user).get(session_url(session, "replay"))


def test_an_ended_lesson_replays_its_swings_log_and_review_on_one_clock(student, coach, lesson):
    start = epoch_ms(lesson.started_at)
    playing = state_at(coach, start + 1_000, playing=True, position_ms=0, version=1)
    paused = state_at(coach, start + 3_000, playing=False, position_ms=2_000, version=2)
    shape = {"kind": "line", "points": [[0.1, 0.1], [0.5, 0.5]], "color": None}
    stroke = {"stroke_id": "s1", "shape": shape, "by": person(coach)}
    # Recorded out of order (two processes): the document orders by at_ms, ties by id.
    recorded(lesson, start + 3_000, "state", paused)
    recorded(lesson, start + 1_000, "state", playing)
    recorded(lesson, start + 4_000, "stroke", stroke, swing_id="sw_1")
    recorded(lesson, start + 4_000, "clear", {"by": person(coach)}, swing_id="sw_1")

    response = get(student, lesson)

    assert response.status_code == 200
    body = response.json()
    assert body["session"] == {
        "id": lesson.session_id,
        "state": "ended",
        "club": "driver",
        "created_at": epoch_ms(lesson.created_at),
        "started_at": start,
        "ended_at": epoch_ms(lesson.ended_at),
        "student": person(student),
        "coach": person(coach),
    }
    assert body["start_ms"] == start
    assert body["end_ms"] == epoch_ms(lesson.ended_at)
    assert [swing["swing_id"] for swing in body["swings"]] == ["sw_1"]
    assert body["swings"][0]["video_url"] == "/static/demo/swing-demo.mp4"
    # The whole log in seq order, payloads as broadcast, each with its log time.
    logged = list(lesson.events.order_by("seq"))
    assert [e["seq"] for e in body["events"]] == [row.seq for row in logged]
    assert [e["event"] for e in body["events"]] == ["swing:added", "ai:feedback"]
    for entry, row in zip(body["events"], logged, strict=True):
        assert entry["payload"] == row.payload
        assert entry["eid"] == row.payload["eid"]
        assert entry["at_ms"] == epoch_ms(row.created_at)
    assert body["review"] == [
        {"at_ms": start + 1_000, "kind": "state", "state": playing},
        {"at_ms": start + 3_000, "kind": "state", "state": paused},
        {"at_ms": start + 4_000, "kind": "stroke", "swing_id": "sw_1", "stroke": stroke},
        {"at_ms": start + 4_000, "kind": "clear", "swing_id": "sw_1", "by": person(coach)},
    ]


def test_a_stroke_drawn_before_anyone_moved_the_playback_is_on_the_first_swing(coach, lesson):
    recorded(lesson, epoch_ms(lesson.started_at), "clear", {"by": person(coach)})
    [entry] = get(coach, lesson).json()["review"]
    assert entry["swing_id"] == "sw_1"


def test_a_running_lesson_ends_now_and_an_unclaimed_one_starts_at_its_first_moment(
    student, coach, service
):
    running = past_lesson(student, coach, service, started=days_ago(0), status=Status.ACTIVE)
    before = int(time.time() * 1000)
    body = get(coach, running).json()
    assert body["session"]["ended_at"] is None
    assert before <= body["end_ms"] <= int(time.time() * 1000)

    waiting = past_lesson(student, None, service, started=None, status=Status.WAITING)
    message = chat_message_post(session_id=waiting.session_id, sender=student, text="hello?")
    body = get(student, waiting).json()
    assert body["session"]["coach"] is None
    assert body["session"]["club"] is None
    assert body["start_ms"] == body["end_ms"] == message["meta"]["ts"]
    assert body["review"] == [] and body["swings"] == []


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("student", 200),
        ("coach", 200),
        ("admin_user", 200),
        ("service", 404),
        ("other_student", 404),
        ("other_coach", 404),
    ],
)
def test_only_the_lessons_student_coach_and_admins_replay_it(request, lesson, who, status):
    response = get(request.getfixturevalue(who), lesson)
    assert response.status_code == status
    if status == 404:
        assert response.json()["error"]["code"] == "not_found"


def test_a_missing_session_and_no_credentials(student, lesson):
    missing = api_client_for(student).get("/api/sessions/sess_nope/replay/")
    assert missing.status_code == 404
    assert api_client_for(None).get(session_url(lesson, "replay")).status_code == 401


def test_a_long_lesson_is_read_in_a_few_queries(student, coach, service):
    """Four reads however long the lesson (the swings, the log, the review, the call's
    recordings); how long
    2,000 events and 2,000 review rows take: bench/replay_document.py."""
    lesson = past_lesson(student, coach, service, started=days_ago(0), status=Status.ACTIVE)
    start = epoch_ms(lesson.started_at)
    for n in range(40):
        chat_message_post(session_id=lesson.session_id, sender=student, text=f"line {n}")
    ReviewRecord.objects.bulk_create(
        ReviewRecord(session=lesson, at_ms=start + n, kind="state", body=state_at(coach, start + n))
        for n in range(200)
    )
    lesson = CoachingSession.objects.select_related("student", "coach").get(pk=lesson.pk)
    with CaptureQueriesContext(connection) as queries:
        document = replay.replay_document(lesson)
    assert len(document["events"]) == 40 and len(document["review"]) == 200
    assert len(queries) <= 4
