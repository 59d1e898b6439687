"""Two server processes sharing PostgreSQL and Redis behave as one service."""

import time

import pytest
from django.conf import settings

pytestmark = pytest.mark.skipif(
    not settings.REDIS_URL,
    reason="needs REDIS_URL: processes share broadcasts and presence through Redis",
)

# Short liveness settings so the crash test is quick; production defaults are 5 s / 20 s.
FAST_PRESENCE = {"PRESENCE_HEARTBEAT": "0.5", "PRESENCE_NODE_TTL": "2"}
LEAVE_BOUND = 2 + 0.5  # PRESENCE_NODE_TTL + PRESENCE_HEARTBEAT


def test_student_and_coach_on_different_processes_see_each_other(
    spawn_server, connect, student, coach, active_session
):
    topic = active_session.topic
    one, two = spawn_server(**FAST_PRESENCE), spawn_server(**FAST_PRESENCE)
    with connect(student, on=one) as s, connect(coach, on=two) as c:
        s_ref, _ = s.join_ok(topic)
        s.event(topic, "presence:state")
        c_ref, _ = c.join_ok(topic)
        assert set(c.event(topic, "presence:state")) == {str(student.pk), str(coach.pk)}
        s.event(topic, "presence:diff", where=lambda d: str(coach.pk) in d["joins"])

        s.call(topic, s_ref, "chat:new", {"message": "from process one"})
        assert c.event(topic, "chat:added")["message"] == "from process one"
        c.call(topic, c_ref, "chat:new", {"message": "from process two"})
        assert (
            s.event(topic, "chat:added", where=lambda m: m["sender"]["role"] == "coach")["message"]
            == "from process two"
        )

        c.call(topic, c_ref, "session:control", {"status": "paused"})
        assert s.event(topic, "session:state")["status"] == "paused"


def test_killed_process_users_leave_presence_on_the_other_process(
    spawn_server, connect, student, coach, active_session
):
    topic = active_session.topic
    doomed, survivor = spawn_server(**FAST_PRESENCE), spawn_server(**FAST_PRESENCE)
    s = connect(student, on=doomed)
    with connect(coach, on=survivor) as c:
        s.join_ok(topic)
        s.event(topic, "presence:state")
        c.join_ok(topic)
        assert str(student.pk) in c.event(topic, "presence:state")

        doomed.kill()  # SIGKILL: no chance to say goodbye
        killed_at = time.monotonic()
        leave = c.event(
            topic,
            "presence:diff",
            timeout=LEAVE_BOUND + 5,
            where=lambda d: str(student.pk) in d["leaves"],
        )
        waited = time.monotonic() - killed_at
        assert leave["joins"] == {}
        print(f"student left the survivor's presence {waited:.2f}s after SIGKILL")

        # The survivor's view is now right for newcomers too.
        with connect(student, on=survivor) as again:
            again.join_ok(topic)
            state = again.event(topic, "presence:state")
        assert len(state[str(student.pk)]["metas"]) == 1
