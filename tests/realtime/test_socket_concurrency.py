"""One topic's slow handler delays neither heartbeats nor other topics on the socket;
a server stop waits for the joins that were already ending."""

import asyncio
from collections import defaultdict

import pytest

from coaching.realtime import open_sockets, router, topic_process
from coaching.realtime.channel import Channel
from coaching.realtime.open_sockets import close_all_sockets
from tests.support.waiting import eventually, wait_for_event


class HeldChannel(Channel):
    """A push with `hold` waits until the test opens `gate`; others are answered at once.
    `handled` lists the pushes' events as their handling ends."""

    gate: asyncio.Event
    handled: list[str]

    async def join(self, params):
        return {}

    async def handle_in(self, event, payload):
        if payload.get("hold"):
            await HeldChannel.gate.wait()
        HeldChannel.handled.append(event)
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
    monkeypatch.setattr(HeldChannel, "handled", [], raising=False)


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


@pytest.mark.django_db(transaction=True)
async def test_pushes_a_client_sent_before_it_closed_still_run(
    held_topic, connect_in_process, student
):
    """A client sends its last push and closes at once: the pushes read before the close
    run, in order, though nobody gets their replies."""
    await pushed_twice_then_closed(connect_in_process, student)
    await eventually("the close to be read", closed_sockets, until=lambda n: n == 1)
    HeldChannel.gate.set()  # the first push held until after the close
    await eventually("both pushes to run", handled, until=lambda h: h == ["first", "hangup"])


@pytest.mark.django_db(transaction=True)
async def test_pushes_of_a_closed_socket_are_cut_short_after_the_drain_timeout(
    held_topic, connect_in_process, student, monkeypatch
):
    monkeypatch.setattr(topic_process, "DRAIN_TIMEOUT", 0.2)
    await pushed_twice_then_closed(connect_in_process, student)
    await eventually("the socket to end", open_count, until=lambda n: n == 0)
    HeldChannel.gate.set()  # too late: the held push was cancelled
    await asyncio.sleep(0)
    assert HeldChannel.handled == []


async def pushed_twice_then_closed(connect_in_process, user) -> None:
    """A held push ("first") and one behind it ("hangup"), then the client's close."""
    comm = await connect_in_process(user)
    await comm.join_ok("held:a", "held:a")
    await comm.send_frame(["held:a", "1", "held:a", "first", {"hold": True}])
    await comm.send_frame(["held:a", "2", "held:a", "hangup", {}])
    await comm.send_input({"type": "websocket.disconnect", "code": 1001})


async def closed_sockets() -> int:
    """Open sockets that know their client has closed them."""
    return sum(1 for socket in open_sockets._open_sockets if socket.closed)


async def open_count() -> int:
    return open_sockets.count()


async def handled() -> list[str]:
    return HeldChannel.handled
