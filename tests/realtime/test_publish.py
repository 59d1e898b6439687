"""Publishing: broadcasts reach a topic's subscribers, in order, on any layer."""

from channels.layers import get_channel_layer

from coaching.realtime.publish import broadcast_many, subscribe, unsubscribe


async def test_broadcast_many_arrives_in_order_through_the_configured_layer():
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await subscribe(channel, "session:sess_publish_test")
    try:
        items = [("session:sess_publish_test", "chat:added", {"seq": n}) for n in range(1, 6)]
        items.insert(2, ("session:sess_other", "chat:added", {"seq": 99}))
        await broadcast_many(items)
        received = [await layer.receive(channel) for _ in range(5)]
    finally:
        await unsubscribe(channel, "session:sess_publish_test")
    assert [m["payload"]["seq"] for m in received] == [1, 2, 3, 4, 5]
    assert {m["type"] for m in received} == {"topic.broadcast"}
    assert {m["topic"] for m in received} == {"session:sess_publish_test"}
