"""The call rules (coaching/services/call.py): who rings, answers and hangs up, the states
a call goes through, and which signals are passed on to whom."""

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from coaching.errors import ServiceError
from coaching.models import CoachingSession, Status
from coaching.services import call

MAX = 16 * 1024
OFFER = {"type": "offer", "sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"}


def person(user) -> dict:
    return {"id": str(user.pk), "name": user.display_name}


@contextmanager
def refused(code: str, field: str | None = None) -> Iterator[None]:
    """The block raises a ServiceError of `code` (and `field`)."""
    with pytest.raises(ServiceError) as info:
        yield
    assert info.value.code == code, info.value.as_dict()
    if field is not None:
        assert info.value.field == field, info.value.as_dict()


@pytest.fixture
def ringing(active_session, student) -> dict:
    """The student has called the coach."""
    return call.rung(call.idle_state(), active_session, student)


# --- Ringing --------------------------------------------------------------------------


def test_a_room_starts_idle():
    state = call.idle_state()
    assert (state["state"], state["call_id"], state["version"]) == ("idle", None, 0)


def test_the_student_rings_the_coach(student, coach, ringing):
    assert ringing["state"] == "ringing"
    assert (ringing["caller"], ringing["callee"]) == (person(student), person(coach))
    assert ringing["muted"] == {str(student.pk): False, str(coach.pk): False}
    assert isinstance(ringing["call_id"], str) and ringing["call_id"]
    assert ringing["version"] == 1


def test_the_coach_rings_the_student(active_session, student, coach):
    state = call.rung(call.idle_state(), active_session, coach)
    assert (state["caller"], state["callee"]) == (person(coach), person(student))


def test_a_second_ring_while_a_call_is_under_way_is_refused(active_session, coach, ringing):
    with refused("invalid_transition"):
        call.rung(ringing, active_session, coach)


def test_each_call_gets_its_own_id(active_session, student, coach, ringing):
    ended = call.hung_up(ringing, active_session, student, ringing["call_id"])
    again = call.rung(ended, active_session, coach)
    assert again["state"] == "ringing" and again["call_id"] != ringing["call_id"]
    assert (again["ended_reason"], again["ended_by"]) == (None, None)


def test_observers_and_outsiders_cannot_call(active_session, admin_user, make_user):
    for user in (admin_user, make_user("coach", name="Other coach")):
        with refused("forbidden"):
            call.rung(call.idle_state(), active_session, user)


def test_nobody_calls_before_a_coach_claims_the_lesson(waiting_session, student):
    with refused("forbidden"):
        call.rung(call.idle_state(), waiting_session, student)


def test_no_call_in_an_ended_lesson(student, coach):
    ended = CoachingSession.objects.create(student=student, coach=coach, status=Status.ENDED)
    with refused("session_ended"):
        call.rung(call.idle_state(), ended, student)


# --- Answering ------------------------------------------------------------------------


def test_the_one_called_accepts_and_the_call_connects(active_session, coach, ringing):
    state = call.accepted(ringing, active_session, coach, ringing["call_id"])
    assert state["state"] == "connecting" and state["version"] == ringing["version"] + 1


def test_the_one_called_declines(active_session, coach, ringing):
    state = call.declined(ringing, active_session, coach, ringing["call_id"])
    assert (state["state"], state["ended_reason"], state["ended_by"]) == (
        "ended",
        "declined",
        person(coach),
    )


def test_the_caller_cannot_answer_its_own_call(active_session, student, ringing):
    for rule in (call.accepted, call.declined):
        with refused("forbidden"):
            rule(ringing, active_session, student, ringing["call_id"])


def test_an_answered_call_is_not_answered_again(active_session, coach, ringing):
    state = call.accepted(ringing, active_session, coach, ringing["call_id"])
    with refused("invalid_transition"):
        call.accepted(state, active_session, coach, ringing["call_id"])


def test_another_calls_id_is_refused(active_session, coach, ringing):
    with refused("invalid_transition"):
        call.accepted(ringing, active_session, coach, "an-old-call")


@pytest.mark.parametrize("payload", [{}, {"call_id": 5}, {"call_id": ""}, {"call_id": "x" * 65}])
def test_a_call_id_must_be_a_short_string(payload):
    with refused("invalid_input", "call_id"):
        call.clean_call_id(payload)


# --- Hanging up -------------------------------------------------------------------------


def test_the_caller_hanging_up_while_it_rings_cancels(active_session, student, ringing):
    state = call.hung_up(ringing, active_session, student, ringing["call_id"])
    assert (state["state"], state["ended_reason"]) == ("ended", "cancelled")


def test_either_end_hangs_up_an_answered_call(active_session, student, coach, ringing):
    answered = call.accepted(ringing, active_session, coach, ringing["call_id"])
    for user in (student, coach):
        state = call.hung_up(answered, active_session, user, ringing["call_id"])
        assert (state["state"], state["ended_reason"], state["ended_by"]) == (
            "ended",
            "hung_up",
            person(user),
        )


def test_an_ended_call_is_not_hung_up_again(active_session, student, ringing):
    ended = call.hung_up(ringing, active_session, student, ringing["call_id"])
    with refused("invalid_transition"):
        call.hung_up(ended, active_session, student, ringing["call_id"])


# --- What the pages report ----------------------------------------------------------------


def test_pages_report_connected_then_reconnecting_then_connected(
    active_session, student, coach, ringing
):
    call_id = ringing["call_id"]
    state = call.accepted(ringing, active_session, coach, call_id)
    state = call.reported(state, active_session, student, call_id, {"connection": "connected"})
    connected_at = state["connected_at"]
    assert state["state"] == "connected" and isinstance(connected_at, int)
    state = call.reported(state, active_session, coach, call_id, {"connection": "reconnecting"})
    assert state["state"] == "reconnecting"
    state = call.reported(state, active_session, coach, call_id, {"connection": "connected"})
    assert (state["state"], state["connected_at"]) == ("connected", connected_at)


def test_mute_is_shown_per_participant(active_session, student, coach, ringing):
    state = call.reported(ringing, active_session, coach, ringing["call_id"], {"muted": True})
    assert state["muted"] == {str(student.pk): False, str(coach.pk): True}
    assert state["state"] == "ringing"


def test_no_connection_report_before_the_call_is_answered(active_session, student, ringing):
    with refused("invalid_transition"):
        call.reported(
            ringing, active_session, student, ringing["call_id"], {"connection": "connected"}
        )


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "connection"),
        ({"connection": "ringing"}, "connection"),
        ({"connection": "ended"}, "connection"),
        ({"muted": "yes"}, "muted"),
    ],
)
def test_invalid_status_reports_are_refused(payload, field):
    with refused("invalid_input", field):
        call.clean_status(payload)


# --- The lesson ending, a participant leaving ------------------------------------------


def test_the_lesson_ending_ends_a_call_under_way(ringing):
    state = call.ended_with_lesson(ringing)
    assert (state["state"], state["ended_reason"], state["ended_by"]) == (
        "ended",
        "lesson_ended",
        None,
    )


def test_the_lesson_ending_leaves_a_room_without_a_call_as_it_is():
    idle = call.idle_state()
    assert call.ended_with_lesson(idle) is idle


def test_an_ended_lesson_broadcast_is_recognised():
    assert call.ends_calls("session:state", {"status": "ended"})
    assert not call.ends_calls("session:state", {"status": "paused"})
    assert not call.ends_calls("chat:added", {"status": "ended"})


def test_a_participant_who_left_ends_their_call(coach, admin_user, ringing):
    assert call.left(ringing, admin_user) is ringing  # not in the call
    state = call.left(ringing, coach)
    assert (state["state"], state["ended_reason"], state["ended_by"]) == (
        "ended",
        "left",
        person(coach),
    )


# --- Signals ------------------------------------------------------------------------------


def signal(ringing: dict, **changes) -> dict:
    return {"call_id": ringing["call_id"], "kind": "offer", "data": OFFER, **changes}


def test_a_signal_goes_to_the_calls_other_end(student, coach, ringing):
    to, out = call.signal_to(ringing, student, signal(ringing), MAX)
    assert to == str(coach.pk)
    assert out == {
        "call_id": ringing["call_id"],
        "kind": "offer",
        "data": OFFER,
        "from": person(student),
    }
    back, _ = call.signal_to(ringing, coach, signal(ringing, kind="answer", to=student.pk), MAX)
    assert back == str(student.pk)


def test_the_end_of_candidates_is_a_null_candidate(student, ringing):
    _, out = call.signal_to(ringing, student, signal(ringing, kind="candidate", data=None), MAX)
    assert out["data"] is None


def test_a_signal_to_anyone_else_is_refused(student, admin_user, ringing):
    for to in (student.pk, admin_user.pk, "nobody"):
        with refused("invalid_input", "to"):
            call.signal_to(ringing, student, signal(ringing, to=to), MAX)


def test_observers_send_no_signals(admin_user, ringing):
    with refused("forbidden"):
        call.signal_to(ringing, admin_user, signal(ringing), MAX)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"kind": "bye"}, "kind"),
        ({"kind": None}, "kind"),
        ({"data": "v=0"}, "data"),
        ({"data": None}, "data"),  # only a candidate may be null
        ({"data": {"sdp": "x" * MAX}}, "data"),
        ({"call_id": 7}, "call_id"),
    ],
)
def test_invalid_signals_are_refused(student, ringing, changes, field):
    with refused("invalid_input", field):
        call.signal_to(ringing, student, signal(ringing, **changes), MAX)


def test_a_signal_just_under_the_limit_passes(student, ringing):
    data = {"sdp": "x" * (MAX - len('{"sdp":""}'))}
    call.signal_to(ringing, student, signal(ringing, data=data), MAX)
    with refused("invalid_input", "data"):
        data = {"sdp": data["sdp"] + "x"}
        call.signal_to(ringing, student, signal(ringing, data=data), MAX)


def test_no_signal_without_a_call_under_way(active_session, student, ringing):
    ended = call.hung_up(ringing, active_session, student, ringing["call_id"])
    for state in (call.idle_state(), ended):
        with refused("invalid_transition"):
            call.signal_to(state, student, signal(ringing), MAX)


def test_no_signal_once_the_lesson_ended_the_call(student, coach, ringing):
    for user in (student, coach):
        with refused("session_ended"):
            call.signal_to(call.ended_with_lesson(ringing), user, signal(ringing), MAX)
