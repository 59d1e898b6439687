"""Reviewing a swing together on `session:{id}`: swings and annotations in the snapshot,
`annotation:save`, and the coach-led, ephemeral review events."""

from contextlib import contextmanager

import pytest
from django.conf import settings

from coaching.models import CoachingSession, SessionEvent
from coaching.services.annotations import annotation_save
from coaching.services.swings import swing_attach
from tests.support.phoenix import PhoenixClient

ANGLE = {"kind": "angle", "points": [[0.42, 0.2], [0.45, 0.55], [0.6, 0.6]]}
SWING = {"swing_id": "sw_1", "video_url": "/static/demo/swing-demo.mp4", "duration_ms": 3500}
SECOND_SWING = {"swing_id": "sw_2", "video_url": "/static/demo/swing-demo.mp4", "fps": 30}


@pytest.fixture
def swings(service, active_session) -> list[dict]:
    return [
        swing_attach(session_id=active_session.session_id, actor=service, swing=swing)[0]
        for swing in (SWING, SECOND_SWING)
    ]


@contextmanager
def joined(client: PhoenixClient, session: CoachingSession, params: dict | None = None):
    """`client` joined to the session, its presence state read: (client, join_ref, reply)."""
    with client:
        ref, reply = client.join_ok(session.topic, params)
        client.event(session.topic, "presence:state")
        yield client, ref, reply


def call(client: PhoenixClient, session: CoachingSession, ref: str, event: str, payload: dict):
    return client.call(session.topic, ref, event, payload)


def refused(reply: dict, reason: str, field: str | None = None) -> bool:
    response = reply["response"]
    return (
        reply["status"] == "error"
        and response["reason"] == reason
        and (field is None or response.get("field") == field)
    )


# --- The join snapshot ---------------------------------------------------------------


def test_snapshot_has_swings_annotations_and_the_coach_leading(
    connect, student, coach, active_session, swings
):
    note = annotation_save(
        session_id=active_session.session_id,
        coach=coach,
        swing_id="sw_1",
        time_ms=1200,
        shapes=[ANGLE],
        note="Here",
    )
    with joined(connect(student), active_session) as (_, _, reply):
        assert reply["swings"] == swings
        assert reply["annotations"] == [note]
        review = reply["review"]
    assert {k: review[k] for k in ("swing_id", "playing", "position_ms", "rate", "version")} == {
        "swing_id": "sw_1",
        "playing": False,
        "position_ms": 0,
        "rate": 1,
        "version": 0,
    }
    assert review["leader"] == {"id": str(coach.pk), "name": "IanPro"}
    assert isinstance(review["server_ts"], int)


def test_waiting_session_has_no_leader_and_no_swing(connect, student, waiting_session):
    with joined(connect(student), waiting_session) as (_, _, reply):
        assert reply["swings"] == reply["annotations"] == []
        assert reply["review"]["leader"] is None
        assert reply["review"]["swing_id"] is None


# --- annotation:save -------------------------------------------------------------------


def test_coach_saves_an_annotation_over_the_socket(connect, student, coach, active_session, swings):
    topic = active_session.topic
    with joined(connect(coach), active_session) as (c, c_ref, _):
        with joined(connect(student), active_session) as (s, _, _):
            reply = call(
                c,
                active_session,
                c_ref,
                "annotation:save",
                {"swing_id": "sw_1", "time_ms": 1200.4, "shapes": [ANGLE], "note": "Spine"},
            )
            assert reply["status"] == "ok", reply
            saved = reply["response"]
            assert (saved["time_ms"], saved["note"], saved["shapes"]) == (1200, "Spine", [ANGLE])
            assert s.event(topic, "annotation:added") == saved
        # It replays on a rejoin from before it, and is in the snapshot.
        with joined(connect(student), active_session, {"last_seq": saved["seq"] - 1}) as (
            s,
            _,
            reply,
        ):
            assert reply["annotations"] == [saved]
            assert s.event(topic, "annotation:added") == saved


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"swing_id": "sw_9", "time_ms": 0, "shapes": [ANGLE]}, "swing_id"),
        ({"swing_id": 1, "time_ms": 0, "shapes": [ANGLE]}, "swing_id"),
        ({"swing_id": "sw_1", "time_ms": 3501, "shapes": [ANGLE]}, "time_ms"),
        ({"swing_id": "sw_1", "time_ms": True, "shapes": [ANGLE]}, "time_ms"),
        ({"swing_id": "sw_1", "time_ms": 0, "shapes": [{"kind": "angle"}]}, "shapes"),
        ({"swing_id": "sw_1", "time_ms": 0, "shapes": {"kind": "line"}}, "shapes"),
        ({"swing_id": "sw_1", "time_ms": 0, "shapes": [ANGLE], "note": 5}, "note"),
        ({"swing_id": "sw_1", "time_ms": 0, "shapes": [ANGLE], "note": "x" * 501}, "note"),
        ({"swing_id": "sw_1", "time_ms": 0, "shapes": [ANGLE], "note": "a\u0000b"}, "note"),
    ],
)
def test_invalid_annotation_over_the_socket_is_refused(
    connect, coach, active_session, swings, payload, field
):
    with joined(connect(coach), active_session) as (c, ref, _):
        reply = call(c, active_session, ref, "annotation:save", payload)
    assert refused(reply, "invalid_input", field), reply


def test_student_cannot_save_an_annotation(connect, student, active_session, swings):
    with joined(connect(student), active_session) as (s, ref, _):
        payload = {"swing_id": "sw_1", "time_ms": 0, "shapes": [ANGLE]}
        assert refused(call(s, active_session, ref, "annotation:save", payload), "forbidden")


# --- review:update ---------------------------------------------------------------------


def test_coach_leads_and_the_student_follows(connect, student, coach, active_session, swings):
    topic = active_session.topic
    with joined(connect(coach), active_session) as (c, c_ref, _):
        with joined(connect(student), active_session) as (s, _, _):
            reply = call(
                c, active_session, c_ref, "review:update", {"position_ms": 1200, "playing": False}
            )
            assert reply["status"] == "ok", reply
            state = reply["response"]
            assert (state["position_ms"], state["playing"], state["version"]) == (1200, False, 1)
            assert s.event(topic, "review:state") == state

            played = call(
                c, active_session, c_ref, "review:update", {"playing": True, "rate": 0.25}
            )
            played = played["response"]
            assert (played["playing"], played["rate"], played["version"]) == (True, 0.25, 2)
            assert played["position_ms"] == 1200  # paused until now: it has not moved
            assert played["server_ts"] >= state["server_ts"]
            assert s.event(topic, "review:state") == played

            paused = call(c, active_session, c_ref, "review:update", {"playing": False})
            paused = paused["response"]
            # Paused where the playback had got to: the live position at the pause.
            elapsed = paused["server_ts"] - played["server_ts"]
            assert paused["position_ms"] == pytest.approx(1200 + elapsed * 0.25, abs=0.01)
            assert s.event(topic, "review:state") == paused


def test_changing_swing_starts_it_at_zero(connect, coach, active_session, swings):
    with joined(connect(coach), active_session) as (c, ref, _):
        call(c, active_session, ref, "review:update", {"position_ms": 2000})
        state = call(c, active_session, ref, "review:update", {"swing_id": "sw_2"})["response"]
    assert (state["swing_id"], state["position_ms"]) == ("sw_2", 0)


def test_a_position_past_the_end_is_the_end(connect, coach, active_session, swings):
    with joined(connect(coach), active_session) as (c, ref, _):
        state = call(c, active_session, ref, "review:update", {"position_ms": 3533.3})["response"]
    assert state["position_ms"] == SWING["duration_ms"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"swing_id": "sw_9"}, "swing_id"),
        ({"swing_id": None}, "swing_id"),
        ({"playing": "yes"}, "playing"),
        ({"playing": 1}, "playing"),
        ({"rate": 3}, "rate"),
        ({"rate": 0.3}, "rate"),
        ({"rate": True}, "rate"),
        ({"rate": "1"}, "rate"),
        ({"position_ms": -1}, "position_ms"),
        ({"position_ms": "1200"}, "position_ms"),
        ({"position_ms": False}, "position_ms"),
    ],
)
def test_invalid_review_updates_are_refused(connect, coach, active_session, swings, payload, field):
    with joined(connect(coach), active_session) as (c, ref, _):
        reply = call(c, active_session, ref, "review:update", payload)
        assert refused(reply, "invalid_input", field), reply
        c.no_event(active_session.topic, "review:state", wait=0.2)


@pytest.mark.parametrize("rate", [0.25, 0.5, 1, 2])
def test_every_offered_rate_is_accepted(connect, coach, active_session, swings, rate):
    with joined(connect(coach), active_session) as (c, ref, _):
        assert (
            call(c, active_session, ref, "review:update", {"rate": rate})["response"]["rate"]
            == rate
        )


def test_only_the_leader_moves_the_playback(connect, student, admin_user, active_session, swings):
    for user in (student, admin_user):
        with joined(connect(user), active_session) as (client, ref, _):
            reply = call(client, active_session, ref, "review:update", {"playing": True})
            assert refused(reply, "forbidden"), reply


def test_nobody_leads_a_session_without_a_coach(connect, student, waiting_session):
    with joined(connect(student), waiting_session) as (s, ref, _):
        assert refused(
            call(s, waiting_session, ref, "review:update", {"playing": True}), "forbidden"
        )


# --- review:lead -------------------------------------------------------------------------


def test_coach_hands_the_lead_to_the_student_and_takes_it_back(
    connect, student, coach, active_session, swings
):
    topic = active_session.topic
    with joined(connect(coach), active_session) as (c, c_ref, _):
        with joined(connect(student), active_session) as (s, s_ref, _):
            given = call(c, active_session, c_ref, "review:lead", {"user_id": str(student.pk)})
            assert given["response"]["leader"] == {"id": str(student.pk), "name": "Ian"}
            assert s.event(topic, "review:state")["leader"]["id"] == str(student.pk)

            # Now the student leads and the coach follows.
            moved = call(s, active_session, s_ref, "review:update", {"position_ms": 700})
            assert moved["status"] == "ok", moved
            assert (
                c.event(topic, "review:state", where=lambda p: p["version"] == 2)["position_ms"]
                == 700
            )
            assert refused(
                call(c, active_session, c_ref, "review:update", {"rate": 2}), "forbidden"
            )

            taken = call(c, active_session, c_ref, "review:lead", {"user_id": coach.pk})
            assert taken["response"]["leader"]["id"] == str(coach.pk)
            assert taken["response"]["position_ms"] == 700  # the hand-over keeps the frame
            assert refused(
                call(s, active_session, s_ref, "review:update", {"position_ms": 1}), "forbidden"
            )


def test_the_leading_student_may_hand_the_lead_back(connect, student, coach, active_session):
    with joined(connect(coach), active_session) as (c, c_ref, _):
        call(c, active_session, c_ref, "review:lead", {"user_id": str(student.pk)})
    with joined(connect(student), active_session) as (s, s_ref, reply):
        assert reply["review"]["leader"]["id"] == str(student.pk)
        back = call(s, active_session, s_ref, "review:lead", {"user_id": str(coach.pk)})
        assert back["response"]["leader"]["id"] == str(coach.pk)


def test_a_student_cannot_take_the_lead(connect, student, active_session):
    with joined(connect(student), active_session) as (s, ref, _):
        reply = call(s, active_session, ref, "review:lead", {"user_id": str(student.pk)})
        assert refused(reply, "forbidden"), reply


def test_an_observer_cannot_pass_the_lead(connect, admin_user, student, active_session):
    with joined(connect(admin_user), active_session) as (a, ref, _):
        reply = call(a, active_session, ref, "review:lead", {"user_id": str(student.pk)})
        assert refused(reply, "forbidden"), reply


@pytest.mark.parametrize("user_id", ["admin", None, "", 12.5])
def test_the_lead_goes_only_to_the_coach_or_the_student(
    connect, coach, admin_user, active_session, user_id
):
    with joined(connect(coach), active_session) as (c, ref, _):
        target = str(admin_user.pk) if user_id == "admin" else user_id
        reply = call(c, active_session, ref, "review:lead", {"user_id": target})
        assert refused(reply, "invalid_input", "user_id"), reply


# --- review:stroke and review:clear ------------------------------------------------------

STROKE = {"stroke_id": "st_1", "shape": ANGLE, "done": False}


def test_coach_strokes_reach_the_others_but_not_the_drawer(
    connect, student, coach, active_session, swings
):
    topic = active_session.topic
    with joined(connect(coach), active_session) as (c, c_ref, _):
        with joined(connect(student), active_session) as (s, _, _):
            assert call(c, active_session, c_ref, "review:stroke", STROKE) == {
                "status": "ok",
                "response": {},
            }
            assert s.event(topic, "review:stroke") == {
                **STROKE,
                "by": {"id": str(coach.pk), "name": "IanPro"},
            }
            cleared = call(c, active_session, c_ref, "review:clear", {})
            assert cleared["response"] == {"by": {"id": str(coach.pk), "name": "IanPro"}}
            assert s.event(topic, "review:clear") == cleared["response"]
            assert c.event(topic, "review:clear") == cleared["response"]  # to all
            c.no_event(topic, "review:stroke", wait=0.3)


def test_a_student_draws_only_while_leading(connect, student, coach, active_session):
    with joined(connect(student), active_session) as (s, s_ref, _):
        assert refused(call(s, active_session, s_ref, "review:stroke", STROKE), "forbidden")
        assert refused(call(s, active_session, s_ref, "review:clear", {}), "forbidden")
        with joined(connect(coach), active_session) as (c, c_ref, _):
            call(c, active_session, c_ref, "review:lead", {"user_id": str(student.pk)})
            assert call(s, active_session, s_ref, "review:stroke", STROKE)["status"] == "ok"
            assert c.event(active_session.topic, "review:stroke")["by"]["id"] == str(student.pk)


def test_an_observer_cannot_draw(connect, admin_user, active_session):
    with joined(connect(admin_user), active_session) as (a, ref, _):
        assert refused(call(a, active_session, ref, "review:stroke", STROKE), "forbidden")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"shape": {"kind": "line", "points": [[0, 0], [2, 2]]}}, "shape"),
        ({"shape": None}, "shape"),
        ({"stroke_id": ""}, "stroke_id"),
        ({"stroke_id": 7}, "stroke_id"),
        ({"stroke_id": "x" * 65}, "stroke_id"),
        ({"done": "yes"}, "done"),
    ],
)
def test_invalid_strokes_are_refused(connect, coach, active_session, change, field):
    with joined(connect(coach), active_session) as (c, ref, _):
        reply = call(c, active_session, ref, "review:stroke", {**STROKE, **change})
        assert refused(reply, "invalid_input", field), reply


def test_strokes_above_the_rate_limit_are_refused(spawn_server, connect, coach, active_session):
    """With a limit of 1 a second, the second of two strokes sent at once is refused."""
    limited = spawn_server(REVIEW_STROKES_PER_SECOND="1")
    with joined(connect(coach, on=limited), active_session) as (c, ref, _):
        first = c.push(active_session.topic, "review:stroke", STROKE, ref)
        second = c.push(active_session.topic, "review:stroke", STROKE, ref)
        assert c.reply(first)["status"] == "ok"
        reply = c.reply(second)
    assert refused(reply, "rate_limited"), reply
    assert 0 < reply["response"]["retry_after_ms"] <= 1000


# --- Ephemeral --------------------------------------------------------------------------


def test_review_events_do_not_grow_the_event_log(connect, coach, active_session, swings):
    """Playback and drawing are ephemeral (lead changes and compares are logged: see
    test_review_both_ways)."""
    with joined(connect(coach), active_session) as (c, ref, _):
        c.event(active_session.topic, "system:notice")  # "coach joined": logged, before
        before = SessionEvent.objects.filter(session=active_session).count()
        for event, payload in [
            ("review:update", {"position_ms": 1200, "playing": True, "rate": 0.5}),
            ("review:update", {"swing_id": "sw_2"}),
            ("review:lead", {"user_id": str(coach.pk)}),  # kept: not a change of leader
            ("review:stroke", STROKE),
            ("review:clear", {}),
        ]:
            assert call(c, active_session, ref, event, payload)["status"] == "ok"
        state = c.event(active_session.topic, "review:state", where=lambda p: p["version"] == 3)
        assert "seq" not in state
    active_session.refresh_from_db()
    assert SessionEvent.objects.filter(session=active_session).count() == before
    assert active_session.last_seq == before


def test_a_joining_viewer_starts_at_the_current_state(
    connect, student, coach, active_session, swings
):
    with joined(connect(coach), active_session) as (c, ref, _):
        state = call(c, active_session, ref, "review:update", {"position_ms": 1200})["response"]
    with joined(connect(student), active_session) as (_, _, reply):
        assert reply["review"] == state


@pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL: state shared through Redis")
def test_review_state_is_shared_by_every_process(
    spawn_server, connect, student, coach, active_session, swings
):
    one, two = spawn_server(), spawn_server()
    topic = active_session.topic
    with joined(connect(coach, on=one), active_session) as (c, c_ref, _):
        with joined(connect(student, on=two), active_session) as (s, s_ref, reply):
            assert reply["review"]["version"] == 0
            state = call(c, active_session, c_ref, "review:update", {"position_ms": 1200})
            assert s.event(topic, "review:state") == state["response"]
            call(c, active_session, c_ref, "review:lead", {"user_id": str(student.pk)})
            # The lead given on process one lets the student lead from process two.
            moved = call(s, active_session, s_ref, "review:update", {"playing": True})
            assert moved["status"] == "ok", moved
            assert c.event(topic, "review:state", where=lambda p: p["playing"]) == moved["response"]
        # A viewer reconnecting to process one starts where process two left it.
        with joined(connect(student, on=one), active_session) as (_, _, reply):
            assert reply["review"] == moved["response"]


def test_a_state_set_before_any_swing_takes_the_first_swing_attached(
    connect, service, student, coach, active_session
):
    with joined(connect(coach), active_session) as (c, ref, _):
        before = call(c, active_session, ref, "review:update", {"playing": False})["response"]
        assert before["swing_id"] is None
        swing_attach(session_id=active_session.session_id, actor=service, swing=SWING)
        after = call(c, active_session, ref, "review:update", {"rate": 0.5})["response"]
        assert after["swing_id"] == "sw_1"
    with joined(connect(student), active_session) as (_, _, reply):
        assert reply["review"]["swing_id"] == "sw_1"
