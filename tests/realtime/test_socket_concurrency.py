"""One topic's slow handler delays neither heartbeats nor other topics on the socket;
a server stop waits for the joins that were already ending."""

import asyncio
import json

import pytest
from channels.testing import WebsocketCommunicator

from coaching.realtime import router
from coaching.realtime.channel import Channel
from coaching.realtime.open_sockets import close_all_sockets
from coaching.realtime.socket import PhoenixSocket
from tests.support.auth import token_for


class SlowChannel(Channel):
    async def join(self, params):
        return {}

    async def handle_in(self, event, payload):
        await asyncio.sleep(float(payload["seconds"]))
        return {"slept": payload["seconds"]}


class SlowToEndChannel(Channel):
    """Records how each join ended, after a while (like a leave's presence round trips)."""

    ended: dict[str, bool] = {}

    async def join(self, params):
        self.seconds = float(params["seconds"])
        return {}

    async def terminate(self, *, by_server_stop=False):
        await asyncio.sleep(self.seconds)
        SlowToEndChannel.ended[self.user.username] = by_server_stop


@pytest.fixture
def slow_topic(monkeypatch):
    monkeypatch.setattr(router, "ROUTES", [("slow:", SlowChannel), *router.ROUTES])


@pytest.fixture
def slow_to_end_topic(monkeypatch):
    monkeypatch.setattr(router, "ROUTES", [("ending:", SlowToEndChannel), *router.ROUTES])
    monkeypatch.setattr(SlowToEndChannel, "ended", {})


async def receive_json(comm: WebsocketCommunicator) -> list:
    return json.loads(await comm.receive_from(timeout=5))


@pytest.mark.django_db(transaction=True)
async def test_heartbeat_and_other_topics_answer_while_a_handler_is_slow(slow_topic, student):
    comm = WebsocketCommunicator(
        PhoenixSocket.as_asgi(), f"/socket/websocket?vsn=2.0.0&token={token_for(student)}"
    )
    connected, _ = await comm.connect()
    assert connected
    for topic in ("slow:a", "slow:b"):
        await comm.send_to(text_data=json.dumps([topic, topic, topic, "phx_join", {}]))
        assert (await receive_json(comm))[4]["status"] == "ok"
    await comm.send_to(text_data=json.dumps(["slow:a", "1", "slow:a", "nap", {"seconds": 1.5}]))
    await comm.send_to(text_data=json.dumps([None, "2", "phoenix", "heartbeat", {}]))
    await comm.send_to(text_data=json.dumps(["slow:b", "3", "slow:b", "nap", {"seconds": 0}]))
    await comm.send_to(text_data=json.dumps(["slow:a", "4", "slow:a", "nap", {"seconds": 0}]))
    order = [(await receive_json(comm))[1] for _ in range(4)]
    # Heartbeat and the other topic first; topic a keeps its own order (1 before 4).
    assert set(order[:2]) == {"2", "3"}
    assert order[2:] == ["1", "4"]
    await comm.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_server_stop_waits_for_a_leave_under_way_and_tells_it_from_its_own_closes(
    slow_to_end_topic, student, coach
):
    sockets = {}
    # The student's join takes longer to end than the coach's and the stop's own pause.
    for user, seconds in ((student, 2.0), (coach, 0.1)):
        comm = WebsocketCommunicator(
            PhoenixSocket.as_asgi(), f"/socket/websocket?vsn=2.0.0&token={token_for(user)}"
        )
        assert (await comm.connect())[0]
        join = ["1", "1", "ending:x", "phx_join", {"seconds": seconds}]
        await comm.send_to(text_data=json.dumps(join))
        assert (await receive_json(comm))[4]["status"] == "ok"
        sockets[user] = comm
    # The student's client goes; the server is still ending that join when it stops.
    await sockets[student].send_input({"type": "websocket.disconnect", "code": 1001})
    await asyncio.sleep(0.1)
    await close_all_sockets()
    assert SlowToEndChannel.ended == {student.username: False, coach.username: True}
    assert (await sockets[coach].receive_output(timeout=1))["code"] == 4012
