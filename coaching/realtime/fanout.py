"""This process's side of broadcasting: one channel-layer subscription per topic, shared.

Channels' usual pattern gives every consumer its own layer channel and group
membership, so each broadcast is decoded, dispatched and encoded once per socket,
and each socket costs a Redis subscription at connect. Here the process has one
layer channel; a topic's group is joined once, by its first local subscriber, and
each broadcast is decoded once and handed to every local subscriber of its topic
(the same message object, so a frame is encoded once per wire version).
"""

import asyncio
import contextlib
import logging
from typing import Any, Protocol

from channels.layers import BaseChannelLayer, get_channel_layer

from coaching.realtime.delivery_watch import delivery_watch
from coaching.realtime.publish import confirm_layer, group_name, message_for

logger = logging.getLogger(__name__)

# Longest wait for the channel layer (Redis) when a socket opens or a topic is joined;
# past it the client is refused with `unavailable` and retries, rather than wait. A
# backstop for a hang: the Redis clients' own timeouts (redis_client.py) find a dead
# Redis in seconds, while a process in a reconnect storm (5,000 sockets at once: 30-40 s
# until the last join on this machine) must not refuse joins it would serve.
LAYER_TIMEOUT = 60.0


class Subscriber(Protocol):
    def deliver(self, message: dict[str, Any]) -> None:
        """Take a broadcast (`publish` message: type, topic, event, payload) without
        waiting: queue it, or arrange to drop the subscription."""


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

    async def start(self) -> None:
        """Make sure this loop has the process channel and its reader."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop, self._started, self._channel = loop, None, None
            self._subscribers, self._groups, self._confirming = {}, {}, None
        if self._started is None or (self._started.done() and self._started.exception()):
            self._started = loop.create_task(self._make_channel())
        await asyncio.shield(self._started)

    async def _make_channel(self) -> None:
        layer = get_channel_layer()
        self._channel = await layer.new_channel()
        delivery_watch.watch(layer)  # the channel's subscription made the connection
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
                    get_channel_layer().group_add(group_name(topic), self._channel)
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

    async def unsubscribe(self, topic: str, subscriber: Subscriber) -> None:
        subscribers = self._subscribers.get(topic)
        if subscribers is None:
            return
        subscribers.pop(subscriber, None)
        if subscribers:
            return
        del self._subscribers[topic]
        if self._groups.pop(topic, None) is not None:
            # Made before any later group_add of the topic: the layer sends them in order.
            await get_channel_layer().group_discard(group_name(topic), self._channel)

    def deliver_local(self, topic: str, event: str, payload: dict[str, Any]) -> None:
        """A broadcast to this process's subscribers only, without a round trip through
        Redis: it arrives even while the layer's subscriptions are being re-established."""
        self._deliver(message_for(topic, event, payload))

    def _deliver(self, message: dict[str, Any]) -> None:
        for subscriber in list(self._subscribers.get(message["topic"], ())):
            try:
                subscriber.deliver(message)
            except Exception:
                logger.exception("delivery on %s failed", message["topic"])

    async def _receive(self, layer: BaseChannelLayer, channel: str) -> None:
        while True:
            try:
                message = await layer.receive(channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("channel layer receive failed")
                await asyncio.sleep(0.1)
                continue
            self._deliver(message)


fanout = Fanout()
