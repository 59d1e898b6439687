"""Publishing: broadcasts reach a topic's subscribers, in order, on any layer."""

import pytest
from django.conf import settings

from coaching.realtime.fanout import fanout
from coaching.realtime.publish import broadcast_many
from tests.support.layer_listener import LayerListener
from tests.support.subscribers import Collector


async def test_broadcast_many_arrives_in_order_through_the_configured_layer():
    collector = Collector()
    await fanout.subscribe("session:sess_publish_test", collector)
    try:
        items = [("session:sess_publish_test", "chat:added", {"seq": n}) for n in range(1, 6)]
        items.insert(2, ("session:sess_other", "chat:added", {"seq": 99}))
        await broadcast_many(items)
        received = [await collector.next() for _ in range(5)]
    finally:
        await fanout.unsubscribe("session:sess_publish_test", collector)
    assert [m["payload"]["seq"] for m in received] == [1, 2, 3, 4, 5]
    assert {m["type"] for m in received} == {"topic.broadcast"}
    assert {m["topic"] for m in received} == {"session:sess_publish_test"}


@pytest.mark.skipif(not settings.REDIS_URL, reason="only the Redis layer encodes broadcasts")
async def test_a_broadcast_that_cannot_be_encoded_never_stops_the_others(caplog):
    collector = Collector()
    topic = "session:sess_publish_unencodable"
    await fanout.subscribe(topic, collector)
    try:
        async with LayerListener(topic) as other_process:
            items = [(topic, "chat:added", {"seq": n}) for n in (1, 2, 3)]
            items.insert(1, (topic, "feedback:added", {"seq": 9, "metrics": {"x": 2**64}}))
            await broadcast_many(items)
            await broadcast_many([(topic, "feedback:added", {"metrics": {"x": 2**64}})])
            await broadcast_many([(topic, "chat:added", {"seq": 4})])
            published = [await other_process.next() for _ in range(4)]
            here = [await collector.next() for _ in range(6)]
    finally:
        await fanout.unsubscribe(topic, collector)
    assert [m["payload"]["seq"] for m in published] == [1, 2, 3, 4]
    # Nothing is encoded for this process's own subscribers: they get every one.
    assert [m["payload"].get("seq") for m in here] == [1, 9, 2, 3, None, 4]
    dropped = [r for r in caplog.records if "cannot encode" in r.getMessage()]
    assert len(dropped) == 2 and not any(r.exc_info for r in dropped)
