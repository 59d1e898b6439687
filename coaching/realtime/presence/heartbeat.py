"""Keeping presence in Redis true across processes: each process's heartbeat.

Every beat a process says it is alive (a key that expires unless renewed, and its
name in the set of processes), puts back those of its entries Redis lost, retries the
removals that failed, and reaps the entries of processes that stopped beating (a
crash, SIGKILL): their leaves are announced within PRESENCE_NODE_TTL +
PRESENCE_HEARTBEAT seconds. Redis may have lost entries when it restarted (its
`run_id` changed, even if an older snapshot brought our alive key back) or our alive
key is gone (we stalled and were reaped): every entry is checked then, and every topic
swept at the next beat; otherwise a beat checks the entries whose track failed and a
few others in turn. Each entry names the process that owns it, and every process is
listed in a set: a listed process whose alive key expired is found at the next beat,
and its entries are reaped wherever they are.
"""

import asyncio
import json
import logging
import secrets
import time
from collections import defaultdict
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from coaching.realtime.fanout import fanout
from coaching.realtime.presence.wire import PRESENCE_DIFF, PRESENCE_STATE, Entry, Meta, State, diff
from coaching.realtime.publish import broadcast

logger = logging.getLogger(__name__)

# A heartbeat's work must not grow with the number of connections: every entry checked
# or read at once every 5 s held up chat batches for up to 41 ms (W1 p99 21 ms against
# 7 ms without; bench/README.md). So each beat checks that many of this process's
# entries, in turn, besides those it knows to be missing...
VERIFIED_PER_BEAT = 100
# ...and reads every entry (to find orphans no list of processes names) only once in
# this many beats, or at once when a process it knows of has stopped beating.
FULL_SWEEP_EVERY = 12

Entries = list[tuple[str, Entry]]  # [(ref, entry)]


class OwnEntries(Protocol):
    """What the heartbeat keeps true: this process's entries, as its store holds them."""

    node: str  # this process, named in each of its entries
    local: dict[str, Entry]  # its connections by ref: the truth for its entries
    leaving: dict[str, Entry]  # left, their removal from Redis not done yet
    unsaved: set[str]  # refs whose track failed in Redis

    def redis(self) -> aioredis.Redis: ...

    def topic_key(self, topic: str) -> str: ...

    def encoded(self, key: str, meta: Meta) -> str:
        """An entry as its topic's hash holds it."""

    async def remove_leaving(self) -> None:
        """Retry every removal not done yet."""

    async def list(self, topic: str) -> State: ...


class Heartbeat:
    """This process's liveness in Redis, and the repairs each beat makes (module doc)."""

    def __init__(self, own: OwnEntries, prefix: str, interval: float, node_ttl: float) -> None:
        self._own = own
        self._prefix = prefix
        self._interval = interval
        self._ttl_ms = int(node_ttl * 1000)
        self._verified = 0  # where the rolling check of our entries goes on
        self._redis_run: str | None = None  # Redis's run_id: a new one after each restart
        self._beats = secrets.randbelow(FULL_SWEEP_EVERY)  # processes sweep at other times
        self._beating: asyncio.Task | None = None
        self._beaten = False
        self._resync_at: list[float] = []  # when to send our clients the whole state

    def _alive_key(self, node: str) -> str:
        return f"{self._prefix}:node:{node}:alive"

    def _nodes_key(self) -> str:
        return f"{self._prefix}:nodes"

    @property
    def running(self) -> bool:
        return not (
            self._beating is None or self._beating.done() or self._beating.get_loop().is_closed()
        )

    async def start(self) -> None:
        """Beat now, and every `interval` seconds from now on."""
        self._beating = asyncio.get_running_loop().create_task(self._heartbeat_loop())
        try:
            await self._beat()  # alive before our first entry, so it is not reaped
        except RedisError:
            pass  # the loop tries again

    def stop(self) -> None:
        if self._beating is not None:
            self._beating.cancel()

    async def retire(self) -> None:
        """This process stops for good: no longer alive, no longer listed."""
        node = self._own.node
        await self._own.redis().delete(self._alive_key(node))
        await self._own.redis().srem(self._nodes_key(), node)

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            for step in (self._beat, self._own.remove_leaving, self._sweep):
                try:
                    await step()
                except asyncio.CancelledError:
                    raise
                except RedisError as exc:
                    logger.warning("presence heartbeat: %s failed: %s", step.__name__, exc)
                except Exception:
                    logger.exception("presence heartbeat: %s failed", step.__name__)

    async def _beat(self) -> None:
        """Say we are alive, and put back whatever of ours Redis lost."""
        own = self._own
        local = list(own.local.items())
        checked = self._to_verify(local)
        async with own.redis().pipeline(transaction=False) as pipe:
            pipe.set(self._alive_key(own.node), "1", px=self._ttl_ms, get=True)
            pipe.sadd(self._nodes_key(), own.node)
            pipe.info("server")
            for ref, (topic, _, _) in checked:
                pipe.hexists(own.topic_key(topic), ref)
            results = await pipe.execute(raise_on_error=False)
        was_alive, _, info, *present = results
        failed = [r for i, r in enumerate(results) if i != 2 and isinstance(r, Exception)]
        if failed:
            raise failed[0]
        first_beat, self._beaten = not self._beaten, True
        # Where INFO is not allowed (some hosted Redis), a restart is noticed by the lost
        # alive key alone.
        run = info.get("run_id") if isinstance(info, dict) else None
        restarted = run is not None and self._redis_run is not None and run != self._redis_run
        self._redis_run = run or self._redis_run
        lost = restarted or (was_alive is None and not first_beat)
        if lost:
            # Redis restarted or lost our alive key (we stalled and were reaped): any
            # of our entries may be gone.
            checked = local
            async with own.redis().pipeline(transaction=False) as pipe:
                for ref, (topic, _, _) in checked:
                    pipe.hexists(own.topic_key(topic), ref)
                present = await pipe.execute()
        missing = [
            (ref, entry) for (ref, entry), there in zip(checked, present, strict=True) if not there
        ]
        if missing or lost:
            # Redis restarted (or we were taken for dead, or a track failed): diffs
            # were lost meanwhile, here and on other processes, some of which are
            # still restoring or reaping. Our clients get the whole state again once
            # they have (two heartbeats), and once more when the dead are reaped.
            logger.warning(
                "presence: node %s lost its alive key or %d entries; restoring",
                own.node,
                len(missing),
            )
            now = time.monotonic()
            self._resync_at += [
                now + 2 * self._interval,
                now + self._ttl_ms / 1000 + 2 * self._interval,
            ]
            self._beats = -1  # and sweep at once: orphans may have come back with the data
        await self._restore(missing)
        if self._resync_at and min(self._resync_at) <= time.monotonic():
            self._resync_at = [t for t in self._resync_at if t > time.monotonic()]
            await self._resync()

    def _to_verify(self, local: Entries) -> Entries:
        """The entries this beat checks: those whose track failed, and the next
        VERIFIED_PER_BEAT of the others in turn."""
        if len(local) <= VERIFIED_PER_BEAT:
            return local
        start = self._verified % len(local)
        self._verified = start + VERIFIED_PER_BEAT
        turn = [local[(start + i) % len(local)] for i in range(VERIFIED_PER_BEAT)]
        own = self._own
        unsaved = [(ref, own.local[ref]) for ref in own.unsaved if ref in own.local]
        return unsaved + [(ref, entry) for ref, entry in turn if ref not in own.unsaved]

    async def _restore(self, missing: Entries) -> None:
        """Write back entries Redis lost; keeps going past a failure."""
        own = self._own
        failed: Exception | None = None
        for ref, (topic, key, meta) in missing:
            if ref not in own.local:
                continue  # left meanwhile
            try:
                await broadcast(topic, PRESENCE_DIFF, diff([(key, meta)], []))
                await own.redis().hset(own.topic_key(topic), ref, own.encoded(key, meta))
                own.unsaved.discard(ref)
            except RedisError as exc:
                failed = exc
        if failed is not None:
            raise failed

    async def _resync(self) -> None:
        """Send this process's clients the whole state of their topics, straight to
        their sockets: the channel layer's own subscriptions may still be recovering."""
        for topic in {topic for topic, _, _ in self._own.local.values()}:
            fanout.deliver_local(topic, PRESENCE_STATE, await self._own.list(topic))

    async def _sweep(self) -> None:
        """Reap when a listed process has stopped beating, and now and then anyway."""
        self._beats += 1
        r = self._own.redis()
        nodes = sorted(await r.smembers(self._nodes_key()) - {self._own.node})
        async with r.pipeline(transaction=False) as pipe:
            for node in nodes:
                pipe.exists(self._alive_key(node))
            dead = [
                node for node, there in zip(nodes, await pipe.execute(), strict=True) if not there
            ]
        if (dead or self._beats % FULL_SWEEP_EVERY == 0) and await self._reap() and dead:
            await r.srem(self._nodes_key(), *dead)

    async def _reap(self) -> bool:
        """Remove entries whose process is gone (its alive key expired) or which this
        process no longer holds; announce the leaves. One process sweeps at a time:
        False when another one is."""
        own = self._own
        r = own.redis()
        sweep_ms = max(int(self._interval * 1000), 100)
        if not await r.set(f"{self._prefix}:sweep", own.node, nx=True, px=sweep_ms):
            return False
        topic_keys = [k async for k in r.scan_iter(match=own.topic_key("*"), count=500)]
        if not topic_keys:
            return True
        async with r.pipeline(transaction=False) as pipe:
            for topic_key in topic_keys:
                pipe.hgetall(topic_key)
            hashes = await pipe.execute()
        entries = [
            (topic_key, ref, json.loads(raw))
            for topic_key, fields in zip(topic_keys, hashes, strict=True)
            for ref, raw in fields.items()
        ]
        nodes = sorted({e.get("node") for _, _, e in entries if e.get("node")} - {own.node})
        async with r.pipeline(transaction=False) as pipe:
            for node in nodes:
                pipe.exists(self._alive_key(node))
            alive = {node for node, there in zip(nodes, await pipe.execute(), strict=True) if there}
        alive.add(own.node)
        stale = [
            (topic_key, ref, e)
            for topic_key, ref, e in entries
            if e.get("node") not in alive
            or (e["node"] == own.node and ref not in own.local and ref not in own.leaving)
        ]
        if not stale:
            return True
        async with r.pipeline(transaction=False) as pipe:
            for topic_key, ref, _ in stale:
                pipe.hdel(topic_key, ref)
            removed = await pipe.execute()
        leaves: dict[str, list[tuple[str, Meta]]] = defaultdict(list)
        for (topic_key, _, e), done in zip(stale, removed, strict=True):
            if done:
                leaves[topic_key.removeprefix(own.topic_key(""))].append((e["key"], e["meta"]))
        for topic, gone in leaves.items():
            await broadcast(topic, PRESENCE_DIFF, diff([], gone))
        logger.info("presence: reaped %d orphaned connections", sum(map(len, leaves.values())))
        return True
