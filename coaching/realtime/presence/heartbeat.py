"""Keeping presence in Redis true across processes: each process's heartbeat.

Every beat a process says it is alive (a key that expires unless renewed, and its
name in the set of processes), puts back those of its entries Redis lost, retries the
removals that failed, and reaps the entries of processes that stopped beating (a
crash, SIGKILL): their leaves are announced within PRESENCE_NODE_TTL +
PRESENCE_HEARTBEAT seconds. Each entry names the process that owns it, and every
process is listed in a set: a listed process whose alive key expired is found at the
next beat, and its entries are reaped wherever they are.

When Redis has lost data (it restarted empty or from an older snapshot, or our alive
key expired because we stalled and were reaped), the process recovers before anything
it reads from Redis is trusted again: its own entries are written back at once, in the
transaction that renews its alive key with this Redis's `run_id` (so another process
that finds that value knows they are back); then it waits, at most PRESENCE_NODE_TTL,
until every other process whose entries its clients were shown has done the same. Reads
meanwhile wait for it (`check`), so a state sent to a client never lacks someone still
connected; and no process is taken for dead until PRESENCE_NODE_TTL after the loss was
found, as if the loss had renewed every alive key. The loss is found by the first read
or beat that sees our alive key gone or of another Redis (reads get it with their
data), or by a beat that sees a new `run_id`. Otherwise a beat checks the entries whose
track failed and a few others in turn.
"""

import asyncio
import json
import logging
import secrets
import time
from collections import defaultdict
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

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
# While recovering, how often to look whether the other processes have restored theirs.
PEER_POLL = 0.05

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
        self._ttl = node_ttl
        self._ttl_ms = int(node_ttl * 1000)
        self._verified = 0  # where the rolling check of our entries goes on
        self._redis_run: str | None = None  # Redis's run_id: a new one after each restart
        self._beats = secrets.randbelow(FULL_SWEEP_EVERY)  # processes sweep at other times
        self._beating: asyncio.Task | None = None
        self._beaten = False
        self._resync_at: list[float] = []  # when to send our clients the whole state
        self._recovery: asyncio.Task | None = None
        self._lost_at: float | None = None  # when Redis was last found to have lost data
        # Other processes whose entries our clients were shown (read with them): after a
        # loss, reads wait until these have restored theirs (or are dead).
        self._peers: set[str] = set()

    def _alive_key(self, node: str) -> str:
        return f"{self._prefix}:node:{node}:alive"

    @property
    def alive_key(self) -> str:
        """This process's alive key: reads get its value along with their data."""
        return self._alive_key(self._own.node)

    @property
    def mark(self) -> str:
        """The value of our alive key: the `run_id` of the Redis our entries are in."""
        return self._redis_run or "-"  # "-": INFO is not allowed (some hosted Redis)

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
            self._redis_run = await self._run_id()
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

    def saw(self, nodes: set[str]) -> None:
        """Entries of these processes were read for our clients."""
        self._peers.update(node for node in nodes if node and node != self._own.node)

    def check(self, alive: str | None) -> asyncio.Task | None:
        """What a read must wait for before its data can be trusted (then read again):
        the recovery under way, or one started now because our alive key, read with
        the data, is gone or names another Redis. None: the data is whole."""
        if self._recovery is not None and not self._recovery.done():
            return self._recovery
        if not self._beaten or alive == self.mark:
            return None
        return self._begin_recovery()

    def _begin_recovery(self) -> asyncio.Task:
        if self._recovery is None or self._recovery.done():
            self._lost_at = time.monotonic()
            self._recovery = asyncio.get_running_loop().create_task(self._recover())
            self._recovery.add_done_callback(_log_failure)
        return self._recovery

    def _in_grace(self) -> bool:
        """Within PRESENCE_NODE_TTL of a loss: no process is taken for dead."""
        return self._lost_at is not None and time.monotonic() < self._lost_at + self._ttl

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

    async def _run_id(self) -> str | None:
        try:
            info = await self._own.redis().info("server")
        except ResponseError:
            return None  # INFO is not allowed here: a loss is found by our alive key
        return info.get("run_id")

    async def _beat(self) -> None:
        """Say we are alive, and put back whatever of ours Redis lost."""
        own = self._own
        if self._recovery is not None and not self._recovery.done():
            await asyncio.shield(self._recovery)
        local = list(own.local.items())
        checked = self._to_verify(local)
        first_beat = not self._beaten
        async with own.redis().pipeline(transaction=False) as pipe:
            # Renewed only if it is there (XX): a lost one is written back with our
            # entries, so that reads see it gone until they are back.
            pipe.set(self.alive_key, self.mark, px=self._ttl_ms, xx=not first_beat, get=True)
            pipe.sadd(self._nodes_key(), own.node)
            pipe.info("server")
            for ref, (topic, _, _) in checked:
                pipe.hexists(own.topic_key(topic), ref)
            results = await pipe.execute(raise_on_error=False)
        was_alive, _, info, *present = results
        failed = [r for i, r in enumerate(results) if i != 2 and isinstance(r, Exception)]
        if failed:
            raise failed[0]
        self._beaten = True
        # Where INFO is not allowed (some hosted Redis), a restart is noticed by the lost
        # alive key alone.
        run = info.get("run_id") if isinstance(info, dict) else None
        if first_beat:
            if run is not None and run != self._redis_run:  # unknown when we wrote it
                self._redis_run = run
                await own.redis().set(self.alive_key, self.mark, px=self._ttl_ms)
        elif (run is not None and run != self._redis_run) or was_alive != self.mark:
            # Redis restarted (even if an older snapshot brought our alive key back) or
            # lost our alive key (we stalled and were reaped): any entry may be gone.
            await asyncio.shield(self._begin_recovery())
        else:
            missing = [
                (ref, entry)
                for (ref, entry), there in zip(checked, present, strict=True)
                if not there
            ]
            if missing:
                # A track failed, or Redis lost a few: diffs may have been lost too.
                logger.warning("presence: node %s restores %d entries", own.node, len(missing))
                self._resync_at.append(time.monotonic() + 2 * self._interval)
                await self._restore(missing)
        if self._resync_at and min(self._resync_at) <= time.monotonic():
            self._resync_at = [t for t in self._resync_at if t > time.monotonic()]
            await self._resync()

    async def _recover(self) -> None:
        """Redis lost data: our entries back at once, then the others' (module doc)."""
        own = self._own
        logger.warning("presence: Redis lost data (node %s); restoring its entries", own.node)
        run = await self._run_id()
        self._redis_run = run or self._redis_run
        await self._restore(list(own.local.items()), alive=True)
        await self._await_peers(self._lost_at + self._ttl)
        # Diffs sent around the loss may have been lost (broadcasts are at most once):
        # our clients get the whole state at the next beat, and again once the dead are
        # reaped; the next beat sweeps (orphans may have come back with the data).
        now = time.monotonic()
        self._resync_at += [now, self._lost_at + self._ttl + 2 * self._interval]
        self._beats = -1

    async def _await_peers(self, deadline: float) -> None:
        """Until every process whose entries our clients were shown has written its alive
        key into this Redis (its entries are back), or `deadline` (it is dead)."""
        r = self._own.redis()
        waiting = sorted(self._peers)
        while waiting:
            async with r.pipeline(transaction=False) as pipe:
                for node in waiting:
                    pipe.get(self._alive_key(node))
                values = await pipe.execute()
            waiting = [
                node
                for node, value in zip(waiting, values, strict=True)
                if value is None or value != self.mark
            ]
            if not waiting or time.monotonic() >= deadline:
                break
            await asyncio.sleep(PEER_POLL)  # the poll's interval
        if waiting:
            logger.warning("presence: %d processes did not restore their entries", len(waiting))

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

    async def _restore(self, entries: Entries, *, alive: bool = False) -> None:
        """Write back those of `entries` Redis lacks (those there stay as they are) and
        announce them; with `alive`, in the transaction that renews our alive key."""
        own = self._own
        async with own.redis().pipeline(transaction=True) as pipe:
            if alive:
                pipe.set(self.alive_key, self.mark, px=self._ttl_ms)
                pipe.sadd(self._nodes_key(), own.node)
            for ref, (topic, key, meta) in entries:
                pipe.hsetnx(own.topic_key(topic), ref, own.encoded(key, meta))
            written = (await pipe.execute())[2 if alive else 0 :]
        for ref, _ in entries:
            own.unsaved.discard(ref)
        restored = [(ref, e) for (ref, e), new in zip(entries, written, strict=True) if new]
        gone = [(ref, topic) for ref, (topic, _, _) in restored if ref not in own.local]
        if gone:  # left while being written back: their leave is announced already
            async with own.redis().pipeline(transaction=False) as pipe:
                for ref, topic in gone:
                    pipe.hdel(own.topic_key(topic), ref)
                await pipe.execute()
        by_topic: dict[str, list[tuple[str, Entry]]] = defaultdict(list)
        for ref, entry in restored:
            by_topic[entry[0]].append((ref, entry))
        for topic, topic_entries in by_topic.items():
            # Those still here at the moment their join is queued (a leave queued later
            # goes out after it).
            joins = [(key, meta) for ref, (_, key, meta) in topic_entries if ref in own.local]
            if joins:
                await broadcast(topic, PRESENCE_DIFF, diff(joins, []))

    async def _resync(self) -> None:
        """Send this process's clients the whole state of their topics, straight to
        their sockets: the channel layer's own subscriptions may still be recovering."""
        for topic in {topic for topic, _, _ in self._own.local.values()}:
            fanout.deliver_local(topic, PRESENCE_STATE, await self._own.list(topic))

    def _whole(self, own_alive: str | None) -> bool:
        """Whether Redis, as read with our alive key's value, holds every entry of ours
        (else a beat or read finds the loss and recovers first)."""
        recovering = self._recovery is not None and not self._recovery.done()
        return not recovering and own_alive == self.mark

    async def _sweep(self) -> None:
        """Reap when a listed process has stopped beating, and now and then anyway."""
        self._beats += 1
        r = self._own.redis()
        nodes = sorted((await r.smembers(self._nodes_key()) | self._peers) - {self._own.node})
        async with r.pipeline(transaction=False) as pipe:
            pipe.get(self.alive_key)
            for node in nodes:
                pipe.exists(self._alive_key(node))
            own_alive, *there = await pipe.execute()
        if not self._whole(own_alive):
            return
        # Soon after a loss, the others may not have written their alive keys back yet.
        dead = [] if self._in_grace() else [n for n, up in zip(nodes, there, strict=True) if not up]
        self._peers.difference_update(dead)
        if (dead or self._beats % FULL_SWEEP_EVERY == 0) and await self._reap() and dead:
            await r.srem(self._nodes_key(), *dead)

    async def _reap(self) -> bool:
        """Remove entries whose process is gone (its alive key expired) or which this
        process no longer holds; announce the leaves. One process sweeps at a time:
        False when another one is, or when Redis is not whole (a loss not yet repaired)."""
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
            pipe.get(self.alive_key)
            for node in nodes:
                pipe.exists(self._alive_key(node))
            own_alive, *there = await pipe.execute()
        if not self._whole(own_alive):
            return False
        if self._in_grace():  # nobody is taken for dead yet; our own ghosts go
            alive = set(nodes)
        else:
            alive = {node for node, up in zip(nodes, there, strict=True) if up}
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
        self._peers.difference_update({e.get("node") for _, _, e in stale})
        for topic, gone in leaves.items():
            await broadcast(topic, PRESENCE_DIFF, diff([], gone))
        logger.info("presence: reaped %d orphaned connections", sum(map(len, leaves.values())))
        return True


def _log_failure(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.warning("presence: recovery after a Redis loss failed: %s", task.exception())
