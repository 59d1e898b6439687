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

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
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


async def subscribe(channel_name: str, topic: str) -> None:
    await get_channel_layer().group_add(group_name(topic), channel_name)


async def unsubscribe(channel_name: str, topic: str) -> None:
    await get_channel_layer().group_discard(group_name(topic), channel_name)


async def send_to_channel(channel_name: str, message: dict[str, Any]) -> None:
    await get_channel_layer().send(channel_name, message)


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
            topic, event, payload = await queue.get()
            try:
                await broadcast(topic, event, payload)
            except Exception:
                logger.exception("broadcast of %s to %s failed", event, topic)

    def put(self, topic: str, event: str, payload: dict[str, Any]) -> None:
        loop, queue = self._loop, self._queue
        if loop is not None and queue is not None and loop.is_running() and not loop.is_closed():
            try:
                in_loop_thread = asyncio.get_running_loop() is loop
            except RuntimeError:
                in_loop_thread = False
            if not in_loop_thread:
                loop.call_soon_threadsafe(queue.put_nowait, (topic, event, payload))
                return
        # No server loop in this process (management commands, plain WSGI).
        async_to_sync(broadcast)(topic, event, payload)


outbox = _Outbox()


def broadcast_from_sync(topic: str, event: str, payload: dict[str, Any]) -> None:
    outbox.put(topic, event, payload)


def broadcast_on_commit(topic: str, event: str, payload: dict[str, Any]) -> None:
    """Broadcast once the surrounding transaction commits (never for a rolled-back one)."""
    transaction.on_commit(partial(broadcast_from_sync, topic, event, payload))
