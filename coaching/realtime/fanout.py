"""This process's side of broadcasting: local delivery first, Redis only for the others.

Channels' usual pattern gives every consumer its own layer channel and group
membership, so each broadcast is decoded, dispatched and encoded once per socket,
and each socket costs a Redis subscription at connect. Here the process has one
layer channel; a topic's group is joined once, by its first local subscriber, and
each broadcast is handed to every local subscriber of its topic as one message
object, so a frame is encoded once per wire version.

A process delivers its own broadcasts to its own subscribers directly, in the order
they were made (as Phoenix.PubSub and Socket.IO's Redis adapter do), and publishes a
broadcast to Redis only while another process may have subscribers of its topic; its
own echo, tagged with this process's origin, is dropped without being decoded.
Knowing who else listens: a PUBLISH answers how many subscriptions received it, and
one that reached only ours marks the topic local. A process that subscribes to a
topic announces it (`interest`) on the topic's channel, until it hears its own
announcement (then its subscription was in effect when Redis counted the receivers),
and waits, before its join reads anything, for every other receiver to answer (`ack`)
once it publishes the topic again: what a process kept to itself before was committed
before the newcomer reads its snapshot. An ack later than ACK_TIMEOUT has the topic's
joins here catch up from the log (as after a broken subscription).
"""

import asyncio
import contextlib
import logging
import re
import time
import uuid
from itertools import count
from typing import Any, Protocol

import msgpack
from channels.layers import get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.conf import settings

from coaching.realtime.delivery_watch import delivery_watch
from coaching.realtime.redis_client import PerLoop

logger = logging.getLogger(__name__)

# Longest wait for the channel layer (Redis) when a socket opens or a topic is joined;
# past it the client is refused with `unavailable` and retries, rather than wait. A
# backstop for a hang: the Redis clients' own timeouts (redis_client.py) find a dead
# Redis in seconds, while a process in a reconnect storm (5,000 sockets at once: 30-40 s
# until the last join on this machine) must not refuse joins it would serve.
LAYER_TIMEOUT = 60.0
# Longest wait for the other processes' acks of a new subscription (a loop stalled by
# a join storm answers late). Past it the join goes on (logged), and when the late ack
# comes the topic's joins here catch up from the log: nothing kept back is lost.
ACK_TIMEOUT = 5.0
# How long a new subscription waits to hear its own announcement before it announces
# again (its SUBSCRIBE, sent on another connection, may not have taken effect yet): first
# ECHO_FIRST, then twice as long each time up to ECHO_TIMEOUT. A SUBSCRIBE that lost the
# race to its first PUBLISH (a few topics in a storm of 1,000 joins) costs its joins a
# quarter of a second, not ECHO_TIMEOUT; a loop lagging under a join storm still
# announces only a few times.
ECHO_FIRST = 0.25
ECHO_TIMEOUT = 5.0

BROADCAST_TYPE = "topic.broadcast"
_INTEREST, _ACK = "fanout.interest", "fanout.ack"
# This process in the broadcasts it publishes, as their first key: its own echo is
# recognised by its first bytes (msgpack writes keys in order) and dropped undecoded.
ORIGIN = uuid.uuid4().bytes
_ECHO = msgpack.packb({"origin": ORIGIN})[1:]  # without the map's length
_ECHO_END = 1 + len(_ECHO)
_GROUP_UNSAFE = re.compile(r"[^a-zA-Z0-9_.-]")


def group_name(topic: str) -> str:
    """Channels group for a topic (`session:abc` → `t.session.abc`)."""
    return "t." + _GROUP_UNSAFE.sub("-", topic.replace(":", "."))[:90]


def message_for(topic: str, event: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The broadcast as subscribers get it; `published_at` (epoch s) times its delivery
    (coaching.prometheus)."""
    return {
        "type": BROADCAST_TYPE,
        "topic": topic,
        "event": event,
        "payload": payload,
        "published_at": time.time(),
    }


_publishers = PerLoop(settings.REDIS_URL)


def _redis_layer() -> RedisPubSubChannelLayer | None:
    layer = get_channel_layer()
    return layer if isinstance(layer, RedisPubSubChannelLayer) else None


async def confirm_layer() -> None:
    """Raise if the channel layer's Redis does not answer. A pub/sub SUBSCRIBE is sent
    without waiting for its answer, so it "succeeds" on a connection to a Redis that
    has just died: ask Redis something."""
    if _redis_layer() is not None:
        await _publishers.get().ping()


class Subscriber(Protocol):
    def deliver(self, message: dict[str, Any]) -> None:
        """Take a broadcast (`message_for`: type, topic, event, payload) without
        waiting: queue it, or arrange to drop the subscription."""

    def catch_up(self) -> None:
        """Broadcasts may have been missed: recover them (from the log), in order."""


class _Announcement:
    """The `interest`s a new subscription of this process published, and what came back."""

    def __init__(self) -> None:
        self.listeners: dict[int, int] = {}  # nonce → how many subscriptions received it
        self.heard: set[int] = set()  # nonces that came back (maybe before their count)
        self.echoed: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.ackers: set[bytes] = set()  # the processes that answered
        self.acked = asyncio.Event()
        self.late = False  # the join went on without every ack

    def counted(self, nonce: int, listeners: int) -> None:
        self.listeners[nonce] = listeners
        self._settle(nonce)

    def heard_echo(self, nonce: int) -> None:
        """Our own interest came back: our subscription was in effect when it was counted."""
        self.heard.add(nonce)
        self._settle(nonce)

    def _settle(self, nonce: int) -> None:
        if nonce in self.heard and nonce in self.listeners and not self.echoed.done():
            self.echoed.set_result(self.listeners[nonce])

    def heard_ack(self, acker: bytes) -> None:
        self.ackers.add(acker)
        self.acked.set()

    async def wait_for(self, needed: int) -> None:
        while len(self.ackers) < needed:
            self.acked.clear()
            await self.acked.wait()


_nonces = count(1)


class Fanout:
    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._started: asyncio.Task | None = None  # makes the channel, once per loop
        self._channel: str | None = None
        self._receiving: asyncio.Task | None = None
        self._subscribers: dict[str, dict[Subscriber, None]] = {}  # ordered sets
        # Topic → the task adding our channel to its group, shared by whoever waits for
        # it (no lock: a join storm would queue every join behind every other).
        self._groups: dict[str, asyncio.Task] = {}
        self._confirming: asyncio.Task | None = None
        # Subscribed topics no other process listens to (the last PUBLISH reached only
        # us, and no interest came since): their broadcasts stay in this process.
        self._local_only: set[str] = set()
        self._interests: dict[str, int] = {}  # topic → interests heard (a generation)
        self._announced: dict[str, _Announcement] = {}  # topic → our new subscription's
        self._acking: set[asyncio.Task] = set()

    async def start(self) -> None:
        """Make sure this loop has the process channel and its reader."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop, self._started, self._channel = loop, None, None
            self._subscribers, self._groups, self._confirming = {}, {}, None
            self._local_only, self._interests, self._announced = set(), {}, {}
        if self._started is None or (self._started.done() and self._started.exception()):
            self._started = loop.create_task(self._make_channel())
        await asyncio.shield(self._started)

    async def _make_channel(self) -> None:
        layer = _redis_layer()
        if layer is None:
            return  # in memory: one process, local delivery is all there is
        self._channel = await layer.new_channel()
        # The channel's subscription made the connection.
        delivery_watch.watch(layer, self.forget_listeners)
        self._receiving = asyncio.get_running_loop().create_task(
            self._receive(layer, self._channel)
        )

    async def confirm(self) -> None:
        """Raise if the channel layer does not answer; concurrent callers share one ask."""
        if self._confirming is None or self._confirming.done():
            self._confirming = asyncio.get_running_loop().create_task(confirm_layer())
        await asyncio.shield(self._confirming)

    async def subscribe(self, topic: str, subscriber: Subscriber) -> None:
        """Deliver the topic's broadcasts to `subscriber` from now on. Once this returns,
        every broadcast published afterwards reaches it; raises if Redis does not answer."""
        await self.start()
        self._subscribers.setdefault(topic, {})[subscriber] = None
        joined = self._groups.get(topic)
        try:
            if joined is None:
                joined = self._groups[topic] = asyncio.get_running_loop().create_task(
                    self._join_group(topic)
                )
            await asyncio.shield(joined)
            await self.confirm()
        except BaseException:
            if self._groups.get(topic) is joined and joined.done() and not joined.cancelled():
                if joined.exception() is not None:
                    del self._groups[topic]  # the next subscriber tries again
            with contextlib.suppress(Exception):  # the first error is the one to report
                await self.unsubscribe(topic, subscriber)
            raise

    async def _join_group(self, topic: str) -> None:
        layer = _redis_layer()
        if layer is None:
            return
        await layer.group_add(group_name(topic), self._channel)
        announced = self._announced[topic] = _Announcement()
        async with asyncio.timeout(LAYER_TIMEOUT):  # then the next subscriber tries again
            wait = ECHO_FIRST
            while not announced.echoed.done():
                nonce = next(_nonces)
                interest = {"type": _INTEREST, "topic": topic, "origin": ORIGIN, "nonce": nonce}
                announced.counted(nonce, await self._publish(layer, topic, interest))
                # Its echo, or that of an earlier one (whose count is then the right one).
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await asyncio.shield(announced.echoed)
                wait = min(2 * wait, ECHO_TIMEOUT)
            listeners = announced.echoed.result()
        try:
            async with asyncio.timeout(ACK_TIMEOUT):
                await announced.wait_for(listeners - 1)  # every subscription but ours
        except TimeoutError:
            announced.late = True
            logger.warning(
                "%s: %d of %d processes acked the subscription within %.0f s; the joins "
                "here catch up when the others do",
                topic,
                len(announced.ackers),
                listeners - 1,
                ACK_TIMEOUT,
            )

    async def unsubscribe(self, topic: str, subscriber: Subscriber) -> None:
        subscribers = self._subscribers.get(topic)
        if subscribers is None:
            return
        subscribers.pop(subscriber, None)
        if subscribers:
            return
        del self._subscribers[topic]
        self._local_only.discard(topic)  # nobody here hears interests in it any more
        self._interests.pop(topic, None)
        self._announced.pop(topic, None)
        if self._groups.pop(topic, None) is not None and (layer := _redis_layer()) is not None:
            # Made before any later group_add of the topic: the layer sends them in order.
            await layer.group_discard(group_name(topic), self._channel)

    def forget_listeners(self) -> None:
        """Our subscriptions were broken (interests may have gone unheard): publish
        every topic again until a PUBLISH shows that nobody else listens."""
        self._local_only.clear()

    def deliver_local(self, topic: str, event: str, payload: dict[str, Any]) -> None:
        """A broadcast to this process's subscribers only, without a round trip through
        Redis: it arrives even while the layer's subscriptions are being re-established."""
        self._deliver(message_for(topic, event, payload))

    async def dispatch(self, items: list[tuple[str, str, dict[str, Any]]]) -> None:
        """This process's broadcasts, in order: each to the local subscribers of its
        topic at once, then, in one pipelined round trip, to Redis those of topics that
        another process may listen to. A broadcast that cannot be encoded for Redis is
        dropped there with one log line; the others go. Raises what publishing raised
        (the local deliveries are made)."""
        layer = _redis_layer()
        remote: list[tuple[str, bytes]] = []
        for topic, event, payload in items:
            message = message_for(topic, event, payload)
            if topic in self._subscribers:
                self._deliver(message)
            if layer is None or topic in self._local_only:
                continue
            try:
                data = layer.serialize({"origin": ORIGIN, **message})
            except Exception as exc:  # the encoder raises OverflowError, TypeError, ValueError…
                logger.error(
                    "broadcast of %s on %s dropped: cannot encode it: %r", event, topic, exc
                )
                continue
            remote.append((topic, data))
        if not remote:
            return
        loop_layer = layer._get_layer()
        generations = {topic: self._interests.get(topic, 0) for topic, _ in remote}
        async with _publishers.get().pipeline(transaction=False) as pipe:
            for topic, data in remote:
                pipe.publish(loop_layer._get_group_channel_name(group_name(topic)), data)
            receivers = await pipe.execute()
        for (topic, _), reached in zip(remote, receivers, strict=True):
            # Only ours: unless an interest came meanwhile, or we are not subscribed
            # (then ours is not the one that received it, and we would hear no interest).
            if (
                reached == 1
                and generations[topic] == self._interests.get(topic, 0)
                and self._subscribed(topic)
            ):
                self._local_only.add(topic)

    def _subscribed(self, topic: str) -> bool:
        joined = self._groups.get(topic)
        return (
            topic in self._subscribers
            and joined is not None
            and joined.done()
            and not joined.cancelled()
            and joined.exception() is None
        )

    async def _publish(
        self, layer: RedisPubSubChannelLayer, topic: str, message: dict[str, Any]
    ) -> int:
        """One control message on the topic's channel; how many subscriptions got it."""
        channel = layer._get_layer()._get_group_channel_name(group_name(topic))
        return await _publishers.get().publish(channel, layer.serialize(message))

    def _deliver(self, message: dict[str, Any]) -> None:
        for subscriber in list(self._subscribers.get(message["topic"], ())):
            try:
                subscriber.deliver(message)
            except Exception:
                logger.exception("delivery on %s failed", message["topic"])

    def _heard_interest(self, layer: RedisPubSubChannelLayer, message: dict[str, Any]) -> None:
        """Another process subscribed: publish the topic from now on, then tell it so.
        Our own: our subscription is in effect."""
        topic = message["topic"]
        if message["origin"] == ORIGIN:
            if (announced := self._announced.get(topic)) is not None:
                announced.heard_echo(message["nonce"])
            return
        self._interests[topic] = self._interests.get(topic, 0) + 1
        self._local_only.discard(topic)
        ack = {"type": _ACK, "topic": topic, "to": message["origin"], "from": ORIGIN}
        task = asyncio.get_running_loop().create_task(self._publish(layer, topic, ack))
        self._acking.add(task)
        task.add_done_callback(self._acked)

    def _heard_ack(self, message: dict[str, Any]) -> None:
        topic = message["topic"]
        announced = self._announced.get(topic)
        if announced is None:
            return
        announced.heard_ack(message["from"])
        if announced.late:  # the joins went on without it: what was kept back is logged
            logger.warning("%s: a late ack; the joins here catch up", topic)
            for subscriber in list(self._subscribers.get(topic, ())):
                subscriber.catch_up()

    def _acked(self, task: asyncio.Task) -> None:
        self._acking.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.warning("ack of a subscription failed: %r", task.exception())

    async def _receive(self, layer: RedisPubSubChannelLayer, channel: str) -> None:
        # The raw published bytes, as channels_redis 4.3 (pinned) queues them for the
        # channel: our own echo is dropped before it is decoded.
        queue = layer._get_layer().channels[channel]
        while True:
            data = await queue.get()
            if data[1:_ECHO_END] == _ECHO:
                continue
            try:
                message = layer.deserialize(data)
            except Exception:
                logger.exception("channel layer message not decoded")
                continue
            kind = message.get("type")
            if kind == BROADCAST_TYPE:
                if message.get("origin") != ORIGIN:  # (an encrypted echo is decoded)
                    self._deliver(message)
            elif kind == _INTEREST:
                self._heard_interest(layer, message)
            elif kind == _ACK and message.get("to") == ORIGIN:
                self._heard_ack(message)


fanout = Fanout()
