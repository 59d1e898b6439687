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
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from django.conf import settings
from redis.exceptions import RedisError

from coaching.realtime.fanout import fanout
from coaching.realtime.lifecycle import on_server_shutdown
from coaching.realtime.publish import broadcast, merge_consecutive
from coaching.realtime.redis_client import PerLoop

logger = logging.getLogger(__name__)

# How long a stopping process tries to remove its entries before leaving them to the
# reaper (which removes them PRESENCE_NODE_TTL + PRESENCE_HEARTBEAT later).
SHUTDOWN_TIMEOUT = 3.0

# A heartbeat's work must not grow with the number of connections: every entry checked
# or read at once every 5 s held up chat batches for up to 41 ms (W1 p99 21 ms against
# 7 ms without; bench/README.md). So each beat checks that many of this process's
# entries, in turn, besides those it knows to be missing...
VERIFIED_PER_BEAT = 100
# ...and reads every entry (to find orphans no list of processes names) only once in
# this many beats, or at once when a process it knows of has stopped beating.
FULL_SWEEP_EVERY = 12

PRESENCE_STATE = "presence:state"
PRESENCE_DIFF = "presence:diff"

Meta = dict[str, Any]
State = dict[str, dict[str, list[Meta]]]
Entry = tuple[str, str, Meta]  # (topic, key, meta)
Entries = list[tuple[str, Entry]]  # [(ref, entry)]


@dataclass(frozen=True, slots=True)
class Tracked:
    first: bool  # the key's first connection in the topic
    state: State | None  # the topic's presence with it (None: Redis failed, ask later)


def new_ref() -> str:
    return secrets.token_urlsafe(12)


def group_state(entries: list[tuple[str, Meta]]) -> State:
    state: dict[str, dict[str, list[Meta]]] = defaultdict(lambda: {"metas": []})
    for key, meta in sorted(entries, key=lambda e: e[1].get("online_at", 0)):
        state[key]["metas"].append(meta)
    return dict(state)


def diff(joins: list[tuple[str, Meta]], leaves: list[tuple[str, Meta]]) -> dict[str, State]:
    return {"joins": group_state(joins), "leaves": group_state(leaves)}


def merged_diff(earlier: dict[str, State], later: dict[str, State]) -> dict[str, State]:
    """Two diffs of a topic as one. A client applies a diff's joins, then its leaves, by
    meta ref; a ref joins once and leaves at most once after, so the merged diff leaves
    the same presence as the two in order (Phoenix's tracker merges deltas alike)."""
    merged: dict[str, State] = {}
    for part in ("joins", "leaves"):
        keys: dict[str, list[Meta]] = {}
        for source in (earlier[part], later[part]):
            for key, entry in source.items():
                keys.setdefault(key, []).extend(entry["metas"])
        merged[part] = {key: {"metas": metas} for key, metas in keys.items()}
    return merged


# A reconnect storm's joins of one session, queued together, go out as one diff.
merge_consecutive(PRESENCE_DIFF, merged_diff)


class MemoryPresence:
    """One process: entries in a dict. For development and single-process runs."""

    def __init__(self) -> None:
        self._topics: dict[str, dict[str, tuple[str, Meta]]] = defaultdict(dict)
        self._marks: dict[str, float] = {}

    async def track(self, topic: str, key: str, meta: Meta) -> Tracked:
        """Add a connection (and broadcast its join)."""
        entries = self._topics[topic]
        first = all(k != key for k, _ in entries.values())
        entries[meta["phx_ref"]] = (key, meta)
        await broadcast(topic, PRESENCE_DIFF, diff([(key, meta)], []))
        return Tracked(first, group_state(list(entries.values())))

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

    async def mark(self, name: str, ttl: float) -> None:
        """Set (or extend) a mark, whether or not it was set."""
        self._marks[name] = time.monotonic() + ttl

    async def unmark(self, name: str) -> bool:
        """Clear a mark; True if it was set (only one caller gets True)."""
        return self._marks.pop(name, 0) > time.monotonic()


class RedisPresence:
    """Several processes: entries in Redis hashes, kept true by every process's heartbeat.

    This process's own connections (`_local`) are the truth for its entries; the
    heartbeat writes back any that Redis lost and retries the removals that failed
    (`_leaving`), so a Redis outage delays presence but cannot leave a ghost or hide
    someone for good. Redis may have lost some when it restarted (its `run_id`
    changed, even if an older snapshot brought our alive key back) or our alive key
    is gone (we stalled and were reaped): every entry is checked then, and every
    topic swept at the next beat; otherwise a beat checks the entries whose track
    failed and a few others in turn. Each entry names the process that owns it, and
    every process is listed in a set: a listed process whose alive key expired is
    found at the next beat, and its entries are reaped wherever they are.
    """

    def __init__(self, url: str, prefix: str, heartbeat: float, node_ttl: float) -> None:
        self._prefix = f"{prefix}:presence"
        self._heartbeat = heartbeat
        self._ttl_ms = int(node_ttl * 1000)
        self.node = uuid.uuid4().hex
        self._local: dict[str, Entry] = {}  # by ref
        self._leaving: dict[str, Entry] = {}  # removal not yet done in Redis
        self._removing: set[str] = set()  # of those, the ones being removed right now
        self._unsaved: set[str] = set()  # refs whose track failed in Redis
        self._verified = 0  # where the rolling check of our entries goes on
        self._redis_run: str | None = None  # Redis's run_id: a new one after each restart
        self._beats = secrets.randbelow(FULL_SWEEP_EVERY)  # processes sweep at other times
        self._clients = PerLoop(url, decode_responses=True)
        self._beating: asyncio.Task | None = None
        self._beaten = False
        self._resync_at: list[float] = []  # when to send our clients the whole state

    # -- keys --
    def _topic_key(self, topic: str) -> str:
        return f"{self._prefix}:topic:{topic}"

    def _alive_key(self, node: str) -> str:
        return f"{self._prefix}:node:{node}:alive"

    def _nodes_key(self) -> str:
        return f"{self._prefix}:nodes"

    def _entry(self, key: str, meta: Meta) -> str:
        return json.dumps({"key": key, "meta": meta, "node": self.node})

    def _redis(self) -> aioredis.Redis:
        return self._clients.get()

    async def _ensure_heartbeat(self) -> None:
        if self._beating is None or self._beating.done() or self._beating.get_loop().is_closed():
            if self._beating is None:
                on_server_shutdown(self.shutdown)
            self._beating = asyncio.get_running_loop().create_task(self._heartbeat_loop())
            try:
                await self._beat()  # alive before our first entry, so it is not reaped
            except RedisError:
                pass  # the loop tries again

    async def shutdown(self) -> None:
        """This process stops: remove its connections and announce their leaves now."""
        if self._beating is not None:
            self._beating.cancel()
        self._leaving.update(self._local)
        self._local = {}
        try:
            await asyncio.wait_for(self._remove_leaving(), timeout=SHUTDOWN_TIMEOUT)
            await self._redis().delete(self._alive_key(self.node))
            await self._redis().srem(self._nodes_key(), self.node)
        except (TimeoutError, RedisError):
            logger.warning("presence: %d leaves left to the reaper", len(self._leaving))

    # -- public API (same as MemoryPresence) --
    async def track(self, topic: str, key: str, meta: Meta) -> Tracked:
        """Add a connection (and broadcast its join). If Redis fails, the heartbeat
        writes it later (and it is not reported first)."""
        await self._ensure_heartbeat()
        ref = meta["phx_ref"]
        self._local[ref] = (topic, key, meta)
        try:
            async with self._redis().pipeline(transaction=True) as pipe:
                pipe.hset(self._topic_key(topic), ref, self._entry(key, meta))
                pipe.hvals(self._topic_key(topic))
                _, values = await pipe.execute()
            await broadcast(topic, PRESENCE_DIFF, diff([(key, meta)], []))
        except RedisError as exc:
            logger.warning("presence: track of %s deferred to the heartbeat: %s", topic, exc)
            self._unsaved.add(ref)
            return Tracked(False, None)
        entries = [(e["key"], e["meta"]) for e in map(json.loads, values)]
        return Tracked(sum(1 for k, _ in entries if k == key) == 1, group_state(entries))

    async def untrack(self, topic: str, ref: str) -> dict[str, State] | None:
        """Remove a connection; returns its leave diff (None if it was not tracked here).

        The leave is announced even when Redis had lost the entry: other clients still
        list it. If Redis fails, the heartbeat retries the removal and the announcement.
        """
        entry = self._local.pop(ref, None)
        self._unsaved.discard(ref)
        if entry is None:
            return None
        _, key, meta = entry
        self._leaving[ref] = entry
        try:
            await self._remove(ref)
        except RedisError as exc:
            logger.warning("presence: leave of %s deferred to the heartbeat: %s", topic, exc)
        return diff([], [(key, meta)])

    async def _remove(self, ref: str) -> None:
        """Remove a leaving entry from Redis and announce it, unless that is done or under
        way already: a heartbeat's retry and the leave itself can reach the same ref."""
        entry = self._leaving.get(ref)
        if entry is None or ref in self._removing:
            return
        topic, key, meta = entry
        self._removing.add(ref)
        try:
            await self._redis().hdel(self._topic_key(topic), ref)
            await broadcast(topic, PRESENCE_DIFF, diff([], [(key, meta)]))
            self._leaving.pop(ref, None)
        finally:
            self._removing.discard(ref)

    async def _remove_leaving(self) -> None:
        """Retry every removal not done yet; keeps going past a failure."""
        failed: Exception | None = None
        for ref in list(self._leaving):
            try:
                await self._remove(ref)
            except RedisError as exc:
                failed = exc
        if failed is not None:
            raise failed

    async def list(self, topic: str) -> State:
        values = await self._redis().hvals(self._topic_key(topic))
        return group_state([(e["key"], e["meta"]) for e in map(json.loads, values)])

    async def mark_once(self, name: str, ttl: float) -> bool:
        return bool(
            await self._redis().set(f"{self._prefix}:mark:{name}", "1", nx=True, px=int(ttl * 1000))
        )

    async def mark(self, name: str, ttl: float) -> None:
        await self._redis().set(f"{self._prefix}:mark:{name}", "1", px=int(ttl * 1000))

    async def unmark(self, name: str) -> bool:
        return bool(await self._redis().delete(f"{self._prefix}:mark:{name}"))

    # -- liveness --
    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self._heartbeat)
            for step in (self._beat, self._remove_leaving, self._sweep):
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
        local = list(self._local.items())
        checked = self._to_verify(local)
        async with self._redis().pipeline(transaction=False) as pipe:
            pipe.set(self._alive_key(self.node), "1", px=self._ttl_ms, get=True)
            pipe.sadd(self._nodes_key(), self.node)
            pipe.info("server")
            for ref, (topic, _, _) in checked:
                pipe.hexists(self._topic_key(topic), ref)
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
            async with self._redis().pipeline(transaction=False) as pipe:
                for ref, (topic, _, _) in checked:
                    pipe.hexists(self._topic_key(topic), ref)
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
                self.node,
                len(missing),
            )
            now = time.monotonic()
            self._resync_at += [
                now + 2 * self._heartbeat,
                now + self._ttl_ms / 1000 + 2 * self._heartbeat,
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
        unsaved = [(ref, self._local[ref]) for ref in self._unsaved if ref in self._local]
        return unsaved + [(ref, entry) for ref, entry in turn if ref not in self._unsaved]

    async def _restore(self, missing: Entries) -> None:
        """Write back entries Redis lost; keeps going past a failure."""
        failed: Exception | None = None
        for ref, (topic, key, meta) in missing:
            if ref not in self._local:
                continue  # left meanwhile
            try:
                await broadcast(topic, PRESENCE_DIFF, diff([(key, meta)], []))
                await self._redis().hset(self._topic_key(topic), ref, self._entry(key, meta))
                self._unsaved.discard(ref)
            except RedisError as exc:
                failed = exc
        if failed is not None:
            raise failed

    async def _resync(self) -> None:
        """Send this process's clients the whole state of their topics, straight to
        their sockets: the channel layer's own subscriptions may still be recovering."""
        for topic in {topic for topic, _, _ in self._local.values()}:
            fanout.deliver_local(topic, PRESENCE_STATE, await self.list(topic))

    async def _sweep(self) -> None:
        """Reap when a listed process has stopped beating, and now and then anyway."""
        self._beats += 1
        r = self._redis()
        nodes = sorted(await r.smembers(self._nodes_key()) - {self.node})
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
        r = self._redis()
        sweep_ms = max(int(self._heartbeat * 1000), 100)
        if not await r.set(f"{self._prefix}:sweep", self.node, nx=True, px=sweep_ms):
            return False
        topic_keys = [k async for k in r.scan_iter(match=self._topic_key("*"), count=500)]
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
        nodes = sorted({e.get("node") for _, _, e in entries if e.get("node")} - {self.node})
        async with r.pipeline(transaction=False) as pipe:
            for node in nodes:
                pipe.exists(self._alive_key(node))
            alive = {node for node, there in zip(nodes, await pipe.execute(), strict=True) if there}
        alive.add(self.node)
        stale = [
            (topic_key, ref, e)
            for topic_key, ref, e in entries
            if e.get("node") not in alive
            or (e["node"] == self.node and ref not in self._local and ref not in self._leaving)
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
                leaves[topic_key.removeprefix(self._topic_key(""))].append((e["key"], e["meta"]))
        for topic, gone in leaves.items():
            await broadcast(topic, PRESENCE_DIFF, diff([], gone))
        logger.info("presence: reaped %d orphaned connections", sum(map(len, leaves.values())))
        return True


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
