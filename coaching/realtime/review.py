"""Where each session's shared-playback state (ReviewState) lives while the room is open.

Ephemeral: not in the event log and without a seq. With `REDIS_URL` it is one Redis
hash per session (every server process reads the same one, so a viewer joining or
reconnecting on any process starts at the current state), expiring STATE_TTL_SECONDS
after its last change; without Redis, a dict in this process.
Changes are read-modify-write functions applied atomically (WATCH/MULTI on Redis). The
reads asked while one runs go together in the next (one pipeline): a reconnect storm's
join snapshots read many sessions' states per round trip.
"""

import json
import time
from collections.abc import Callable

import redis.asyncio as aioredis
from django.conf import settings
from redis.exceptions import WatchError

from coaching.realtime.coalesce import Coalesced
from coaching.realtime.redis_client import PerLoop
from coaching.services.review import ReviewState

Change = Callable[[ReviewState], ReviewState]

STATE_TTL_SECONDS = 12 * 3600


class MemoryReviewStore:
    """One process: states in a dict (development and single-process runs)."""

    def __init__(self) -> None:
        self._states: dict[str, tuple[float, ReviewState]] = {}

    async def get(self, session_id: str) -> ReviewState | None:
        entry = self._states.get(session_id)
        if entry is None or entry[0] < time.monotonic():
            self._states.pop(session_id, None)
            return None
        return dict(entry[1])

    async def change(self, session_id: str, default: ReviewState, change: Change) -> ReviewState:
        """Apply `change` to the current state (or `default`); store and return the result.

        No await between the read and the write: atomic within the event loop.
        """
        current = await self.get(session_id)
        new = change(current if current is not None else dict(default))
        self._states[session_id] = (time.monotonic() + STATE_TTL_SECONDS, new)
        return dict(new)


class RedisReviewStore:
    """Several processes: one hash per session, each field a JSON value (`name`: what
    kind of state, the keys' prefix; the call state is kept the same way)."""

    def __init__(self, url: str, prefix: str, name: str = "review") -> None:
        self._prefix = f"{prefix}:{name}"
        self._clients = PerLoop(url, decode_responses=True)
        self._gets = Coalesced(self._get_all)

    def _key(self, session_id: str) -> str:
        return f"{self._prefix}:{session_id}"

    def _redis(self) -> aioredis.Redis:
        return self._clients.get()

    @staticmethod
    def _decode(raw: dict[str, str]) -> ReviewState | None:
        return {field: json.loads(value) for field, value in raw.items()} if raw else None

    async def get(self, session_id: str) -> ReviewState | None:
        return await self._gets(session_id)

    async def _get_all(self, session_ids: list[str]) -> list[ReviewState | None]:
        async with self._redis().pipeline(transaction=False) as pipe:
            for session_id in session_ids:
                pipe.hgetall(self._key(session_id))
            return [self._decode(raw) for raw in await pipe.execute()]

    async def change(self, session_id: str, default: ReviewState, change: Change) -> ReviewState:
        """Apply `change` atomically across processes: retried if another one wrote first."""
        key = self._key(session_id)
        async with self._redis().pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(key)
                    current = self._decode(await pipe.hgetall(key))
                    new = change(current if current is not None else dict(default))
                    pipe.multi()
                    pipe.hset(key, mapping={f: json.dumps(v) for f, v in new.items()})
                    pipe.expire(key, STATE_TTL_SECONDS)
                    await pipe.execute()
                    return new
                except WatchError:
                    continue


_store: MemoryReviewStore | RedisReviewStore | None = None


def get_review_store() -> MemoryReviewStore | RedisReviewStore:
    global _store
    if _store is None:
        _store = (
            RedisReviewStore(settings.REDIS_URL, settings.REALTIME_PREFIX)
            if settings.REDIS_URL
            else MemoryReviewStore()
        )
    return _store


class StrokeLimiter:
    """At most `per_second` live strokes per user and session, in this process.

    A token bucket: bursts up to `per_second`, refilled continuously.
    """

    def __init__(self, per_second: int) -> None:
        self.per_second = per_second
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}

    def take(self, session_id: str, user_id: str) -> int:
        """0 when the stroke may go; otherwise the ms until one may."""
        now = time.monotonic()
        key = (session_id, user_id)
        tokens, last = self._buckets.get(key, (float(self.per_second), now))
        tokens = min(float(self.per_second), tokens + (now - last) * self.per_second)
        if tokens < 1:
            self._buckets[key] = (tokens, now)
            return max(1, round((1 - tokens) / self.per_second * 1000))
        self._buckets[key] = (tokens - 1, now)
        if len(self._buckets) > 10_000:  # forget buckets idle long enough to be full again
            self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < 1}
        return 0
