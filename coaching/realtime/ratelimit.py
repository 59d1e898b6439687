"""Per-user limits on what clients push on the socket, and on their open sockets.

Token buckets, one set per user, shared by all of that user's sockets: across the
cluster with REDIS_URL (coaching/realtime/cluster_limits.py: the buckets live in Redis
and each process spends leases of them), else, and while Redis is down, on each
process (`UserLimits`). Every push but heartbeats and leaves takes a token from the
user's `client` bucket (CLIENT_EVENTS_PER_SECOND, CLIENT_EVENTS_BURST); `chat:new` also
from the `chat` bucket (CHAT_RATE_PER_SECOND, CHAT_RATE_BURST), `call:signal` from the
`call` bucket (CALL_SIGNALS_PER_SECOND, CALL_SIGNALS_BURST). A push that finds a bucket
empty takes nothing and is refused with `rate_limited` and the wait until it would
pass; a push refused for what the client could not help, or a chat resend answered from
the store, gets its tokens back (`refund`).
A user holds at most MAX_SOCKETS_PER_USER sockets at once (`open_socket`).
"""

import math
import time
from dataclasses import dataclass
from functools import cached_property

from django.conf import settings

from coaching.realtime.cluster_limits import (
    Leases,
    LimitStore,
    Link,
    RedisDown,
    SocketSlots,
    Upkeep,
)

# Never limited: the socket's keep-alive and leaving.
FREE_EVENTS = frozenset({"heartbeat", "phx_leave"})
# What a frame that is not a message counts as: a push (the `client` bucket).
BAD_FRAME = "bad_frame"
# A socket's first push, whose tokens its connect leases: its join.
CONNECT_PUSH = "phx_join"
# Full buckets are forgotten (a new one is the same) this often.
SWEEP_SECONDS = 60.0


@dataclass
class Bucket:
    rate: float  # tokens per second
    burst: float  # capacity
    tokens: float
    updated: float

    def refill(self, now: float) -> None:
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def wait(self) -> float:
        """Seconds until a token is there (0: now)."""
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate


def _limits(event: str) -> list[tuple[str, float, int]]:
    limits = [("client", settings.CLIENT_EVENTS_PER_SECOND, settings.CLIENT_EVENTS_BURST)]
    if event == "chat:new":
        limits.append(("chat", settings.CHAT_RATE_PER_SECOND, settings.CHAT_RATE_BURST))
    if event == "call:signal":
        limits.append(("call", settings.CALL_SIGNALS_PER_SECOND, settings.CALL_SIGNALS_BURST))
    return limits


class UserLimits:
    """The buckets of every user on this process (without Redis, or while it is down)."""

    def __init__(self) -> None:
        self._buckets: dict[tuple[int, str], Bucket] = {}
        self._swept = time.monotonic()

    def check(self, user_id: int, event: str, now: float | None = None) -> float:
        """Take a token for `event` from each of the user's buckets it uses: 0.0, or
        nothing taken and the seconds to wait before it would pass."""
        if event in FREE_EVENTS:
            return 0.0
        now = time.monotonic() if now is None else now
        self._sweep(now)
        buckets = []
        for name, rate, burst in _limits(event):
            bucket = self._buckets.get((user_id, name))
            if bucket is None:
                bucket = self._buckets[(user_id, name)] = Bucket(rate, burst, burst, now)
            bucket.rate, bucket.burst = rate, burst
            bucket.refill(now)
            buckets.append(bucket)
        wait = max(bucket.wait() for bucket in buckets)
        if wait == 0:
            for bucket in buckets:
                bucket.tokens -= 1
        return wait

    def refund(self, user_id: int, event: str) -> None:
        """Give back the tokens `check` took for `event`: a push refused for a reason the
        client did not cause or cannot help (`unavailable`, `rate_limited`, invalid
        input), or a chat resend answered from what was stored, costs nothing."""
        if event in FREE_EVENTS:
            return
        for name, _, _ in _limits(event):
            bucket = self._buckets.get((user_id, name))
            if bucket is not None:
                bucket.tokens = min(bucket.burst, bucket.tokens + 1)

    def _sweep(self, now: float) -> None:
        if now - self._swept < SWEEP_SECONDS:
            return
        self._swept = now
        for key, bucket in list(self._buckets.items()):
            bucket.refill(now)
            if bucket.tokens >= bucket.burst:
                del self._buckets[key]


@dataclass
class _Cluster:
    link: Link
    leases: Leases
    slots: SocketSlots
    upkeep: Upkeep


class Limits:
    """A user's limits as the socket meets them: cluster-wide with REDIS_URL, per
    process without it or while Redis does not answer."""

    def __init__(self) -> None:
        self.local = UserLimits()

    @cached_property
    def _cluster(self) -> _Cluster | None:
        if not settings.REDIS_URL:
            return None
        # Keyed by database too, as the REST throttles: they count per user id.
        prefix = f"{settings.REALTIME_PREFIX}:limits:{settings.DATABASES['default']['NAME']}"
        store, link = LimitStore(settings.REDIS_URL, prefix), Link()
        leases = Leases(store, link)
        slots = SocketSlots(store, link, leases)
        return _Cluster(link, leases, slots, Upkeep(store, link, leases, slots))

    @cached_property
    def _slots(self) -> SocketSlots:
        cluster = self._cluster
        return SocketSlots(None, None) if cluster is None else cluster.slots

    def _cluster_wide(self) -> _Cluster | None:
        cluster = self._cluster
        return None if cluster is None or cluster.link.down else cluster

    async def check(self, user_id: int | str, event: str) -> float:
        """Take a token for `event` from each of the user's buckets it uses: 0.0, or
        nothing taken and the seconds to wait before it would pass."""
        if event in FREE_EVENTS:
            return 0.0
        cluster = self._cluster_wide()
        if cluster is not None:
            try:
                return await cluster.leases.take(user_id, _limits(event))
            except RedisDown:
                pass  # logged once by the link; this process's buckets from now on
        return self.local.check(user_id, event)

    def refund(self, user_id: int | str, event: str) -> None:
        """Give back the tokens `check` took for `event` (see UserLimits.refund)."""
        if event in FREE_EVENTS:
            return
        cluster = self._cluster_wide()
        if cluster is not None:
            cluster.leases.refund(user_id, _limits(event))
        else:
            self.local.refund(user_id, event)

    async def open_socket(self, user_id: int | str) -> str | None:
        """A slot for a new socket of the user's, or None: they hold
        MAX_SOCKETS_PER_USER already. `close_socket` gives it back. Cluster-wide, the
        same round trip leases the `client` tokens the socket's first push (its join)
        takes."""
        if self._cluster is not None:
            self._cluster.upkeep.start()
        return await self._slots.claim(user_id, _limits(CONNECT_PUSH)[0])

    def close_socket(self, user_id: int | str, slot: str) -> None:
        self._slots.release(user_id, slot)


user_limits = Limits()


def rate_limited(wait: float) -> dict:
    """The error reply of a refused push."""
    return {
        "reason": "rate_limited",
        "message": "Too many messages; slow down.",
        "retry_after_ms": max(1, math.ceil(wait * 1000)),
    }


class AbuseMeter:
    """One socket's refused pushes, per second of the monotonic clock.

    `refused()` is True once the socket has been refused at least
    CLIENT_EVENTS_PER_SECOND times in each of RATE_LIMIT_CLOSE_SECONDS consecutive
    seconds: it keeps pushing well over the limit, and is closed. A burst of a
    couple of seconds never gets there.
    """

    def __init__(self) -> None:
        self._second: int | None = None
        self._count = 0
        self._streak = 0  # consecutive abusive seconds before the current one

    def refused(self, now: float | None = None) -> bool:
        threshold = settings.CLIENT_EVENTS_PER_SECOND
        second = int(time.monotonic() if now is None else now)
        if second != self._second:
            follows = self._second is not None and second == self._second + 1
            self._streak = self._streak + 1 if follows and self._count >= threshold else 0
            self._second, self._count = second, 0
        self._count += 1
        return self._count >= threshold and self._streak + 1 >= settings.RATE_LIMIT_CLOSE_SECONDS
