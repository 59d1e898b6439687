"""Calls over `session:{id}` with real sockets: ringing and answering, the call state both
participants see, signals relayed to the other participant's connections only (on any
process), never to observers and never stored, their size and rate limits, and the
call ending with the lesson or when a participant stays away (but not on a reconnect)."""

import time

import pytest
from django.conf import settings

from coaching import prometheus
from coaching.models import SessionEvent
from coaching.realtime import call_room
from coaching.realtime.db import in_db_thread
from coaching.realtime.review import MemoryReviewStore
from coaching.services.sessions import session_control
from tests.realtime.test_review import call, joined, refused

OFFER = {"type": "offer", "sdp": "v=0\r\no=- 4611 2 IN IP4 127.0.0.1\r\ns=-\r\n"}
CANDIDATE = {"candidate": "candidate:1 1 udp 2122260223 10.0.0.2 54321 typ host", "sdpMid": "0"}

needs_redis = pytest.mark.skipif(
    not settings.REDIS_URL, reason="needs REDIS_URL: several processes share the call"
)


def person(user) -> dict:
    return {"id": str(user.pk), "name": user.display_name}


def changed(actor, actor_ref, other, session, event: str, payload: dict) -> dict:
    """`actor` sends a call event; it answers the new state, which both see. The state."""
    reply = call(actor, session, actor_ref, event, payload)
    assert reply["status"] == "ok", reply
    state = reply["response"]
    for client in (actor, other):
        assert client.event(session.topic, "call:state", where=is_version(state)) == state
    return state


def rings(caller, caller_ref, callee, session) -> dict:
    """`caller` calls; both see it ringing. The state."""
    state = changed(caller, caller_ref, callee, session, "call:ring", {})
    assert state["state"] == "ringing"
    return state


def accepted(callee, callee_ref, caller, ringing: dict, session) -> dict:
    """`callee` accepts the ringing call; both see it connecting. The state."""
    payload = {"call_id": ringing["call_id"]}
    state = changed(callee, callee_ref, caller, session, "call:accept", payload)
    assert state["state"] == "connecting"
    return state


def answered(caller, caller_ref, callee, callee_ref, session) -> dict:
    """`caller` calls and `callee` accepts; both see the call connecting. The state."""
    ringing = rings(caller, caller_ref, callee, session)
    return accepted(callee, callee_ref, caller, ringing, session)


def status(client, ref: str, session, state: dict, **fields) -> dict:
    """`client` reports its media path or microphone (`call:status`): the reply."""
    return call(client, session, ref, "call:status", {"call_id": state["call_id"], **fields})


def is_version(state: dict):
    return lambda payload: payload["version"] == state["version"]


def signal(state: dict, kind: str = "offer", data: dict | None = OFFER) -> dict:
    return {"call_id": state["call_id"], "kind": kind, "data": data}


# --- Ringing and answering ------------------------------------------------------------------


def test_a_room_without_a_call_is_idle_in_the_snapshot(connect, student, active_session):
    with joined(connect(student), active_session) as (_, _, reply):
        assert (reply["call"]["state"], reply["call"]["call_id"]) == ("idle", None)


def test_the_student_calls_and_the_coach_accepts(connect, student, coach, active_session):
    with joined(connect(student), active_session) as (s, s_ref, _):
        with joined(connect(coach), active_session) as (c, c_ref, _):
            ringing = rings(s, s_ref, c, active_session)
            assert (ringing["caller"], ringing["callee"]) == (person(student), person(coach))
            state = accepted(c, c_ref, s, ringing, active_session)
            # Each page reports its media path; both see connected and who is muted.
            reply = status(s, s_ref, active_session, state, muted=True)
            assert reply["response"]["muted"][str(student.pk)] is True
            reply = status(c, c_ref, active_session, state, connection="connected")
            connected = reply["response"]
            assert connected["state"] == "connected"
            assert s.event(active_session.topic, "call:state", where=is_version(connected)) == (
                connected
            )
            assert connected["muted"] == {str(student.pk): True, str(coach.pk): False}
        # A page opened now starts from the call as it is.
        with joined(connect(coach), active_session) as (_, _, reply):
            assert reply["call"] == connected


def test_the_coach_declines_and_the_student_sees_it(connect, student, coach, active_session):
    with joined(connect(student), active_session) as (s, s_ref, _):
        with joined(connect(coach), active_session) as (c, c_ref, _):
            ringing = rings(s, s_ref, c, active_session)
            reply = call(c, active_session, c_ref, "call:decline", {"call_id": ringing["call_id"]})
            ended = reply["response"]
            assert (ended["state"], ended["ended_reason"]) == ("ended", "declined")
            assert s.event(active_session.topic, "call:state", where=is_version(ended)) == ended
            # The caller cannot accept for the other; nor is an ended call answered.
            late = call(c, active_session, c_ref, "call:accept", {"call_id": ringing["call_id"]})
            assert refused(late, "invalid_transition"), late


def test_an_observer_sees_the_call_but_cannot_ring_answer_or_signal(
    connect, student, coach, admin_user, active_session
):
    with joined(connect(student), active_session) as (s, s_ref, _):
        with joined(connect(coach), active_session) as (c, _, _):
            with joined(connect(admin_user), active_session) as (a, a_ref, _):
                assert refused(call(a, active_session, a_ref, "call:ring", {}), "forbidden")
                ringing = rings(s, s_ref, c, active_session)
                assert a.event(active_session.topic, "call:state") == ringing
                for event, payload in [
                    ("call:accept", {"call_id": ringing["call_id"]}),
                    ("call:hangup", {"call_id": ringing["call_id"]}),
                    ("call:signal", {**signal(ringing), "to": str(student.pk)}),
                ]:
                    reply = call(a, active_session, a_ref, event, payload)
                    assert refused(reply, "forbidden"), (event, reply)
                # The student's offer reaches the coach, not the observer.
                assert call(s, active_session, s_ref, "call:signal", signal(ringing))["status"] == (
                    "ok"
                )
                got = c.event(active_session.topic, "call:signal")
                assert got == {**signal(ringing), "from": person(student)}
                a.no_event(active_session.topic, "call:signal", wait=0.5)
                s.no_event(active_session.topic, "call:signal", wait=0.1)


# --- Signals ------------------------------------------------------------------------------


@needs_redis
def test_a_signal_reaches_every_connection_of_the_other_participant_on_every_process(
    spawn_server, connect, student, coach, admin_user, active_session
):
    one, two = spawn_server(), spawn_server()
    topic = active_session.topic
    with joined(connect(student, on=one), active_session) as (s, s_ref, _):
        with (
            joined(connect(coach, on=one), active_session) as (c1, c1_ref, _),
            joined(connect(coach, on=two), active_session) as (c2, _, _),
            joined(connect(admin_user, on=two), active_session) as (a, _, _),
            joined(connect(student, on=two), active_session) as (s2, _, _),
        ):
            state = answered(s, s_ref, c1, c1_ref, active_session)
            for kind, data in [("offer", OFFER), ("candidate", CANDIDATE), ("candidate", None)]:
                reply = call(s, active_session, s_ref, "call:signal", signal(state, kind, data))
                assert reply == {"status": "ok", "response": {}}, reply
                expected = {**signal(state, kind, data), "from": person(student)}
                for coach_socket in (c1, c2):
                    assert coach_socket.event(topic, "call:signal") == expected
            # The answer, from the coach on process one, reaches both of the student's.
            answer = {"type": "answer", "sdp": "v=0\r\n"}
            reply = call(c1, active_session, c1_ref, "call:signal", signal(state, "answer", answer))
            assert reply["status"] == "ok", reply
            for student_socket in (s, s2):
                assert student_socket.event(topic, "call:signal")["kind"] == "answer"
            a.no_event(topic, "call:signal", wait=0.5)
            s.no_event(topic, "call:signal", where=lambda p: p["kind"] != "answer", wait=0.1)


def test_signals_are_not_stored(connect, student, coach, active_session):
    with joined(connect(student), active_session) as (s, s_ref, _):
        with joined(connect(coach), active_session) as (c, c_ref, _):
            c.event(active_session.topic, "system:notice")  # "coach joined": logged, before
            before = SessionEvent.objects.filter(session=active_session).count()
            state = answered(s, s_ref, c, c_ref, active_session)
            for _ in range(3):
                call(s, active_session, s_ref, "call:signal", signal(state, "candidate", CANDIDATE))
                c.event(active_session.topic, "call:signal")
            call(s, active_session, s_ref, "call:hangup", {"call_id": state["call_id"]})
            c.event(active_session.topic, "call:state", where=lambda p: p["state"] == "ended")
    assert SessionEvent.objects.filter(session=active_session).count() == before
    rows = SessionEvent.objects.filter(session=active_session, event__startswith="call:")
    assert not rows.exists()


def test_an_oversize_signal_is_refused_and_not_sent(connect, student, coach, active_session):
    with joined(connect(student), active_session) as (s, s_ref, _):
        with joined(connect(coach), active_session) as (c, c_ref, _):
            state = answered(s, s_ref, c, c_ref, active_session)
            big = {"type": "offer", "sdp": "a" * (settings.CALL_SIGNAL_MAX_BYTES + 1)}
            reply = call(s, active_session, s_ref, "call:signal", signal(state, "offer", big))
            assert refused(reply, "invalid_input", "data"), reply
            c.no_event(active_session.topic, "call:signal", wait=0.3)


def test_a_signal_outside_a_call_is_refused(connect, student, coach, active_session):
    with joined(connect(student), active_session) as (s, s_ref, _):
        payload = {"call_id": "nope", "kind": "offer", "data": OFFER}
        reply = call(s, active_session, s_ref, "call:signal", payload)
        assert refused(reply, "invalid_transition"), reply


def test_a_flood_of_signals_is_rate_limited(spawn_server, connect, student, coach, active_session):
    """With 1 a second and a burst of 3, the fourth of four candidates sent at once is
    refused, with the wait; it is not passed on."""
    limited = spawn_server(CALL_SIGNALS_PER_SECOND="1", CALL_SIGNALS_BURST="3")
    topic = active_session.topic
    with joined(connect(student, on=limited), active_session) as (s, s_ref, _):
        with joined(connect(coach, on=limited), active_session) as (c, c_ref, _):
            state = answered(s, s_ref, c, c_ref, active_session)
            refs = [
                s.push(topic, "call:signal", signal(state, "candidate", CANDIDATE), s_ref)
                for _ in range(4)
            ]
            replies = [s.reply(ref) for ref in refs]
            assert [r["status"] for r in replies[:3]] == ["ok"] * 3, replies
            assert refused(replies[3], "rate_limited"), replies[3]
            assert 0 < replies[3]["response"]["retry_after_ms"] <= 1000
            for _ in range(3):
                c.event(topic, "call:signal")
            c.no_event(topic, "call:signal", wait=0.3)
            # Other pushes are not held back by the signals' limit.
            assert status(s, s_ref, active_session, state, muted=True)["status"] == "ok"


# --- How a call ends ------------------------------------------------------------------------


def test_the_lesson_ending_ends_the_call_on_both_sides(connect, student, coach, active_session):
    with joined(connect(student), active_session) as (s, s_ref, _):
        with joined(connect(coach), active_session) as (c, c_ref, _):
            state = answered(s, s_ref, c, c_ref, active_session)
            reply = call(c, active_session, c_ref, "session:control", {"status": "ended"})
            assert reply["status"] == "ok", reply
            for client in (s, c):
                ended = client.event(
                    active_session.topic, "call:state", where=lambda p: p["state"] == "ended"
                )
                assert (ended["ended_reason"], ended["call_id"]) == (
                    "lesson_ended",
                    state["call_id"],
                )
            # Once, however many joins saw the lesson end.
            s.no_event(active_session.topic, "call:state", wait=0.3)
            for event, payload in [
                ("call:ring", {}),
                ("call:signal", signal(state)),
            ]:
                assert refused(call(s, active_session, s_ref, event, payload), "session_ended")


def test_the_lesson_ended_from_rest_ends_the_call_too(connect, student, coach, active_session):
    with joined(connect(student), active_session) as (s, s_ref, _):
        with joined(connect(coach), active_session) as (c, c_ref, _):
            answered(s, s_ref, c, c_ref, active_session)
            session_control(session_id=active_session.session_id, actor=coach, status="ended")
            ended = s.event(
                active_session.topic, "call:state", where=lambda p: p["state"] == "ended"
            )
            assert ended["ended_reason"] == "lesson_ended"


def test_a_participant_who_stays_away_ends_the_call(
    spawn_server, connect, student, coach, active_session
):
    server = spawn_server(LEAVE_NOTICE_GRACE="0.3")
    with joined(connect(student, on=server), active_session) as (s, s_ref, _):
        with joined(connect(coach, on=server), active_session) as (c, c_ref, _):
            state = answered(s, s_ref, c, c_ref, active_session)
        # The coach's last socket has closed: once the grace has passed, the call ends.
        ended = s.event(
            active_session.topic, "call:state", where=lambda p: p["state"] == "ended", timeout=5
        )
        assert (ended["ended_reason"], ended["ended_by"], ended["call_id"]) == (
            "left",
            person(coach),
            state["call_id"],
        )


def test_a_hang_up_sent_just_before_the_socket_closes_ends_the_call(
    connect, student, coach, active_session
):
    """A client that pushes `call:hangup` and closes at once (a page going away): the
    server still runs the push it read before the close, so the other participant sees
    the call hung up at once, not after the leave grace."""
    with joined(connect(student), active_session) as (s, s_ref, _):
        with joined(connect(coach), active_session) as (c, c_ref, _):
            state = answered(s, s_ref, c, c_ref, active_session)
            c.push(active_session.topic, "call:hangup", {"call_id": state["call_id"]}, c_ref)
        ended = s.event(active_session.topic, "call:state", where=lambda p: p["state"] == "ended")
        assert (ended["ended_reason"], ended["ended_by"]) == ("hung_up", person(coach))


def test_a_reconnect_keeps_the_call_and_restarts_ice(
    spawn_server, connect, student, coach, active_session
):
    """The coach's socket drops and comes back within the leave grace: the call is still
    there in the join reply, and the restart offer from the new socket is relayed."""
    server = spawn_server(LEAVE_NOTICE_GRACE="1.5")
    topic = active_session.topic
    with joined(connect(student, on=server), active_session) as (s, s_ref, _):
        with joined(connect(coach, on=server), active_session) as (c, c_ref, _):
            state = answered(s, s_ref, c, c_ref, active_session)
            reply = status(c, c_ref, active_session, state, connection="connected")
            connected = reply["response"]
        with joined(connect(coach, on=server), active_session) as (c, c_ref, reply):
            assert reply["call"] == connected
            reply = status(c, c_ref, active_session, state, connection="reconnecting")
            assert reply["response"]["state"] == "reconnecting"
            restart = {"type": "offer", "sdp": "v=0\r\na=ice-options:trickle\r\n"}
            reply = call(c, active_session, c_ref, "call:signal", signal(state, "restart", restart))
            assert reply["status"] == "ok", reply
            assert s.event(topic, "call:signal") == {
                **signal(state, "restart", restart),
                "from": person(coach),
            }
            time.sleep(2)  # past the grace: the drop did not end the call
            s.no_event(topic, "call:state", where=lambda p: p["state"] == "ended", wait=0.1)
            still = status(s, s_ref, active_session, state, connection="connected")
            assert still["response"]["state"] == "connected", still


@pytest.mark.django_db(transaction=True)
async def test_the_lesson_end_reaches_a_participant_whose_call_state_cannot_be_written(
    monkeypatch, connect_in_process, student, coach, active_session
):
    """Redis fails as the lesson ends: the call is not ended, but the lesson's end still
    reaches the participant (whose page ends its call on it)."""

    class Unwritable(MemoryReviewStore):
        async def change(self, *args, **kwargs):
            raise ConnectionError("Redis is down")

    monkeypatch.setattr(call_room, "_store", Unwritable())
    comm = await connect_in_process(student)
    await comm.join_ok("1", active_session.topic)
    await in_db_thread(session_control)(
        session_id=active_session.session_id, actor=coach, status="ended"
    )
    frames = await comm.frames_until(
        lambda got: any(f[3] == "session:state" and f[4]["status"] == "ended" for f in got)
    )
    assert not [f for f in frames if f[3] == "call:state"]


def test_every_call_event_counts_under_its_own_name_in_the_metrics():
    assert [prometheus.event_label(event) for event in call_room.EVENTS] == list(call_room.EVENTS)
