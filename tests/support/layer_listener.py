"""Another process's subscription to a topic, as Redis sees it: a test listens to what
this process publishes for the others (and what it keeps to itself)."""

import asyncio
import uuid
from typing import Any

import redis.asyncio as aioredis
from channels.layers import get_channel_layer
from django.conf import settings

from coaching.realtime.fanout import group_name


def layer_channel(topic: str) -> str:
    """The Redis channel a topic's broadcasts are published on (channels_redis's name of
    the topic's group)."""
    return f"{settings.CHANNEL_LAYERS['default']['CONFIG']['prefix']}__group__{group_name(topic)}"


class LayerListener:
    """Subscribed to a topic's Redis channel like another process; keeps the decoded
    messages in order."""

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self.origin = uuid.uuid4().bytes
        self.channel = layer_channel(topic)
        self.messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._client = aioredis.Redis.from_url(settings.REDIS_URL)
        self._pubsub = self._client.pubsub()
        self._reading: asyncio.Task | None = None

    async def __aenter__(self) -> "LayerListener":
        await self._pubsub.subscribe(self.channel)
        self._reading = asyncio.get_running_loop().create_task(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._reading.cancel()
        await self._pubsub.aclose()
        await self._client.aclose()

    async def _read(self) -> None:
        layer = get_channel_layer()
        async for item in self._pubsub.listen():
            if item["type"] == "message":
                message = layer.deserialize(item["data"])
                if message.get("origin") != self.origin:  # not its own announcement
                    self.messages.put_nowait(message)

    async def announce(self) -> None:
        """Say, as a process does when it first subscribes, that it listens now."""
        message = {
            "type": "fanout.interest",
            "topic": self.topic,
            "origin": self.origin,
            "nonce": 1,
        }
        await self._client.publish(self.channel, get_channel_layer().serialize(message))

    async def ack(self, interest: dict[str, Any]) -> None:
        """Answer another process's announcement, as a process does once it publishes."""
        message = {
            "type": "fanout.ack",
            "topic": self.topic,
            "to": interest["origin"],
            "from": self.origin,
        }
        await self._client.publish(self.channel, get_channel_layer().serialize(message))

    async def next(self, wait: float = 5.0) -> dict[str, Any]:
        return await asyncio.wait_for(self.messages.get(), wait)
