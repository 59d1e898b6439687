"""One topic's slow handler delays neither heartbeats nor other topics on the socket;
a server stop waits for the joins that were already ending."""

import asyncio
from collections import defaultdict

import pytest

from coaching.realtime import router
from coaching.realtime.channel import Channel
from coaching.realtime.open_sockets import close_all_sockets
from tests.support.waiting import wait_for_event


class HeldChannel(Channel):
    """A push with `hold` waits until the test opens `gate`; others are answered at once."""

    gate: asyncio.Event

    async def join(self, params):
        return {}

    async def handle_in(self, event, payload):
        if payload.get("hold"):
            await HeldChannel.gate.wait()
        return {"held": bool(payload.get("hold"))}


class SlowToEndChannel(Channel):
    """Records how each join ended, after a while (like a leave's presence round trips);
    `ending[username]` is set when that user's join starts to end."""

    ended: dict[str, bool] = {}
    ending: dict[str, asyncio.Event]

    async def join(self, params):
        self.seconds = float(params["seconds"])
        return {}

    async def terminate(self, *, by_server_stop=False):
        SlowToEndChannel.ending[self.user.username].set()
        await asyncio.sleep(self.seconds)  # the time it takes to end: the behaviour here
        SlowToEndChannel.ended[self.user.username] = by_server_stop


@pytest.fixture
def held_topic(monkeypatch):
    monkeypatch.setattr(router, "ROUTES", [("held:", HeldChannel), *router.ROUTES])
    monkeypatch.setattr(HeldChannel, "gate", asyncio.Event(), raising=False)


@pytest.fixture
def slow_to_end_topic(monkeypatch):
    monkeypatch.setattr(router, "ROUTES", [("ending:", SlowToEndChannel), *router.ROUTES])
    monkeypatch.setattr(SlowToEndChannel, "ended", {})
    monkeypatch.setattr(SlowToEndChannel, "ending", defaultdict(asyncio.Event), raising=False)


@pytest.mark.django_db(transaction=True)
async def test_heartbeat_and_other_topics_answer_while_a_handler_is_slow(
    held_topic, connect_in_process, student
):
    comm = await connect_in_process(student)
    for topic in ("held:a", "held:b"):
        await comm.join_ok(topic, topic)
    await comm.send_frame(["held:a", "1", "held:a", "nap", {"hold": True}])
    await comm.send_frame([None, "2", "phoenix", "heartbeat", {}])
    await comm.send_frame(["held:b", "3", "held:b", "nap", {}])
    await comm.send_frame(["held:a", "4", "held:a", "nap", {}])
    # Heartbeat and the other topic are answered while topic a's handler is held.
    answered = [(await comm.receive_frame())[1] for _ in range(2)]
    assert set(answered) == {"2", "3"}
    HeldChannel.gate.set()
    # Topic a keeps its own order (1 before 4).
    assert [(await comm.receive_frame())[1] for _ in range(2)] == ["1", "4"]


@pytest.mark.django_db(transaction=True)
async def test_a_server_stop_waits_for_a_leave_under_way_and_tells_it_from_its_own_closes(
    slow_to_end_topic, connect_in_process, student, coach
):
    sockets = {}
    # The student's join takes longer to end than the coach's and the stop's own pause.
    for user, seconds in ((student, 2.0), (coach, 0.1)):
        sockets[user] = await connect_in_process(user)
        await sockets[user].join_ok("1", "ending:x", {"seconds": seconds})
    # The student's client goes; the server is still ending that join when it stops.
    await sockets[student].send_input({"type": "websocket.disconnect", "code": 1001})
    await wait_for_event(
        "the student's join to start ending", SlowToEndChannel.ending[student.username]
    )
    await close_all_sockets()
    assert SlowToEndChannel.ended == {student.username: False, coach.username: True}
    assert (await sockets[coach].receive_output(timeout=1))["code"] == 4012
