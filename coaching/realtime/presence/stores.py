"""Where presence entries live: in a dict (one process) or in Redis hashes (several).

Every track and untrack is announced as a `presence:diff` broadcast (a topic's diffs
at most once per DIFF_WINDOW). Both stores answer the same calls: track, untrack, list,
present, and the marks (flags with a lifetime). A track can set a mark once in the same
step, when it is the key's first connection (a first entry's announcement mark): in Redis
one script for both, and one call for the tracks of joins that come together.
"""

import asyncio
import json
import logging
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from coaching.realtime.coalesce import Coalesced
from coaching.realtime.lifecycle import on_server_shutdown
from coaching.realtime.presence.heartbeat import Heartbeat
from coaching.realtime.presence.wire import (
    PRESENCE_DIFF,
    Entry,
    Meta,
    State,
    diff,
    group_state,
    merged_diff,
    merged_diffs,
)
from coaching.realtime.publish import broadcast, merge_consecutive
from coaching.realtime.redis_client import PerLoop

logger = logging.getLogger(__name__)

# How long a stopping process tries to remove its entries before leaving them to the
# reaper (which removes them PRESENCE_NODE_TTL + PRESENCE_HEARTBEAT later).
SHUTDOWN_TIMEOUT = 3.0

# A reconnect storm's joins of one session, queued together, go out as one diff.
merge_consecutive(PRESENCE_DIFF, merged_diff)


# A topic's presence diffs go out at most once per DIFF_WINDOW seconds: the first at
# once, those made within the window after it together at its end, as one diff. A user
# whose N sockets join a topic at once costs each socket there a diff per window, not
# one per join (bench/README.md, "Many sockets of one user").
DIFF_WINDOW = 0.05


@dataclass
class _Window:
    diffs: list[dict[str, State]] = field(default_factory=list)  # waiting for its end
    sent: asyncio.Future | None = None  # their broadcast, once made


class Announcer:
    """A topic's presence diffs, at most one broadcast per DIFF_WINDOW (see above)."""

    def __init__(self) -> None:
        self._windows: dict[str, _Window] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    async def announce(self, topic: str, payload: dict[str, State]) -> None:
        """Broadcast a diff, with the others of its window; returns once it is published,
        and raises what publishing raised."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # windows belong to one loop (tests run several)
            self._loop, self._windows = loop, {}
        window = self._windows.get(topic)
        if window is None:
            self._open(topic)
            await broadcast(topic, PRESENCE_DIFF, payload)
            return
        if window.sent is None:
            window.sent = loop.create_future()
            window.sent.add_done_callback(_retrieved)
        window.diffs.append(payload)
        await asyncio.shield(window.sent)

    def _open(self, topic: str) -> None:
        window = self._windows[topic] = _Window()
        self._loop.call_later(DIFF_WINDOW, self._close, topic, window)

    def _close(self, topic: str, window: _Window) -> None:
        if self._windows.get(topic) is not window:
            return
        if not window.diffs:
            del self._windows[topic]
            return
        self._open(topic)  # diffs keep coming: the next ones wait for a window too
        sending = self._loop.create_task(
            broadcast(topic, PRESENCE_DIFF, merged_diffs(window.diffs))
        )
        sending.add_done_callback(lambda task: _settle(window.sent, task))


def _settle(sent: asyncio.Future, task: asyncio.Task) -> None:
    if sent.done():
        return
    if task.cancelled():
        sent.cancel()
    elif task.exception() is not None:
        sent.set_exception(task.exception())
    else:
        sent.set_result(None)


def _retrieved(future: asyncio.Future) -> None:
    """Its callers may all be gone: their error is theirs, not a loop warning."""
    if not future.cancelled():
        future.exception()


@dataclass(frozen=True, slots=True)
class Tracked:
    first: bool  # the key's first connection in the topic
    state: State | None  # the topic's presence with it (None: Redis failed, ask later)
    marked: bool = False  # first, and it set the track's `mark_first` (it was not set)


# (name, seconds): a mark `track` sets, unless it is set, when the key's entry is its first.
MarkFirst = tuple[str, float] | None

# Tracks, each an entry (ref, its encoding) written in its topic's hash KEYS[2i]; the
# key's first entry there if no other value starts with `prefix` (the key's encoded
# start); then, if first and `ttl` > 0, the mark KEYS[2i + 1] set for `ttl` ms unless it
# is set. ARGV: (ref, encoding, prefix, ttl) for each. Returns our alive key KEYS[1]'s
# value, then {first, marked, the hash's values as of that write} for each.
_TRACKS = """
local out = {redis.call('GET', KEYS[1])}
for i = 1, (#KEYS - 1) / 2 do
  local topic, mark, at = KEYS[2 * i], KEYS[2 * i + 1], (i - 1) * 4
  redis.call('HSET', topic, ARGV[at + 1], ARGV[at + 2])
  local values = redis.call('HVALS', topic)
  local prefix, mine = ARGV[at + 3], 0
  for _, value in ipairs(values) do
    if string.sub(value, 1, #prefix) == prefix then mine = mine + 1 end
  end
  local marked = 0
  local ttl = tonumber(ARGV[at + 4])
  if mine == 1 and ttl > 0 then
    if redis.call('SET', mark, '1', 'NX', 'PX', ttl) then marked = 1 end
  end
  out[#out + 1] = {mine == 1 and 1 or 0, marked, values}
end
return out
"""
# The entries ARGV[i] removed from the topics' hashes KEYS[i].
_UNTRACKS = """
for i, topic in ipairs(KEYS) do redis.call('HDEL', topic, ARGV[i]) end
return 0
"""

# The topics' hashes KEYS[2..] read with our alive key KEYS[1]: its value, then the
# values of each.
_READS = """
local out = {redis.call('GET', KEYS[1])}
for i = 2, #KEYS do out[i] = redis.call('HVALS', KEYS[i]) end
return out
"""

# The marks KEYS[i] set for ARGV[i] ms (ARGV[i] = 0: cleared); returns for each 1 if
# it was set.
_MARKS = """
local out = {}
for i, mark in ipairs(KEYS) do
  local ttl = tonumber(ARGV[i])
  if ttl > 0 then
    redis.call('SET', mark, '1', 'PX', ttl)
    out[i] = 1
  else
    out[i] = redis.call('DEL', mark)
  end
end
return out
"""

# (topic, ref, encoded entry, its key's prefix, (mark, ms) or None): one track's write.
_Write = tuple[str, str, str, str, tuple[str, int] | None]


class MemoryPresence:
    """One process: entries in a dict. For development and single-process runs."""

    def __init__(self) -> None:
        self._topics: dict[str, dict[str, tuple[str, Meta]]] = defaultdict(dict)
        self._marks: dict[str, float] = {}
        self._announcer = Announcer()

    def local_count(self) -> int:
        """Entries this process tracks (the metrics' `inswing_presence_entries`)."""
        return sum(len(entries) for entries in self._topics.values())

    async def track(
        self, topic: str, key: str, meta: Meta, mark_first: MarkFirst = None
    ) -> Tracked:
        """Add a connection (and broadcast its join)."""
        entries = self._topics[topic]
        first = all(k != key for k, _ in entries.values())
        entries[meta["phx_ref"]] = (key, meta)
        marked = first and mark_first is not None and self._mark_once(*mark_first)
        await self._announcer.announce(topic, diff([(key, meta)], []))
        return Tracked(first, group_state(list(entries.values())), marked)

    async def untrack(self, topic: str, ref: str) -> dict[str, State] | None:
        """Remove a connection; returns the leave diff it broadcast (None if gone already)."""
        entry = self._topics.get(topic, {}).pop(ref, None)
        if not self._topics.get(topic):
            self._topics.pop(topic, None)
        if entry is None:
            return None
        leave = diff([], [entry])
        await self._announcer.announce(topic, leave)
        return leave

    async def list(self, topic: str) -> State:
        return group_state(list(self._topics.get(topic, {}).values()))

    async def present(self, topic: str, key: str) -> bool:
        """Whether `key` has a connection in `topic`."""
        return any(k == key for k, _ in self._topics.get(topic, {}).values())

    def _mark_once(self, name: str, ttl: float) -> bool:
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

    This process's own connections (`local`) are the truth for its entries; the
    heartbeat (heartbeat.py) writes back any that Redis lost and retries the removals
    that failed (`leaving`), so a Redis outage delays presence but cannot leave a ghost
    or hide someone for good.
    """

    def __init__(self, url: str, prefix: str, heartbeat: float, node_ttl: float) -> None:
        self._prefix = f"{prefix}:presence"
        self.node = uuid.uuid4().hex
        self.local: dict[str, Entry] = {}  # by ref
        # The same, by topic, then key, then ref: what a state of the topic shows of ours.
        self._topics: dict[str, dict[str, dict[str, Meta]]] = {}
        self._writing: set[str] = set()  # refs whose track has not come back from Redis
        # How our entries end in Redis (`encoded`): a read skips them, ours are `local`.
        self._own_suffix = json.dumps({"node": self.node})[1:]
        self.leaving: dict[str, Entry] = {}  # removal not yet done in Redis
        self._removing: set[str] = set()  # of those, the ones being removed right now
        self.unsaved: set[str] = set()  # refs whose track failed in Redis
        self._clients = PerLoop(url, decode_responses=True)
        self._scripts: dict[tuple[aioredis.Redis, str], AsyncScript] = {}
        # Calls that come together (a storm's joins or leaves): one script call each.
        self._writes = Coalesced(self._write_all)
        self._removals = Coalesced(self._remove_all)
        self._reads = Coalesced(self._read_all)
        self._marks = Coalesced(self._mark_all)
        self._announcer = Announcer()
        self.heartbeat = Heartbeat(self, self._prefix, heartbeat, node_ttl)
        self._starting: asyncio.Task | None = None

    def local_count(self) -> int:
        """Entries this process tracks (the metrics' `inswing_presence_entries`)."""
        return len(self.local)

    def topic_key(self, topic: str) -> str:
        return f"{self._prefix}:topic:{topic}"

    def encoded(self, key: str, meta: Meta) -> str:
        return json.dumps({"key": key, "meta": meta, "node": self.node})

    def redis(self) -> aioredis.Redis:
        return self._clients.get()

    def _script(self, source: str) -> AsyncScript:
        client = self.redis()
        script = self._scripts.get((client, source))
        if script is None:
            script = self._scripts[(client, source)] = client.register_script(source)
        return script

    def _mark_key(self, name: str) -> str:
        return f"{self._prefix}:mark:{name}"

    def _hold(self, ref: str, entry: Entry) -> None:
        topic, key, meta = entry
        self.local[ref] = entry
        self._topics.setdefault(topic, {}).setdefault(key, {})[ref] = meta

    def _release(self, ref: str) -> Entry | None:
        entry = self.local.pop(ref, None)
        if entry is not None:
            topic, key, _ = entry
            keys = self._topics[topic]
            keys[key].pop(ref, None)
            if not keys[key]:
                del keys[key]
                if not keys:
                    del self._topics[topic]
        return entry

    def _entries(
        self, topic: str, values: list[str], written: str | None = None
    ) -> list[tuple[str, Meta]]:
        """A topic's entries: the other processes' as Redis holds them (`values`), and
        ours as we hold them: one whose write failed is there, one that left whose
        removal is not done yet is not, nor one still being written (but `written`)."""
        entries = []
        nodes = set()
        for raw in values:
            if raw.endswith(self._own_suffix):
                continue
            entry = json.loads(raw)
            nodes.add(entry.get("node"))
            entries.append((entry["key"], entry["meta"]))
        writing = self._writing
        for key, metas in self._topics.get(topic, {}).items():
            entries.extend(
                (key, meta) for ref, meta in metas.items() if ref not in writing or ref == written
            )
        self.heartbeat.saw(nodes)
        return entries

    async def _whole(self, topic: str, values: list[str], alive: str | None) -> list[str]:
        """`values` of the topic's hash, read with our alive key's value: as they are, or
        read again once Redis is known to hold every live process's entries (after it
        lost data: heartbeat.py)."""
        waiting = self.heartbeat.check(alive)
        if waiting is None:
            return values
        await asyncio.shield(waiting)
        return await self.redis().hvals(self.topic_key(topic))

    async def _ensure_heartbeat(self) -> None:
        """Started, and its first beat made (or tried): joins that come together wait
        for the same start."""
        loop = asyncio.get_running_loop()
        starting = self._starting
        if starting is not None and starting.get_loop() is not loop:
            starting = None  # of another loop (tests run several)
        if not self.heartbeat.running and (starting is None or starting.done()):
            on_server_shutdown(self.shutdown)
            starting = self._starting = loop.create_task(self.heartbeat.start())
        if starting is not None and not starting.done():
            await asyncio.shield(starting)

    async def shutdown(self) -> None:
        """This process stops: remove its connections and announce their leaves now."""
        self.heartbeat.stop()
        self.leaving.update(self.local)
        self.local, self._topics = {}, {}
        try:
            await asyncio.wait_for(self.remove_leaving(), timeout=SHUTDOWN_TIMEOUT)
            await self.heartbeat.retire()
        except (TimeoutError, RedisError):
            logger.warning("presence: %d leaves left to the reaper", len(self.leaving))

    # -- public API (same as MemoryPresence) --
    async def track(
        self, topic: str, key: str, meta: Meta, mark_first: MarkFirst = None
    ) -> Tracked:
        """Add a connection (and broadcast its join), and set `mark_first` if it is the
        key's first (in the same script call). If Redis fails, the heartbeat writes it later (and
        it is not reported first)."""
        await self._ensure_heartbeat()
        ref = meta["phx_ref"]
        self._hold(ref, (topic, key, meta))
        mark = None if mark_first is None else (mark_first[0], int(mark_first[1] * 1000))
        write = (topic, ref, self.encoded(key, meta), self._key_prefix(key), mark)
        try:
            self._writing.add(ref)
            try:
                first, marked, values, alive = await self._writes(write)
            finally:
                self._writing.discard(ref)
            # As of the write, not of the end of the diff's window (bigger by then).
            values = await self._whole(topic, values, alive)
            state = group_state(self._entries(topic, values, written=ref))
            await self._announcer.announce(topic, diff([(key, meta)], []))
        except RedisError as exc:
            logger.warning("presence: track of %s deferred to the heartbeat: %s", topic, exc)
            self.unsaved.add(ref)
            return Tracked(False, None)
        return Tracked(first, state, marked)

    async def _write_all(
        self, writes: list[_Write]
    ) -> list[tuple[bool, bool, list[str], str | None]]:
        """The tracks' writes (joins that come together: one script call): for each,
        (first, marked, the topic's values as of its write, our alive key's value)."""
        keys, args = [self.heartbeat.alive_key], []
        for topic, ref, encoded, prefix, mark in writes:
            name, ttl = mark or ("", 0)
            keys += [self.topic_key(topic), self._mark_key(name)]
            args += [ref, encoded, prefix, ttl]
        alive, *each = await self._script(_TRACKS)(keys, args)
        return [(bool(first), bool(marked), values, alive) for first, marked, values in each]

    @staticmethod
    def _key_prefix(key: str) -> str:
        """How an entry of `key` starts in Redis (`encoded`)."""
        return json.dumps({"key": key})[:-1] + ", "

    async def untrack(self, topic: str, ref: str) -> dict[str, State] | None:
        """Remove a connection; returns its leave diff (None if it was not tracked here).

        The leave is announced even when Redis had lost the entry: other clients still
        list it. If Redis fails, the heartbeat retries the removal and the announcement.
        """
        entry = self._release(ref)
        self.unsaved.discard(ref)
        if entry is None:
            return None
        _, key, meta = entry
        self.leaving[ref] = entry
        try:
            await self._remove(ref)
        except RedisError as exc:
            logger.warning("presence: leave of %s deferred to the heartbeat: %s", topic, exc)
        return diff([], [(key, meta)])

    async def _remove(self, ref: str) -> None:
        """Remove a leaving entry from Redis and announce it, unless that is done or under
        way already: a heartbeat's retry and the leave itself can reach the same ref."""
        entry = self.leaving.get(ref)
        if entry is None or ref in self._removing:
            return
        topic, key, meta = entry
        self._removing.add(ref)
        try:
            await self._removals((self.topic_key(topic), ref))
            await self._announcer.announce(topic, diff([], [(key, meta)]))
            self.leaving.pop(ref, None)
        finally:
            self._removing.discard(ref)

    async def remove_leaving(self) -> None:
        """Retry every removal not done yet; keeps going past a failure."""
        failed: Exception | None = None
        for ref in list(self.leaving):
            try:
                await self._remove(ref)
            except RedisError as exc:
                failed = exc
        if failed is not None:
            raise failed

    async def _remove_all(self, removals: list[tuple[str, str]]) -> list[None]:
        """HDEL each (topic's hash, ref): the leaves that come together, one call."""
        await self._script(_UNTRACKS)([k for k, _ in removals], [ref for _, ref in removals])
        return [None] * len(removals)

    async def _read_all(self, topic_keys: list[str]) -> list[tuple[list[str], str | None]]:
        """The topics' values, each with our alive key's value (one call for reads that
        come together)."""
        alive, *values = await self._script(_READS)([self.heartbeat.alive_key, *topic_keys])
        return [(each, alive) for each in values]

    async def _mark_all(self, marks: list[tuple[str, int]]) -> list[bool]:
        """Set (ms > 0) or clear (0) each (mark, ms); for each, whether it was set (one
        call for those that come together)."""
        done = await self._script(_MARKS)([m for m, _ in marks], [ms for _, ms in marks])
        return [bool(was) for was in done]

    async def list(self, topic: str) -> State:
        values, alive = await self._reads(self.topic_key(topic))
        return group_state(self._entries(topic, await self._whole(topic, values, alive)))

    async def present(self, topic: str, key: str) -> bool:
        """Whether `key` has a connection in `topic`: without Redis when one is ours."""
        if key in self._topics.get(topic, {}):
            return True
        return key in await self.list(topic)

    async def mark(self, name: str, ttl: float) -> None:
        await self._marks((self._mark_key(name), max(1, int(ttl * 1000))))

    async def unmark(self, name: str) -> bool:
        return await self._marks((self._mark_key(name), 0))
