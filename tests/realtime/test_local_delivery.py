"""Local delivery: a process delivers its own broadcasts to its own sockets and publishes
to Redis only for other processes that listen; every socket still gets a session's
events once and in order, wherever they were made."""

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis
from django.conf import settings

from coaching.realtime import fanout as fanout_module
from coaching.realtime.fanout import fanout
from coaching.realtime.publish import broadcast
from tests.support.layer_listener import LayerListener, layer_channel
from tests.support.phoenix import PhoenixClient
from tests.support.redis_monitor import publishes_on
from tests.support.servers import ServerProcess
from tests.support.subscribers import Collector
from tests.support.waiting import wait_until

pytestmark = pytest.mark.skipif(
    not settings.REDIS_URL, reason="needs REDIS_URL: the processes share Redis"
)

NO_CHAT_LIMIT = {
    "CHAT_RATE_PER_SECOND": "1000",
    "CHAT_RATE_BURST": "1000",
    "CLIENT_EVENTS_PER_SECOND": "1000",
    "CLIENT_EVENTS_BURST": "1000",
}


def chat_seqs(client: PhoenixClient, topic: str, count: int) -> list[tuple[int, str]]:
    """The next `count` chat lines the client is sent: (seq, message), in arrival order."""
    lines = []
    for _ in range(count):
        line = client.event(topic, "chat:added", timeout=15)
        lines.append((line["seq"], line["message"]))
    return lines


def say(sender: PhoenixClient, join_ref: str, topic: str, texts: list[str]) -> None:
    """Chat lines from `sender`, each answered `ok` before the next."""
    for text in texts:
        reply = sender.call(topic, join_ref, "chat:new", {"message": text})
        assert reply["status"] == "ok", reply


@contextmanager
def student_and_coach_joined(
    connect, process: ServerProcess, student, coach, topic: str
) -> Iterator[tuple[PhoenixClient, str, PhoenixClient]]:
    """The student's socket (with its join_ref) and the coach's, both on `process`."""
    with connect(student, on=process) as s, connect(coach, on=process) as c:
        s_ref, _ = s.join_ok(topic)
        c.join_ok(topic)
        yield s, s_ref, c


def test_a_process_with_all_of_a_sessions_sockets_publishes_nothing_for_it(
    spawn_server, connect, student, coach, active_session
):
    topic = active_session.topic
    one, _other = spawn_server(**NO_CHAT_LIMIT), spawn_server(**NO_CHAT_LIMIT)
    with student_and_coach_joined(connect, one, student, coach, topic) as (s, s_ref, c):
        say(s, s_ref, topic, ["first"])  # its PUBLISH shows that nobody else listens
        chat_seqs(c, topic, 1)
        with publishes_on(layer_channel(topic)) as published:
            say(s, s_ref, topic, [f"line {n}" for n in range(20)])
            lines = chat_seqs(c, topic, 20)
    assert [m for _, m in lines] == [f"line {n}" for n in range(20)]
    assert published == []


def listeners(topic: str) -> int:
    """The Redis subscriptions to the topic's channel (one per process that listens)."""
    with redis.Redis.from_url(settings.REDIS_URL) as client:
        return dict(client.pubsub_numsub(layer_channel(topic))).get(
            layer_channel(topic).encode(), 0
        )


def test_a_socket_on_another_process_gets_everything_in_order_and_then_none_is_published(
    spawn_server, connect, student, coach, active_session
):
    topic = active_session.topic
    one, two = spawn_server(**NO_CHAT_LIMIT), spawn_server(**NO_CHAT_LIMIT)
    with student_and_coach_joined(connect, one, student, coach, topic) as (s, s_ref, c):
        say(s, s_ref, topic, [f"alone {n}" for n in range(5)])
        chat_seqs(c, topic, 5)
        # A second tab lands on the other process: it announces itself, and process one
        # publishes the session again before the tab's join reads its snapshot.
        with connect(coach, on=two) as tab:
            tab.join_ok(topic)
            say(s, s_ref, topic, [f"shared {n}" for n in range(10)])
            remote = chat_seqs(tab, topic, 10)
            here = chat_seqs(c, topic, 10)
        assert [m for _, m in remote] == [f"shared {n}" for n in range(10)]
        assert remote == here
        # The tab is gone (its leave, published by process two, has come, and process
        # two no longer listens: it unsubscribes after announcing the leave): after one
        # PUBLISH that reaches nobody else, process one publishes nothing again.
        c.event(topic, "presence:diff", where=lambda diff: diff["leaves"])
        wait_until(
            "process two to stop listening", lambda: listeners(topic), until=lambda n: n == 1
        )
        say(s, s_ref, topic, ["reveals it"])
        chat_seqs(c, topic, 1)
        with publishes_on(layer_channel(topic)) as published:
            say(s, s_ref, topic, [f"alone again {n}" for n in range(5)])
            chat_seqs(c, topic, 5)
    assert published == []


def test_mixed_local_and_remote_chat_under_load_arrives_once_and_in_order_everywhere(
    spawn_server, connect, student, coach, active_session
):
    topic = active_session.topic
    one, two = spawn_server(**NO_CHAT_LIMIT), spawn_server(**NO_CHAT_LIMIT)
    per_sender = 60
    with (
        connect(student, on=one) as s,
        connect(coach, on=one) as c,
        connect(student, on=two) as tab,
    ):
        senders = []
        for client, name in ((s, "s"), (c, "c"), (tab, "t")):
            join_ref, _ = client.join_ok(topic)
            senders.append((client, name, join_ref))
        refs = []
        for n in range(per_sender):  # a burst from both processes at once, nobody waiting
            for client, name, join_ref in senders:
                payload = {"message": f"{name}{n}", "client_msg_id": f"{name}-{n}"}
                refs.append((client, client.push(topic, "chat:new", payload, join_ref)))
        for client, ref in refs:
            reply = client.reply(ref, timeout=30)
            assert reply["status"] == "ok", reply
        total = per_sender * len(senders)
        seen = {name: chat_seqs(client, topic, total) for client, name, _ in senders}
    expected = {f"{name}{n}" for _, name, _ in senders for n in range(per_sender)}
    for lines in seen.values():
        seqs = [seq for seq, _ in lines]
        assert seqs == sorted(set(seqs))  # once each, in seq order
        assert {m for _, m in lines} == expected
        assert lines == seen["s"]  # the same log on every socket, either process


async def test_an_announced_subscription_is_acked_and_the_topic_published_again():
    topic = "session:sess_local_delivery_interest"
    here = Collector()
    await fanout.subscribe(topic, here)
    try:
        await broadcast(topic, "chat:added", {"seq": 1})  # reaches only us: local from now
        async with LayerListener(topic) as other_process:
            await broadcast(topic, "chat:added", {"seq": 2})
            await other_process.announce()
            ack = await other_process.next()
            await broadcast(topic, "chat:added", {"seq": 3})
            published = await other_process.next()
        received = [(await here.next())["payload"]["seq"] for _ in range(3)]
    finally:
        await fanout.unsubscribe(topic, here)
    assert (ack["type"], ack["to"]) == ("fanout.ack", other_process.origin)
    assert published["payload"] == {"seq": 3}  # 2 was not published: nobody had said so
    assert received == [1, 2, 3]


async def test_a_subscription_acked_late_goes_on_and_its_joins_catch_up_when_the_ack_comes(
    monkeypatch,
):
    monkeypatch.setattr(fanout_module, "ACK_TIMEOUT", 0.3)
    topic = "session:sess_local_delivery_late_ack"
    here = Collector()
    async with LayerListener(topic) as stalled_process:  # hears, but does not answer yet
        await asyncio.wait_for(fanout.subscribe(topic, here), 5)  # goes on after 0.3 s
        try:
            interest = await stalled_process.next()
            assert here.queue.empty()
            await stalled_process.ack(interest)
            assert await here.next() == {"type": "catch_up"}
        finally:
            await fanout.unsubscribe(topic, here)
    assert interest["type"] == "fanout.interest"


async def test_a_subscription_whose_first_announcement_went_unheard_announces_again_soon(
    monkeypatch,
):
    # Its SUBSCRIBE lost the race to its first PUBLISH (as a few topics do in a join
    # storm): that announcement's echo never comes. The next one goes out after
    # ECHO_FIRST, not after ECHO_TIMEOUT (made an hour here, so only that can pass).
    monkeypatch.setattr(fanout_module, "ECHO_TIMEOUT", 3600.0)
    unheard: list[int] = []
    heard_echo = fanout_module._Announcement.heard_echo

    def lose_the_first(announcement, nonce: int) -> None:
        if not unheard:
            unheard.append(nonce)
            return
        heard_echo(announcement, nonce)

    monkeypatch.setattr(fanout_module._Announcement, "heard_echo", lose_the_first)
    topic = "session:sess_local_delivery_unheard_echo"
    here = Collector()
    try:
        await asyncio.wait_for(fanout.subscribe(topic, here), 10)
    finally:
        await fanout.unsubscribe(topic, here)
    assert len(unheard) == 1
