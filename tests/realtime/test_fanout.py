"""Fanout: a process subscribes to a topic once, whatever its number of local subscribers,
and hands each broadcast, decoded once, to all of them."""

import asyncio

import pytest

from coaching.realtime.fanout import fanout
from coaching.realtime.publish import broadcast
from tests.support.subscribers import Collector

TOPIC = "session:sess_fanout_test"


async def test_every_local_subscriber_gets_the_same_message_object():
    first, second = Collector(), Collector()
    await fanout.subscribe(TOPIC, first)
    await fanout.subscribe(TOPIC, second)
    try:
        await broadcast(TOPIC, "chat:added", {"seq": 1})
        one, two = await first.next(), await second.next()
    finally:
        await fanout.unsubscribe(TOPIC, first)
        await fanout.unsubscribe(TOPIC, second)
    assert one is two  # so a frame is encoded once per wire version, not per socket
    assert (one["event"], one["payload"]) == ("chat:added", {"seq": 1})


async def test_the_topic_keeps_flowing_until_its_last_local_subscriber_leaves():
    staying, leaving = Collector(), Collector()
    await fanout.subscribe(TOPIC, staying)
    await fanout.subscribe(TOPIC, leaving)
    await fanout.unsubscribe(TOPIC, leaving)
    try:
        await broadcast(TOPIC, "chat:added", {"seq": 2})
        assert (await staying.next())["payload"] == {"seq": 2}
        assert leaving.queue.empty()
    finally:
        await fanout.unsubscribe(TOPIC, staying)
    # Gone for good: a new subscriber starts from what is published after it came.
    late = Collector()
    await broadcast(TOPIC, "chat:added", {"seq": 3})
    await fanout.subscribe(TOPIC, late)
    try:
        await broadcast(TOPIC, "chat:added", {"seq": 4})
        assert (await late.next())["payload"] == {"seq": 4}
    finally:
        await fanout.unsubscribe(TOPIC, late)


async def test_concurrent_first_subscribers_each_get_what_is_published_after_they_return():
    collectors = [Collector() for _ in range(5)]
    await asyncio.gather(*(fanout.subscribe(TOPIC, c) for c in collectors))
    try:
        await broadcast(TOPIC, "chat:added", {"seq": 5})
        received = [await c.next() for c in collectors]
    finally:
        for c in collectors:
            await fanout.unsubscribe(TOPIC, c)
    assert [m["payload"] for m in received] == [{"seq": 5}] * 5


async def test_a_local_delivery_skips_redis_and_other_topics():
    here, elsewhere = Collector(), Collector()
    await fanout.subscribe(TOPIC, here)
    await fanout.subscribe("session:sess_fanout_other", elsewhere)
    try:
        fanout.deliver_local(TOPIC, "presence:state", {"1": {"metas": []}})
        assert (await here.next())["event"] == "presence:state"
        with pytest.raises(TimeoutError):
            await elsewhere.next(wait=0.2)
    finally:
        await fanout.unsubscribe(TOPIC, here)
        await fanout.unsubscribe("session:sess_fanout_other", elsewhere)
