"""One topic's slow handler delays neither heartbeats nor other topics on the socket."""

import asyncio
import json

import pytest
from channels.testing import WebsocketCommunicator

from coaching.realtime import router
from coaching.realtime.channel import Channel
from coaching.realtime.socket import PhoenixSocket
from tests.support.auth import token_for


class SlowChannel(Channel):
    async def join(self, params):
        return {}

    async def handle_in(self, event, payload):
        await asyncio.sleep(float(payload["seconds"]))
        return {"slept": payload["seconds"]}


@pytest.fixture
def slow_topic(monkeypatch):
    monkeypatch.setattr(router, "ROUTES", [("slow:", SlowChannel), *router.ROUTES])


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
