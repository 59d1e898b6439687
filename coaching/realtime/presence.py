"""Who is connected to which topic, in the Phoenix Presence format.

An entry is one connection's join: key = user id, one meta per connection,
told apart by a unique `phx_ref`. Every track and untrack is announced as a
`presence:diff` broadcast. With `REDIS_URL` the entries live in Redis, shared by
all server processes; each process keeps a heartbeat key alive, and when one
stops (crash, SIGKILL) the others remove its entries and announce the leaves
within PRESENCE_NODE_TTL + PRESENCE_HEARTBEAT seconds.
"""

import asyncio
import json
import logging
import secrets
import time
import uuid
from collections import defaultdict
from typing import Any

import redis.asyncio as aioredis
from django.conf import settings

from coaching.realtime.lifecycle import on_server_shutdown
from coaching.realtime.publish import broadcast

logger = logging.getLogger(__name__)

PRESENCE_STATE = "presence:state"
PRESENCE_DIFF = "presence:diff"

Meta = dict[str, Any]
State = dict[str, dict[str, list[Meta]]]


def new_ref() -> str:
    return secrets.token_urlsafe(12)


def group_state(entries: list[tuple[str, Meta]]) -> State:
    state: dict[str, dict[str, list[Meta]]] = defaultdict(lambda: {"metas": []})
    for key, meta in sorted(entries, key=lambda e: e[1].get("online_at", 0)):
        state[key]["metas"].append(meta)
    return dict(state)


def diff(joins: list[tuple[str, Meta]], leaves: list[tuple[str, Meta]]) -> dict[str, State]:
    return {"joins": group_state(joins), "leaves": group_state(leaves)}


class MemoryPresence:
    """One process: entries in a dict. For development and single-process runs."""

    def __init__(self) -> None:
        self._topics: dict[str, dict[str, tuple[str, Meta]]] = defaultdict(dict)
        self._marks: dict[str, float] = {}

    async def track(self, topic: str, key: str, meta: Meta) -> bool:
        """Add a connection; True when it is the key's first in the topic."""
        entries = self._topics[topic]
        first = all(k != key for k, _ in entries.values())
        entries[meta["phx_ref"]] = (key, meta)
        await broadcast(topic, PRESENCE_DIFF, diff([(key, meta)], []))
        return first

    async def untrack(self, topic: str, ref: str) -> dict[str, State] | None:
        """Remove a connection; returns the leave diff it broadcast (None if gone already)."""
        entry = self._topics.get(topic, {}).pop(ref, None)
        if not self._topics.get(topic):
            self._topics.pop(topic, None)
        if entry is None:
            return None
        leave = diff([], [entry])
        await broadcast(topic, PRESENCE_DIFF, leave)
        return leave

    async def list(self, topic: str) -> State:
        return group_state(list(self._topics.get(topic, {}).values()))

    async def mark_once(self, name: str, ttl: float) -> bool:
        now = time.monotonic()
        if self._marks.get(name, 0) > now:
            return False
        self._marks[name] = now + ttl
        return True


class RedisPresence:
    """Several processes: entries in Redis hashes, reaped when their process dies."""

    def __init__(self, url: str, prefix: str, heartbeat: float, node_ttl: float) -> None:
        self._url = url
        self._prefix = f"{prefix}:presence"
        self._heartbeat = heartbeat
        self._ttl_ms = int(node_ttl * 1000)
        self.node = uuid.uuid4().hex
        self._local: dict[str, tuple[str, str, Meta]] = {}  # ref -> (topic, key, meta)
        self._clients: dict[asyncio.AbstractEventLoop, aioredis.Redis] = {}
        self._beating: asyncio.Task | None = None

    # -- keys --
    def _topic_key(self, topic: str) -> str:
        return f"{self._prefix}:topic:{topic}"

    def _node_refs_key(self, node: str) -> str:
        return f"{self._prefix}:node:{node}:refs"

    def _alive_key(self, node: str) -> str:
        return f"{self._prefix}:node:{node}:alive"

    @property
    def _nodes_key(self) -> str:
        return f"{self._prefix}:nodes"

    def _redis(self) -> aioredis.Redis:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            # Blocking: a burst (a reconnect storm) waits for a free connection
            # instead of failing joins and leaves with "Too many connections".
            pool = aioredis.BlockingConnectionPool.from_url(
                self._url,
                max_connections=settings.REDIS_MAX_CONNECTIONS,
                timeout=30,
                decode_responses=True,
            )
            client = aioredis.Redis(connection_pool=pool)
            self._clients = {lp: c for lp, c in self._clients.items() if not lp.is_closed()}
            self._clients[loop] = client
        return client

    async def _ensure_heartbeat(self) -> None:
        if self._beating is None or self._beating.done() or self._beating.get_loop().is_closed():
            if self._beating is None:
                on_server_shutdown(self.shutdown)
            await self._beat()
            self._beating = asyncio.get_running_loop().create_task(self._heartbeat_loop())

    async def shutdown(self) -> None:
        """This process stops: remove its connections and announce their leaves now."""
        if self._beating is not None:
            self._beating.cancel()
        local, self._local = self._local, {}
        gone: dict[str, list[tuple[str, Meta]]] = defaultdict(list)
        async with self._redis().pipeline(transaction=True) as pipe:
            for ref, (topic, key, meta) in local.items():
                pipe.hdel(self._topic_key(topic), ref)
                gone[topic].append((key, meta))
            pipe.delete(self._node_refs_key(self.node), self._alive_key(self.node))
            pipe.srem(self._nodes_key, self.node)
            await pipe.execute()
        for topic, entries in gone.items():
            await broadcast(topic, PRESENCE_DIFF, diff([], entries))

    # -- public API (same as MemoryPresence) --
    async def track(self, topic: str, key: str, meta: Meta) -> bool:
        await self._ensure_heartbeat()
        ref = meta["phx_ref"]
        self._local[ref] = (topic, key, meta)
        r = self._redis()
        async with r.pipeline(transaction=True) as pipe:
            pipe.hset(self._topic_key(topic), ref, json.dumps({"key": key, "meta": meta}))
            pipe.hset(self._node_refs_key(self.node), ref, topic)
            pipe.hvals(self._topic_key(topic))
            _, _, values = await pipe.execute()
        same_key = sum(1 for v in values if json.loads(v)["key"] == key)
        await broadcast(topic, PRESENCE_DIFF, diff([(key, meta)], []))
        return same_key == 1

    async def untrack(self, topic: str, ref: str) -> dict[str, State] | None:
        self._local.pop(ref, None)
        r = self._redis()
        async with r.pipeline(transaction=True) as pipe:
            pipe.hget(self._topic_key(topic), ref)
            pipe.hdel(self._topic_key(topic), ref)
            pipe.hdel(self._node_refs_key(self.node), ref)
            raw, _, _ = await pipe.execute()
        if raw is None:
            return None
        entry = json.loads(raw)
        leave = diff([], [(entry["key"], entry["meta"])])
        await broadcast(topic, PRESENCE_DIFF, leave)
        return leave

    async def list(self, topic: str) -> State:
        values = await self._redis().hvals(self._topic_key(topic))
        return group_state([(e["key"], e["meta"]) for e in map(json.loads, values)])

    async def mark_once(self, name: str, ttl: float) -> bool:
        return bool(
            await self._redis().set(f"{self._prefix}:mark:{name}", "1", nx=True, px=int(ttl * 1000))
        )

    # -- liveness --
    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self._heartbeat)
            try:
                await self._beat()
                await self._reap()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("presence heartbeat failed")

    async def _beat(self) -> None:
        r = self._redis()
        async with r.pipeline(transaction=False) as pipe:
            pipe.set(self._alive_key(self.node), "1", px=self._ttl_ms, get=True)
            pipe.sadd(self._nodes_key, self.node)
            was_alive, _ = await pipe.execute()
        if was_alive is None and self._local:
            await self._restore()

    async def _restore(self) -> None:
        """We were taken for dead (a long stall): put our live connections back."""
        logger.warning("presence node %s was reaped while alive; restoring", self.node)
        r = self._redis()
        for ref, (topic, key, meta) in list(self._local.items()):
            await r.hset(self._topic_key(topic), ref, json.dumps({"key": key, "meta": meta}))
            await r.hset(self._node_refs_key(self.node), ref, topic)
            await broadcast(topic, PRESENCE_DIFF, diff([(key, meta)], []))

    async def _reap(self) -> None:
        """Remove the entries of processes whose heartbeat expired; announce the leaves."""
        r = self._redis()
        for node in await r.smembers(self._nodes_key):
            if node == self.node or await r.exists(self._alive_key(node)):
                continue
            if not await r.set(f"{self._prefix}:reaping:{node}", self.node, nx=True, px=30_000):
                continue  # another process is on it
            refs = await r.hgetall(self._node_refs_key(node))
            leaves: dict[str, list[tuple[str, Meta]]] = defaultdict(list)
            for ref, topic in refs.items():
                async with r.pipeline(transaction=True) as pipe:
                    pipe.hget(self._topic_key(topic), ref)
                    pipe.hdel(self._topic_key(topic), ref)
                    raw, _ = await pipe.execute()
                if raw is not None:
                    entry = json.loads(raw)
                    leaves[topic].append((entry["key"], entry["meta"]))
            await r.delete(self._node_refs_key(node))
            await r.srem(self._nodes_key, node)
            for topic, gone in leaves.items():
                await broadcast(topic, PRESENCE_DIFF, diff([], gone))
            logger.info("reaped presence node %s: %d connections", node, len(refs))


def _build() -> MemoryPresence | RedisPresence:
    if settings.REDIS_URL:
        return RedisPresence(
            settings.REDIS_URL,
            settings.REALTIME_PREFIX,
            settings.PRESENCE_HEARTBEAT,
            settings.PRESENCE_NODE_TTL,
        )
    return MemoryPresence()


_presence: MemoryPresence | RedisPresence | None = None


def get_presence() -> MemoryPresence | RedisPresence:
    global _presence
    if _presence is None:
        _presence = _build()
    return _presence
