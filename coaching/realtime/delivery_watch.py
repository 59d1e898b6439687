"""Catching up after this process's channel-layer subscriptions were broken.

Delivery through Redis pub/sub is at most once: whatever is published while this
process's subscriber connection is down (a Redis restart, a cut network, Redis
dropping a subscriber that fell behind) never reaches it. A client notices a lost
chat line only when a later one arrives (gap repair by seq), so the last lines
before a quiet moment, a lost `disconnect` or a lost review state would stay lost.

The subscriber connection itself tells when that may have happened: redis-py
re-subscribes it on reconnect and then calls the connect callbacks registered on
it. Ours asks every open socket of this process to catch up from the database and
from the shared state (see `PhoenixSocket.catch_up`).
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable

from channels.layers import BaseChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer

logger = logging.getLogger(__name__)


class DeliveryWatch:
    """Calls the `on_reconnect` coroutine function given to `catch_up_with` each time a
    watched subscriber connection reconnects, after its subscriptions were sent again."""

    def __init__(self) -> None:
        self._on_reconnect: Callable[[], Awaitable[None]] | None = None
        self._forget: Callable[[], None] | None = None
        self._running: set[asyncio.Task] = set()

    def catch_up_with(self, on_reconnect: Callable[[], Awaitable[None]]) -> None:
        """What to run after a reconnect (the transport: every socket catches up)."""
        self._on_reconnect = on_reconnect

    def watch(self, layer: BaseChannelLayer, forget_listeners: Callable[[], None]) -> None:
        """Register on the layer's subscriber connections of the running loop: once its
        first subscription exists (the connection is made by it). `forget_listeners` is
        called first thing on a reconnect: what the fanout knew of the other processes'
        subscriptions may be stale (their announcements went unheard)."""
        if not isinstance(layer, RedisPubSubChannelLayer):
            return  # in memory: nothing is lost on the way
        self._forget = forget_listeners
        # channels_redis 4.3 (pinned) keeps one redis-py PubSub per shard; its connection
        # object lives on across reconnects, and redis-py keeps callbacks as weak methods.
        for shard in layer._get_layer()._shards:
            pubsub = shard._pubsub
            if pubsub is not None and pubsub.connection is not None:
                pubsub.connection.register_connect_callback(self._reconnected)

    def _reconnected(self, connection: object) -> None:
        # Called inside the connection's connect(): return at once, catch up in a task.
        if self._forget is not None:
            self._forget()
        if self._on_reconnect is None:
            return
        logger.warning("channel layer: subscriptions restored; open sockets catch up")
        task = asyncio.get_running_loop().create_task(self._on_reconnect())
        self._running.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task) -> None:
        self._running.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("catch-up after a layer reconnect failed", exc_info=task.exception())


delivery_watch = DeliveryWatch()
