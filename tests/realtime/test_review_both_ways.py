"""The review shared both ways on `session:{id}`: the compared swing in the shared state,
the student asking for the lead, watching alone as the leader sees it, the lines the
timeline shows (lead changes, compare start and end), and an ended lesson's review."""

import pytest
from django.db import connection

from coaching.models import CoachingSession, SessionEvent
from coaching.services.sessions import session_control
from tests.realtime.test_review import call, joined, refused
from tests.realtime.test_review import swings as swings  # the fixture
from tests.support import servers
from tests.support.proxy import TcpProxy

COMPARE = {"swing_id": "sw_2", "offset_ms": 120.5}


def logged(session: CoachingSession, event: str) -> list[dict]:
    return [
        row.payload
        for row in SessionEvent.objects.filter(session=session, event=event).order_by("seq")
    ]


def person(user) -> dict:
    return {"id": str(user.pk), "name": user.display_name}


# --- The state's new fields ---------------------------------------------------------------


def test_a_new_room_compares_nothing_and_nobody_asks_or_watches_alone(
    connect, student, active_session, swings
):
    with joined(connect(student), active_session) as (_, _, reply):
        review = reply["review"]
    assert (review["compare"], review["lead_request"], review["alone"]) == (None, None, [])


# --- Compare --------------------------------------------------------------------------------


def test_the_leaders_compare_reaches_everyone_and_its_start_and_end_are_logged(
    connect, student, coach, active_session, swings
):
    topic = active_session.topic
    with joined(connect(coach), active_session) as (c, c_ref, _):
        with joined(connect(student), active_session) as (s, _, _):
            reply = call(c, active_session, c_ref, "review:update", {"compare": COMPARE})
            assert reply["status"] == "ok", reply
            state = reply["response"]
            assert state["compare"] == COMPARE
            assert s.event(topic, "review:state") == state
            started = s.event(topic, "review:compare_started")
            assert {k: v for k, v in started.items() if k not in ("seq", "eid")} == {
                "session_id": active_session.session_id,
                "swing_id": "sw_1",
                "compare_swing_id": "sw_2",
                "offset_ms": 120.5,
                "by": person(coach),
            }
            assert isinstance(started["seq"], int) and started["eid"]

            # Lining the swings up again (a new offset) is not a new compare.
            moved = call(
                c,
                active_session,
                c_ref,
                "review:update",
                {"compare": {**COMPARE, "offset_ms": -40}},
            )
            assert moved["response"]["compare"]["offset_ms"] == -40
            s.event(
                topic, "review:state", where=lambda p: p["version"] == moved["response"]["version"]
            )

            ended = call(c, active_session, c_ref, "review:update", {"compare": None})
            assert ended["response"]["compare"] is None
            line = s.event(topic, "review:compare_ended")
            assert (line["compare_swing_id"], line["offset_ms"], line["seq"]) == (
                "sw_2",
                -40,
                started["seq"] + 1,
            )
            s.no_event(topic, "review:compare_started", wait=0.2)
    assert [p["seq"] for p in logged(active_session, "review:compare_started")] == [started["seq"]]
    # A reload shows both lines in the timeline.
    with joined(connect(student), active_session) as (_, _, reply):
        names = [entry["event"] for entry in reply["events"]]
        assert names[-2:] == ["review:compare_started", "review:compare_ended"]
        assert reply["review"]["compare"] is None


def test_a_viewer_joining_during_a_compare_gets_it(connect, student, coach, active_session, swings):
    with joined(connect(coach), active_session) as (c, ref, _):
        call(c, active_session, ref, "review:update", {"compare": COMPARE, "position_ms": 900})
    with joined(connect(student), active_session) as (_, _, reply):
        assert reply["review"]["compare"] == COMPARE
        assert reply["review"]["position_ms"] == 900


def test_showing_the_compared_swing_as_the_main_one_ends_the_compare(
    connect, coach, active_session, swings
):
    with joined(connect(coach), active_session) as (c, ref, _):
        call(c, active_session, ref, "review:update", {"compare": COMPARE})
        state = call(c, active_session, ref, "review:update", {"swing_id": "sw_2"})["response"]
        assert (state["swing_id"], state["compare"]) == ("sw_2", None)
        # Swapping the two in one update keeps the compare: a new pair, a new line.
        call(c, active_session, ref, "review:update", {"compare": {"swing_id": "sw_1"}})
        swapped = call(
            c,
            active_session,
            ref,
            "review:update",
            {"swing_id": "sw_1", "compare": {"swing_id": "sw_2", "offset_ms": 0}},
        )["response"]
        assert (swapped["swing_id"], swapped["compare"]["swing_id"]) == ("sw_1", "sw_2")
    started = logged(active_session, "review:compare_started")
    assert [(p["swing_id"], p["compare_swing_id"]) for p in started] == [
        ("sw_1", "sw_2"),
        ("sw_2", "sw_1"),
        ("sw_1", "sw_2"),
    ]
    assert [p["swing_id"] for p in logged(active_session, "review:compare_ended")] == ["sw_1"]


@pytest.mark.parametrize(
    ("compare", "field"),
    [
        ("sw_2", "compare"),
        ([], "compare"),
        ({**COMPARE, "extra": 1}, "compare"),
        ({"swing_id": "sw_9"}, "compare.swing_id"),
        ({"swing_id": 2}, "compare.swing_id"),
        ({"swing_id": "sw_1"}, "compare.swing_id"),  # the main swing itself
        ({"swing_id": "sw_2", "offset_ms": "120"}, "compare.offset_ms"),
        ({"swing_id": "sw_2", "offset_ms": True}, "compare.offset_ms"),
        ({"swing_id": "sw_2", "offset_ms": 600_001}, "compare.offset_ms"),
        ({"swing_id": "sw_2", "offset_ms": -600_001}, "compare.offset_ms"),
    ],
)
def test_invalid_compares_are_refused(connect, coach, active_session, swings, compare, field):
    with joined(connect(coach), active_session) as (c, ref, _):
        reply = call(c, active_session, ref, "review:update", {"compare": compare})
        assert refused(reply, "invalid_input", field), reply
        c.no_event(active_session.topic, "review:state", wait=0.2)
    assert logged(active_session, "review:compare_started") == []


def test_only_the_leader_compares(connect, student, admin_user, active_session, swings):
    for user in (student, admin_user):
        with joined(connect(user), active_session) as (client, ref, _):
            reply = call(client, active_session, ref, "review:update", {"compare": COMPARE})
            assert refused(reply, "forbidden"), reply
    assert logged(active_session, "review:compare_started") == []


def test_a_leading_student_compares_for_the_coach(connect, student, coach, active_session, swings):
    topic = active_session.topic
    with joined(connect(coach), active_session) as (c, c_ref, _):
        with joined(connect(student), active_session) as (s, s_ref, _):
            call(c, active_session, c_ref, "review:lead", {"user_id": str(student.pk)})
            reply = call(s, active_session, s_ref, "review:update", {"compare": COMPARE})
            assert reply["status"] == "ok", reply
            assert c.event(topic, "review:compare_started")["by"] == person(student)
            assert (
                c.event(topic, "review:state", where=lambda p: p["compare"])["compare"] == COMPARE
            )


# --- Lead changes in the timeline -------------------------------------------------------------


def test_every_change_of_leader_is_logged(connect, student, coach, active_session, swings):
    topic = active_session.topic
    with joined(connect(coach), active_session) as (c, c_ref, _):
        with joined(connect(student), active_session) as (s, s_ref, _):
            # Taking the lead one already has changes nothing: no line.
            call(c, active_session, c_ref, "review:lead", {"user_id": str(coach.pk)})
            call(c, active_session, c_ref, "review:lead", {"user_id": str(student.pk)})
            given = s.event(topic, "review:lead_changed")
            assert {k: v for k, v in given.items() if k not in ("seq", "eid")} == {
                "session_id": active_session.session_id,
                "leader": person(student),
                "previous": person(coach),
                "by": person(coach),
                "asked": False,
            }
            call(s, active_session, s_ref, "review:lead", {"user_id": str(coach.pk)})
            back = c.event(topic, "review:lead_changed", where=lambda p: p["seq"] > given["seq"])
            assert (back["leader"], back["previous"], back["by"]) == (
                person(coach),
                person(student),
                person(student),
            )
    assert [p["leader"]["id"] for p in logged(active_session, "review:lead_changed")] == [
        str(student.pk),
        str(coach.pk),
    ]


def test_with_the_database_down_the_lead_does_not_change(
    spawn_server, connect, student, coach, active_session, swings
):
    """A change the timeline shows is made with its line or not at all."""
    db = connection.settings_dict
    port = int(db.get("PORT") or 5432)
    proxy = TcpProxy(port, db.get("HOST") or "127.0.0.1")
    try:
        url = servers.test_database_url().replace(f":{port}/", f":{proxy.port}/")
        server = spawn_server(DATABASE_URL=url)
        with joined(connect(coach, on=server), active_session) as (c, ref, _):
            proxy.outage()
            given = call(c, active_session, ref, "review:lead", {"user_id": str(student.pk)})
            assert refused(given, "unavailable"), given
            compared = call(c, active_session, ref, "review:update", {"compare": COMPARE})
            assert refused(compared, "unavailable"), compared
            proxy.restore()
        with joined(connect(student, on=server), active_session) as (_, _, reply):
            assert reply["review"]["leader"] == person(coach)
            assert reply["review"]["compare"] is None
    finally:
        proxy.close()
    assert (
        SessionEvent.objects.filter(session=active_session, event__startswith="review:").count()
        == 0
    )


# --- Asking for the lead ---------------------------------------------------------------------


def test_the_student_asks_and_the_coach_accepts_with_one_push(
    connect, student, coach, active_session, swings
):
    topic = active_session.topic
    with joined(connect(coach), active_session) as (c, c_ref, _):
        with joined(connect(student), active_session) as (s, s_ref, _):
            asked = call(s, active_session, s_ref, "review:ask_lead", {})
            assert asked["status"] == "ok", asked
            assert asked["response"]["lead_request"] == person(student)
            assert asked["response"]["leader"] == person(coach)  # nothing changes yet
            seen = c.event(topic, "review:state", where=lambda p: p["lead_request"])
            assert seen == asked["response"]

            accepted = call(c, active_session, c_ref, "review:answer_lead", {"accept": True})
            assert accepted["status"] == "ok", accepted
            state = accepted["response"]
            assert (state["leader"], state["lead_request"]) == (person(student), None)
            line = s.event(topic, "review:lead_changed")
            assert (line["leader"], line["by"], line["asked"]) == (
                person(student),
                person(coach),
                True,
            )
            # The student leads now.
            moved = call(s, active_session, s_ref, "review:update", {"position_ms": 300})
            assert moved["status"] == "ok", moved


def test_the_coach_declines_and_the_lead_stays(connect, student, coach, active_session, swings):
    topic = active_session.topic
    with joined(connect(coach), active_session) as (c, c_ref, _):
        with joined(connect(student), active_session) as (s, s_ref, _):
            call(s, active_session, s_ref, "review:ask_lead", {})
            declined = call(c, active_session, c_ref, "review:answer_lead", {"accept": False})
            state = declined["response"]
            assert (state["leader"], state["lead_request"]) == (person(coach), None)
            assert s.event(topic, "review:state", where=lambda p: p["version"] == state["version"])
            # Nothing left to answer.
            again = call(c, active_session, c_ref, "review:answer_lead", {"accept": True})
            assert refused(again, "invalid_transition"), again
    assert logged(active_session, "review:lead_changed") == []


def test_the_student_takes_the_request_back(connect, student, coach, active_session, swings):
    with joined(connect(student), active_session) as (s, ref, _):
        call(s, active_session, ref, "review:ask_lead", {})
        state = call(s, active_session, ref, "review:ask_lead", {"cancel": True})["response"]
        assert state["lead_request"] is None


def test_a_lead_given_without_answering_still_clears_the_request(
    connect, student, coach, active_session, swings
):
    with joined(connect(coach), active_session) as (c, c_ref, _):
        with joined(connect(student), active_session) as (s, s_ref, _):
            call(s, active_session, s_ref, "review:ask_lead", {})
            given = call(c, active_session, c_ref, "review:lead", {"user_id": str(student.pk)})
            assert given["response"]["lead_request"] is None
    assert logged(active_session, "review:lead_changed")[0]["asked"] is True


def test_who_may_ask_for_the_lead(connect, student, coach, admin_user, active_session, swings):
    with joined(connect(coach), active_session) as (c, c_ref, _):
        assert refused(call(c, active_session, c_ref, "review:ask_lead", {}), "forbidden")
        with joined(connect(admin_user), active_session) as (a, a_ref, _):
            assert refused(call(a, active_session, a_ref, "review:ask_lead", {}), "forbidden")
        with joined(connect(student), active_session) as (s, s_ref, _):
            reply = call(s, active_session, s_ref, "review:ask_lead", {"cancel": "yes"})
            assert refused(reply, "invalid_input", "cancel"), reply
            # The leading student has nothing to ask for.
            call(c, active_session, c_ref, "review:lead", {"user_id": str(student.pk)})
            assert refused(call(s, active_session, s_ref, "review:ask_lead", {}), "forbidden")


def test_nobody_to_ask_before_a_coach_claims(connect, student, waiting_session):
    with joined(connect(student), waiting_session) as (s, ref, _):
        assert refused(call(s, waiting_session, ref, "review:ask_lead", {}), "forbidden")


def test_only_the_coach_answers(connect, student, admin_user, coach, active_session, swings):
    with joined(connect(student), active_session) as (s, s_ref, _):
        call(s, active_session, s_ref, "review:ask_lead", {})
        reply = call(s, active_session, s_ref, "review:answer_lead", {"accept": True})
        assert refused(reply, "forbidden"), reply
    with joined(connect(admin_user), active_session) as (a, a_ref, _):
        reply = call(a, active_session, a_ref, "review:answer_lead", {"accept": True})
        assert refused(reply, "forbidden"), reply
    with joined(connect(coach), active_session) as (c, c_ref, _):
        for payload in ({}, {"accept": "yes"}, {"accept": 1}):
            reply = call(c, active_session, c_ref, "review:answer_lead", payload)
            assert refused(reply, "invalid_input", "accept"), reply


# --- Watching alone ---------------------------------------------------------------------------


def test_the_leader_sees_who_watches_alone_and_brings_them_back(
    connect, student, coach, active_session, swings
):
    topic = active_session.topic
    with joined(connect(coach), active_session) as (c, c_ref, _):
        with joined(connect(student), active_session) as (s, s_ref, _):
            alone = call(s, active_session, s_ref, "review:alone", {"alone": True})
            assert alone["status"] == "ok", alone
            assert alone["response"]["alone"] == [person(student)]
            assert c.event(topic, "review:state", where=lambda p: p["alone"]) == alone["response"]
            # Saying it again keeps one entry.
            again = call(s, active_session, s_ref, "review:alone", {"alone": True})
            assert again["response"]["alone"] == [person(student)]

            back = call(c, active_session, c_ref, "review:bring_back", {"user_id": str(student.pk)})
            assert back["status"] == "ok", back
            assert back["response"]["alone"] == []
            assert (
                s.event(
                    topic,
                    "review:state",
                    where=lambda p: p["version"] == back["response"]["version"],
                )["alone"]
                == []
            )

            # Following again on one's own.
            call(s, active_session, s_ref, "review:alone", {"alone": True})
            followed = call(s, active_session, s_ref, "review:alone", {"alone": False})
            assert followed["response"]["alone"] == []
    # Ephemeral: not in the timeline.
    assert (
        SessionEvent.objects.filter(session=active_session, event__startswith="review:").count()
        == 0
    )


def test_a_new_leader_makes_everyone_follow(connect, student, coach, active_session, swings):
    with joined(connect(coach), active_session) as (c, c_ref, _):
        with joined(connect(student), active_session) as (s, s_ref, _):
            call(s, active_session, s_ref, "review:alone", {"alone": True})
            given = call(c, active_session, c_ref, "review:lead", {"user_id": str(student.pk)})
            assert given["response"]["alone"] == []
            # The coach, following the student now, may watch alone in turn.
            reply = call(c, active_session, c_ref, "review:alone", {"alone": True})
            assert reply["response"]["alone"] == [person(coach)]
            back = call(s, active_session, s_ref, "review:bring_back", {"user_id": str(coach.pk)})
            assert back["response"]["alone"] == []


def test_who_may_watch_alone_and_bring_back(
    connect, student, coach, admin_user, active_session, swings
):
    with joined(connect(coach), active_session) as (c, c_ref, _):
        # The leader does not watch alone.
        assert refused(call(c, active_session, c_ref, "review:alone", {"alone": True}), "forbidden")
        with joined(connect(admin_user), active_session) as (a, a_ref, _):
            reply = call(a, active_session, a_ref, "review:alone", {"alone": True})
            assert refused(reply, "forbidden"), reply
            reply = call(
                a, active_session, a_ref, "review:bring_back", {"user_id": str(student.pk)}
            )
            assert refused(reply, "forbidden"), reply
        with joined(connect(student), active_session) as (s, s_ref, _):
            for payload in ({}, {"alone": "yes"}, {"alone": None}):
                reply = call(s, active_session, s_ref, "review:alone", payload)
                assert refused(reply, "invalid_input", "alone"), reply
            reply = call(s, active_session, s_ref, "review:bring_back", {"user_id": str(coach.pk)})
            assert refused(reply, "forbidden"), reply
        reply = call(c, active_session, c_ref, "review:bring_back", {"user_id": None})
        assert refused(reply, "invalid_input", "user_id"), reply


def test_nobody_watches_alone_without_a_leader(connect, student, waiting_session):
    with joined(connect(student), waiting_session) as (s, ref, _):
        assert refused(call(s, waiting_session, ref, "review:alone", {"alone": True}), "forbidden")


# --- An ended lesson is replayed, not led ------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "event", "payload"),
    [
        ("coach", "review:update", {"playing": True}),
        ("coach", "review:update", {"compare": COMPARE}),
        ("coach", "review:lead", {"user_id": "student"}),
        ("coach", "review:answer_lead", {"accept": True}),
        ("coach", "review:bring_back", {"user_id": "student"}),
        ("student", "review:ask_lead", {}),
        ("student", "review:alone", {"alone": True}),
    ],
)
def test_an_ended_lesson_is_not_led(
    connect, coach, student, active_session, swings, user, event, payload
):
    session_control(session_id=active_session.session_id, actor=coach, status="ended")
    people = {"coach": coach, "student": student}
    payload = {k: str(student.pk) if v == "student" else v for k, v in payload.items()}
    with joined(connect(people[user]), active_session) as (client, ref, _):
        reply = call(client, active_session, ref, event, payload)
    assert refused(reply, "session_ended"), reply


# --- Hostile input ------------------------------------------------------------------------------

# Each new field, as a function of the value to put in it (compare's own fields too).
NEW_FIELDS = [
    ("review:update", lambda v: {"compare": v}),
    ("review:update", lambda v: {"compare": {**COMPARE, "swing_id": v}}),
    ("review:update", lambda v: {"compare": {**COMPARE, "offset_ms": v}}),
    ("review:ask_lead", lambda v: {"cancel": v}),
    ("review:answer_lead", lambda v: {"accept": v}),
    ("review:alone", lambda v: {"alone": v}),
    ("review:bring_back", lambda v: {"user_id": v}),
]


def test_every_new_field_answers_hostile_input_without_a_traceback(
    server, connect, coach, active_session, swings
):
    """As tests/realtime/test_hostile_input.py, for the fields added here."""
    from tests.realtime.test_hostile_input import DEEP, HOSTILE, frame

    log_start = server.log_path.stat().st_size
    topic = active_session.topic
    with connect(coach) as client:
        join_ref, _ = client.join_ok(topic)
        sent = 0
        for event, payload_with in NEW_FIELDS:
            for value in [*HOSTILE, DEEP]:
                sent += 1
                ref = f"r{sent}"
                text = frame(join_ref, ref, topic, event, payload_with(value))
                client.send(text.replace(f'"{DEEP}"', "[" * 1100 + "]" * 1100))
                reply = client.reply(ref)
                assert reply["status"] in ("ok", "error"), (event, value)
                if reply["status"] == "error":
                    assert reply["response"]["reason"] != "internal_error", (event, value)
        assert client.heartbeat()["status"] == "ok"
    log = server.log_path.read_bytes()[log_start:].decode(errors="replace")
    assert "Traceback" not in log
