"""Broadcasts to a topic's subscribers on every server process.

The only module that calls the channel layer. Delivery through the layer is at
most once; persisted events carry a `seq` and clients recover what they miss.
"""

import asyncio
import logging
import re
import threading
from functools import partial
from typing import Any

import redis.asyncio
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)

BROADCAST_TYPE = "topic.broadcast"
_GROUP_UNSAFE = re.compile(r"[^a-zA-Z0-9_.-]")


def group_name(topic: str) -> str:
    """Channels group for a topic (`session:abc` → `t.session.abc`)."""
    return "t." + _GROUP_UNSAFE.sub("-", topic.replace(":", "."))[:90]


def _message(topic: str, event: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"type": BROADCAST_TYPE, "topic": topic, "event": event, "payload": payload}


async def broadcast(topic: str, event: str, payload: dict[str, Any]) -> None:
    await get_channel_layer().group_send(group_name(topic), _message(topic, event, payload))


async def broadcast_many(items: list[tuple[str, str, dict[str, Any]]]) -> None:
    """Several broadcasts, in order. On Redis, one pipelined round trip for all of them.

    The pub/sub layer publishes one message per round trip under a lock, which caps a
    busy process at a few hundred broadcasts a second; this writes the same PUBLISH
    commands (the layer's own channel names and serialization) in one pipeline.
    """
    layer = get_channel_layer()
    if not isinstance(layer, RedisPubSubChannelLayer) or len(items) == 1:
        for topic, event, payload in items:
            await broadcast(topic, event, payload)
        return
    loop_layer = layer._get_layer()
    async with _publisher().pipeline(transaction=False) as pipe:
        for topic, event, payload in items:
            pipe.publish(
                loop_layer._get_group_channel_name(group_name(topic)),
                layer.serialize(_message(topic, event, payload)),
            )
        await pipe.execute()


_publishers: dict[asyncio.AbstractEventLoop, redis.asyncio.Redis] = {}


def _publisher() -> redis.asyncio.Redis:
    loop = asyncio.get_running_loop()
    if loop not in _publishers:
        _publishers[loop] = redis.asyncio.Redis.from_url(settings.REDIS_URL)
    return _publishers[loop]


async def subscribe(channel_name: str, topic: str) -> None:
    await get_channel_layer().group_add(group_name(topic), channel_name)


async def unsubscribe(channel_name: str, topic: str) -> None:
    await get_channel_layer().group_discard(group_name(topic), channel_name)


class _Outbox:
    """Hands broadcasts from sync code (services in worker threads) to the event loop.

    One queue drained by one task keeps this process's broadcasts in the order
    they were made, and the caller's thread does not wait for Redis.
    """

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue | None = None
        self._lock = threading.Lock()
        self._drainer: asyncio.Task | None = None

    def bind(self) -> None:
        """Called on the server's event loop; (re)binds the outbox to it."""
        loop = asyncio.get_running_loop()
        if self._loop is loop:
            return
        with self._lock:
            self._queue = asyncio.Queue()
            self._loop = loop
            self._drainer = loop.create_task(self._drain(self._queue))

    async def _drain(self, queue: asyncio.Queue) -> None:
        while True:
            items = [await queue.get()]
            while not queue.empty() and len(items) < 500:
                items.append(queue.get_nowait())
            try:
                await broadcast_many(items)
            except Exception:
                logger.exception("%d broadcasts failed", len(items))

    def put(self, topic: str, event: str, payload: dict[str, Any]) -> None:
        loop, queue = self._loop, self._queue
        if loop is not None and queue is not None and loop.is_running() and not loop.is_closed():
            try:
                in_loop_thread = asyncio.get_running_loop() is loop
            except RuntimeError:
                in_loop_thread = False
            if in_loop_thread:
                queue.put_nowait((topic, event, payload))
            else:
                loop.call_soon_threadsafe(queue.put_nowait, (topic, event, payload))
            return
        # No server loop in this process (management commands, plain WSGI).
        async_to_sync(broadcast)(topic, event, payload)


outbox = _Outbox()


def broadcast_from_sync(topic: str, event: str, payload: dict[str, Any]) -> None:
    outbox.put(topic, event, payload)


def broadcast_queued(topic: str, event: str, payload: dict[str, Any]) -> None:
    """From code on the server's event loop: broadcast behind this process's earlier ones."""
    outbox.bind()
    broadcast_from_sync(topic, event, payload)


def broadcast_on_commit(topic: str, event: str, payload: dict[str, Any]) -> None:
    """Broadcast once the surrounding transaction commits (never for a rolled-back one)."""
    transaction.on_commit(partial(broadcast_from_sync, topic, event, payload))
