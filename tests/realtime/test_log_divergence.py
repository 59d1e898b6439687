"""A database that loses committed events (an asynchronous commit, a failover to a
lagging replica) gives their seqs to new events. A client that saw a lost event is told
by its `eid` that its log is no longer the server's: a rejoin with `last_seq` and
`last_eid` gets a fresh snapshot (`recovery.reason` `diverged`) instead of a replay, and
a joined client is sent `phx_error` `diverged` as soon as its join can tell."""

import pytest

from coaching.models import CoachingSession, SessionEvent
from coaching.services.chat import chat_message_post
from tests.support.broadcasts import captured_broadcasts
from tests.support.event_log import lose_events_after
from tests.support.phoenix import PhoenixClient

pytestmark = pytest.mark.django_db(transaction=True)


def post(session: CoachingSession, sender, *texts: str) -> list[dict]:
    return [chat_message_post(session_id=session.session_id, sender=sender, text=t) for t in texts]


def chat_seen(client: PhoenixClient, topic: str, *texts: str) -> list[dict]:
    """Join, send `texts` and wait until the join has sent each back: what it saw."""
    ref, _ = client.join_ok(topic)
    client.event(topic, "system:notice")  # its own entry
    sent = [client.call(topic, ref, "chat:new", {"message": t})["response"] for t in texts]
    seen = [s["message"] for s in sent]
    for line in seen:
        client.event(topic, "chat:added", where=lambda m, seq=line["seq"]: m["seq"] == seq)
    return seen


def server_log(session: CoachingSession, up_to: int) -> list[dict]:
    rows = SessionEvent.objects.filter(session=session, seq__lte=up_to).order_by("seq")
    return [{"event": row.event, "payload": row.payload} for row in rows]


def resume(last: dict) -> dict:
    return {"last_seq": last["seq"], "last_eid": last["eid"]}


def test_a_rejoin_whose_last_event_was_lost_gets_the_servers_snapshot(
    connect, student, coach, active_session
):
    topic = active_session.topic
    with connect(student) as s:
        one, two, three = chat_seen(s, topic, "one", "two", "three")
    lose_events_after(active_session, one["seq"])
    again = post(active_session, coach, "two again", "three again")
    assert [m["seq"] for m in again] == [two["seq"], three["seq"]]  # the seqs, given again

    with connect(student) as s:
        _, reply = s.join_ok(topic, resume(three))
        s.no_event(topic, "chat:added", wait=0.3)  # no replay: nothing follows the snapshot
    assert reply["recovery"] == {"mode": "snapshot", "reason": "diverged"}
    assert [m["message"] for m in reply["messages"]] == ["one", "two again", "three again"]
    assert reply["events"] == server_log(active_session, reply["last_seq"])
    assert (reply["last_seq"], reply["last_eid"]) == (three["seq"], again[-1]["eid"])


def test_a_rejoin_past_the_end_of_the_servers_log(connect, student, coach, active_session):
    """The server lost more events than it has stored since: the client's last seq is
    past the log's end. With its eid, that is a divergence; a client that sends no eid
    gets the snapshot as before."""
    topic = active_session.topic
    with connect(student) as s:
        one, _, three = chat_seen(s, topic, "one", "two", "three")
    lose_events_after(active_session, one["seq"])
    post(active_session, coach, "two again")
    with connect(student) as s:
        _, diverged = s.join_ok(topic, resume(three))
        _, old_client = s.join_ok(topic, {"last_seq": three["seq"]})
    assert diverged["recovery"] == {"mode": "snapshot", "reason": "diverged"}
    assert [m["message"] for m in diverged["messages"]] == ["one", "two again"]
    assert old_client["recovery"] == {"mode": "snapshot", "reason": "too_far_behind"}


def test_a_rejoin_whose_last_event_is_the_servers_gets_the_replay(
    connect, student, coach, active_session
):
    topic = active_session.topic
    with connect(student) as s:
        one, two = chat_seen(s, topic, "one", "two")
    missed = post(active_session, coach, "missed 1", "missed 2")
    with connect(student) as s:
        _, reply = s.join_ok(topic, resume(two))
        replayed = [s.event(topic, "chat:added") for _ in missed]
        # A client that holds another event at that seq (here: another eid) is told.
        _, stale = s.join_ok(topic, {**resume(two), "last_eid": one["eid"]})
    assert reply["recovery"] == {"mode": "replay", "after_seq": two["seq"], "count": 2}
    assert replayed == missed
    assert stale["recovery"] == {"mode": "snapshot", "reason": "diverged"}


def test_a_joined_client_is_told_when_a_seq_it_was_sent_comes_again(
    connect, student, coach, active_session
):
    topic = active_session.topic
    with connect(student) as s:
        one, _, three = chat_seen(s, topic, "one", "two", "three")
        lose_events_after(active_session, one["seq"])
        post(active_session, coach, "two again")  # broadcast with two's seq, another eid
        assert s.event(topic, "phx_error") == {"reason": "diverged"}
        s.no_event(topic, "chat:added", wait=0.3)
        _, reply = s.join_ok(topic, resume(three))
    assert reply["recovery"] == {"mode": "snapshot", "reason": "diverged"}
    assert [m["message"] for m in reply["messages"]] == ["one", "two again"]


def test_a_gap_over_lost_events_is_a_divergence_not_a_fill(connect, student, coach, active_session):
    """The events that took the lost seqs were not broadcast to this join (the channel
    layer delivers at most once); the next one reveals a gap, and the log no longer holds
    the last event the join sent."""
    topic = active_session.topic
    with connect(student) as s:
        one, _, three = chat_seen(s, topic, "one", "two", "three")
        lose_events_after(active_session, one["seq"])
        with captured_broadcasts():  # stored, never broadcast
            post(active_session, coach, "two again", "three again", "four")
        post(active_session, coach, "five")
        assert s.event(topic, "phx_error") == {"reason": "diverged"}
        _, reply = s.join_ok(topic, resume(three))
    assert reply["recovery"] == {"mode": "snapshot", "reason": "diverged"}
    assert [m["message"] for m in reply["messages"]] == [
        "one",
        "two again",
        "three again",
        "four",
        "five",
    ]


@pytest.mark.parametrize("last_eid", [17, ["x"], "x" * 65])
def test_a_bad_last_eid_is_refused(connect, student, active_session, last_eid):
    with connect(student) as c:
        _, reply = c.join(active_session.topic, {"last_seq": 0, "last_eid": last_eid})
    assert reply["status"] == "error"
    assert (reply["response"]["reason"], reply["response"]["field"]) == (
        "invalid_input",
        "last_eid",
    )
