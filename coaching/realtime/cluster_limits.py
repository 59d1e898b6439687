"""A user's limits held across the cluster in Redis, without a round trip per push.

**Pushes.** Redis holds each user's token buckets (one per kind: ratelimit.py says
which kinds a push takes from, and their rates), refilled by Redis's own clock. A
process does not ask Redis for each push: it takes a *lease* of a few tokens
(LEASE_SECONDS of the rate) from the user's bucket and spends it locally; when the
lease is three quarters spent it asks for more in the background (the leases asked for
while one call runs go together in the next: one script call for many users). A push
waits for Redis only when this process holds none of the user's tokens: their first
push here, a lease of one token spent (rates of 2 a second or less), or pushes at the
limit (at most `rate` round trips a second); when Redis has none it says how long until
it will, and pushes until then are refused here without asking. Every token spent
anywhere came from the user's one bucket, so the cluster together never passes the
configured rate and burst (a lease held idle on one process is given back after
IDLE_SECONDS).

**Sockets.** Each open socket holds a slot in its user's sorted set (scored by when it
expires); a connect that would make more than MAX_SOCKETS_PER_USER is refused. Every
PRESENCE_HEARTBEAT a process renews its sockets' slots for PRESENCE_NODE_TTL, so those
of a crashed process stop counting within PRESENCE_NODE_TTL, as its presence does.

**Redis down.** The first failed call switches the process to its own per-process limits
(ratelimit.UserLimits, and its own sockets' count), with one WARNING line; the upkeep
task asks Redis every PROBE_SECONDS meanwhile, and once it answers the limits are
cluster-wide again (one INFO line) and the slots of the sockets opened meanwhile are
written back. Pushes never wait for a Redis that is known to be down.
"""

import asyncio
import itertools
import json
import logging
import math
import time
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TypeVar

import redis.asyncio as aioredis
from django.conf import settings
from redis.exceptions import RedisError

from coaching.realtime.coalesce import Coalesced
from coaching.realtime.redis_client import PerLoop

logger = logging.getLogger(__name__)

# A lease is this many seconds of a bucket's rate (at least one token, at most half
# its burst): few round trips for a steady sender, few tokens idle on other processes.
LEASE_SECONDS = 1.0
# A lease not used for this long goes back to the user's bucket: longer than a person
# takes between two chat lines, so theirs wait for no round trip.
IDLE_SECONDS = 30.0
# How long a push (or a connect) waits for Redis before the limits go per process: past
# the client's retries of a refused connection (~0.4 s), and a busy event loop's stalls.
REDIS_TIMEOUT = 1.0
# While Redis is down, how often the upkeep task asks whether it answers again.
PROBE_SECONDS = 1.0

# The problems that mean Redis did not answer (and not a bug of ours).
REDIS_DOWN = (RedisError, OSError, TimeoutError)

Limit = tuple[str, float, int]  # (kind, tokens per second, burst)
# (user, slot, most, ttl seconds, (limit, tokens) to lease with it, if any)
Claim = tuple[int | str, str, int, float, tuple[Limit, int] | None]
# What a claim without a lease names (its bucket is never touched).
NO_LEASE: Limit = ("none", 1.0, 1)
T = TypeVar("T")

# The user's bucket of one kind (key), refilled at `rate` up to `burst` by Redis's clock.
# change > 0: lease up to that many tokens; < 0: give that many back. Returns the
# tokens leased and the ms until the bucket holds a whole token again (0: it does).
_TAKE = """
local function take(key, now, change, rate, burst)
  local held = redis.call('HMGET', key, 'tokens', 'at')
  local tokens = tonumber(held[1]) or burst
  local at = tonumber(held[2]) or now
  tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
  local leased = 0
  if change > 0 then
    leased = math.max(0, math.min(change, math.floor(tokens)))
    tokens = tokens - leased
  else
    tokens = math.min(burst, tokens - change)
  end
  redis.call('HSET', key, 'tokens', tostring(tokens), 'at', now)
  redis.call('PEXPIRE', key, math.ceil((burst - tokens) / rate * 1000) + 1000)
  local wait = 0
  if tokens < 1 then wait = math.ceil((1 - tokens) / rate * 1000) end
  return leased, wait
end
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
"""

# `take` on each bucket KEYS[i]: ARGV[3i-2..3i] = change, rate, burst. Returns
# {leased, wait} for each, flat.
_BUCKETS = (
    _TAKE
    + """
local out = {}
for i, key in ipairs(KEYS) do
  local at = (i - 1) * 3
  local leased, wait = take(
    key, now, tonumber(ARGV[at + 1]), tonumber(ARGV[at + 2]), tonumber(ARGV[at + 3]))
  out[#out + 1] = leased
  out[#out + 1] = wait
end
return out
"""
)

# Claims, each a slot for a socket in its user's set (KEYS[2i-1]) unless the user holds
# `most` live ones; the slot expires in `ttl` ms. Once claimed, and if `want` > 0, a
# lease of up to `want` tokens of the bucket KEYS[2i] as `take` does: the socket's first
# push then waits for no round trip. ARGV: (slot, most, ttl, want, rate, burst) for each.
# Returns (1 if claimed else 0, leased, wait) for each.
_CLAIMS = (
    _TAKE
    + """
local out = {}
for i = 1, #KEYS / 2 do
  local slots, bucket, at = KEYS[2 * i - 1], KEYS[2 * i], (i - 1) * 6
  local slot, most, ttl = ARGV[at + 1], tonumber(ARGV[at + 2]), tonumber(ARGV[at + 3])
  local want = tonumber(ARGV[at + 4])
  redis.call('ZREMRANGEBYSCORE', slots, '-inf', now)
  local claimed, leased, wait = 1, 0, 0
  if not redis.call('ZSCORE', slots, slot) and redis.call('ZCARD', slots) >= most then
    claimed = 0
  else
    redis.call('ZADD', slots, now + ttl, slot)
    redis.call('PEXPIRE', slots, ttl)
    if want > 0 then
      leased, wait = take(bucket, now, want, tonumber(ARGV[at + 5]), tonumber(ARGV[at + 6]))
    end
  end
  out[#out + 1] = claimed
  out[#out + 1] = leased
  out[#out + 1] = wait
end
return out
"""
)

# Renew slots for ARGV[1] ms: KEYS[i]'s are the JSON list ARGV[i + 1].
_RENEW = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local ttl = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  for _, slot in ipairs(cjson.decode(ARGV[i + 1])) do
    redis.call('ZADD', key, now + ttl, slot)
  end
  redis.call('PEXPIRE', key, ttl)
end
return 0
"""


class LimitStore:
    """The Redis side: users' buckets and socket slots under one key prefix."""

    def __init__(self, url: str, prefix: str) -> None:
        self._prefix = prefix
        self._clients = PerLoop(url)
        self._scripts: dict[aioredis.Redis, tuple] = {}
        self._claims = Coalesced(self._claim_all)
        self._leases = Coalesced(self._change_all)

    def _redis(self) -> tuple[aioredis.Redis, tuple]:
        client = self._clients.get()
        scripts = self._scripts.get(client)
        if scripts is None:
            scripts = self._scripts[client] = tuple(
                client.register_script(s) for s in (_BUCKETS, _CLAIMS, _RENEW)
            )
        return client, scripts

    def _bucket(self, user_id: int | str, kind: str) -> str:
        return f"{self._prefix}:{user_id}:{kind}"

    def _slots(self, user_id: int | str) -> str:
        return f"{self._prefix}:{user_id}:sockets"

    async def lease(self, user_id: int | str, limit: Limit, want: int) -> tuple[int, float]:
        """Take up to `want` tokens: (tokens taken, seconds until one is there). The
        leases asked for while one call runs go to Redis together in the next."""
        return await self._leases((user_id, limit, want))

    async def give_back(self, leases: list[tuple[int | str, Limit, int]]) -> None:
        """Return unspent tokens: (user, limit, tokens) each, in one call."""
        await self._change_all([(user_id, limit, -tokens) for user_id, limit, tokens in leases])

    async def _change_all(
        self, changes: list[tuple[int | str, Limit, int]]
    ) -> list[tuple[int, float]]:
        """`take` on each (user, limit, change) in one script call."""
        _, (buckets, _, _) = self._redis()
        keys: list[str] = []
        args: list[int | float] = []
        for user_id, (kind, rate, burst), change in changes:
            keys.append(self._bucket(user_id, kind))
            args += [change, rate, burst]
        out = await buckets(keys, args)
        return [(int(out[i]), int(out[i + 1]) / 1000) for i in range(0, len(out), 2)]

    async def claim(
        self, user_id: int | str, slot: str, most: int, ttl: float, lease: tuple[Limit, int] | None
    ) -> tuple[bool, int, float]:
        """Claim a slot and, if claimed, take up to `lease`'s tokens of its limit (as
        `lease`): (claimed, tokens taken, seconds until one is there). The claims of
        connects that come together go to Redis in one script call."""
        return await self._claims((user_id, slot, most, ttl, lease))

    async def _claim_all(self, claims: list[Claim]) -> list[tuple[bool, int, float]]:
        _, (_, claim, _) = self._redis()
        keys: list[str] = []
        args: list[str | int | float] = []
        for user_id, slot, most, ttl, lease in claims:
            (kind, rate, burst), want = lease or (NO_LEASE, 0)
            keys += [self._slots(user_id), self._bucket(user_id, kind)]
            args += [slot, most, math.ceil(ttl * 1000), want, rate, burst]
        out = await claim(keys, args)
        return [
            (bool(out[i]), int(out[i + 1]), int(out[i + 2]) / 1000) for i in range(0, len(out), 3)
        ]

    async def renew(self, slots: dict[int | str, set[str]], ttl: float) -> None:
        """Renew (or write back) these users' slots for `ttl` seconds."""
        if not slots:
            return
        _, (_, _, renew) = self._redis()
        users = list(slots)
        await renew(
            [self._slots(u) for u in users],
            [math.ceil(ttl * 1000), *(json.dumps(sorted(slots[u])) for u in users)],
        )

    async def release(self, user_id: int | str, slot: str) -> None:
        client, _ = self._redis()
        await client.zrem(self._slots(user_id), slot)

    async def ping(self) -> None:
        client, _ = self._redis()
        await client.ping()


class RedisDown(Exception):
    """Redis did not answer: the limits are per process until it does."""


class Link:
    """Whether the limits are cluster-wide now; says so in the log once per change."""

    def __init__(self) -> None:
        self.down = False

    async def call(self, work: Awaitable[T]) -> T:
        """`work`'s result within REDIS_TIMEOUT, or RedisDown (the switch logged)."""
        try:
            async with asyncio.timeout(REDIS_TIMEOUT):
                return await work
        except TimeoutError as exc:
            self.failed(f"no answer within {REDIS_TIMEOUT:g} s")
            raise RedisDown from exc
        except REDIS_DOWN as exc:
            self.failed(repr(exc))
            raise RedisDown from exc

    def failed(self, why: str) -> None:
        if not self.down:
            self.down = True
            logger.warning(
                "limits: Redis is unavailable (%s): rate and socket limits are per "
                "process until it answers",
                why,
            )

    def answered(self) -> None:
        if self.down:
            self.down = False
            logger.info("limits: Redis answers again: rate and socket limits are cluster-wide")


@dataclass
class Lease:
    """Tokens of one user's bucket of one kind that this process holds."""

    limit: Limit
    tokens: int = 0
    used: float = 0.0  # monotonic: last taken from or refunded to
    empty_until: float = 0.0  # monotonic: Redis said it holds no token before then
    filling: asyncio.Task | None = None


def lease_size(limit: Limit) -> int:
    _, rate, burst = limit
    return max(1, min(burst // 2, math.ceil(rate * LEASE_SECONDS)))


def low_water(limit: Limit) -> int:
    """Below this many tokens a lease is topped up in the background: a quarter of it,
    at least one; never for a lease of one token (a spare held here is one the user's
    other processes lack)."""
    size = lease_size(limit)
    return 0 if size == 1 else max(1, size // 4)


class Leases:
    """This process's leases of its users' buckets (see the module's docstring)."""

    def __init__(self, store: LimitStore, link: Link) -> None:
        self._store, self._link = store, link
        self._held: dict[tuple[int | str, str], Lease] = {}

    async def take(self, user_id: int | str, limits: list[Limit]) -> float:
        """A token of each of `limits` for one push: 0.0, or nothing taken and the
        seconds until it would pass. RedisDown when Redis did not answer."""
        while True:
            now = time.monotonic()
            leases = [self._lease(user_id, limit) for limit in limits]
            short = [lease for lease in leases if lease.tokens < 1]
            if not short:
                break
            lease = short[0]
            if now < lease.empty_until:
                return lease.empty_until - now
            await self._fill(user_id, lease)
            if lease.tokens < 1:
                return max(lease.empty_until - time.monotonic(), 0.001)
        for lease in leases:
            lease.tokens -= 1
            lease.used = now
            if lease.tokens < low_water(lease.limit) and lease.filling is None:
                if now >= lease.empty_until:
                    self._start_fill(user_id, lease)  # in the background
        return 0.0

    def refund(self, user_id: int | str, limits: list[Limit]) -> None:
        for kind, _, burst in limits:
            lease = self._held.get((user_id, kind))
            if lease is not None:
                lease.tokens = min(burst, lease.tokens + 1)
                lease.used = time.monotonic()

    def _lease(self, user_id: int | str, limit: Limit) -> Lease:
        lease = self._held.get((user_id, limit[0]))
        if lease is None:
            lease = self._held[(user_id, limit[0])] = Lease(limit)
        lease.limit = limit  # the settings' of now
        return lease

    def _start_fill(self, user_id: int | str, lease: Lease) -> asyncio.Task:
        lease.filling = asyncio.get_running_loop().create_task(self._get(user_id, lease))
        return lease.filling

    async def _fill(self, user_id: int | str, lease: Lease) -> None:
        task = lease.filling or self._start_fill(user_id, lease)
        if not await asyncio.shield(task):
            raise RedisDown

    async def _get(self, user_id: int | str, lease: Lease) -> bool:
        """Top the lease up to its size; False when Redis did not answer."""
        want = max(1, lease_size(lease.limit) - lease.tokens)
        try:
            leased, wait = await self._link.call(self._store.lease(user_id, lease.limit, want))
        except RedisDown:
            return False
        finally:
            lease.filling = None
        self._credit(lease, want, leased, wait)
        return True

    def wanted(self, user_id: int | str, limit: Limit) -> int:
        """How many tokens of `limit` a lease taken now would ask for (0: none, the one
        held is full or being filled)."""
        lease = self._lease(user_id, limit)
        return 0 if lease.filling is not None else max(0, lease_size(limit) - lease.tokens)

    def credit(self, user_id: int | str, limit: Limit, want: int, leased: int, wait: float) -> None:
        """Tokens leased along with another call (a socket's slot claim)."""
        lease = self._lease(user_id, limit)
        lease.used = time.monotonic()
        self._credit(lease, want, leased, wait)

    @staticmethod
    def _credit(lease: Lease, want: int, leased: int, wait: float) -> None:
        lease.tokens += leased
        if leased < want:
            lease.empty_until = time.monotonic() + wait

    def forget(self) -> None:
        """Redis was down: what was leased before is not trusted (it may have lost it)."""
        self._held = {}

    async def give_back_idle(self, now: float) -> None:
        """Return the tokens of leases idle for IDLE_SECONDS; forget spent ones."""
        idle = []
        for (user_id, kind), lease in list(self._held.items()):
            if lease.filling is None and now - lease.used > IDLE_SECONDS:
                del self._held[(user_id, kind)]
                if lease.tokens > 0:
                    idle.append((user_id, lease.limit, lease.tokens))
        if idle:
            await self._link.call(self._store.give_back(idle))


class SocketSlots:
    """This process's sockets, by user, each holding a slot in Redis (or counted here
    alone while Redis is down)."""

    def __init__(
        self, store: LimitStore | None, link: Link | None, leases: Leases | None = None
    ) -> None:
        self._store, self._link, self._leases = store, link, leases
        self._slots: dict[int | str, set[str]] = {}
        self._node = uuid.uuid4().hex[:12]
        self._numbers = itertools.count()
        self._writes = asyncio.Lock()  # a renewal never writes back a slot released meanwhile
        self._removing: set[asyncio.Task] = set()

    async def claim(self, user_id: int | str, first_push: Limit | None = None) -> str | None:
        """A slot for a new socket of the user's, or None: they hold the most allowed.
        With `first_push` (the limit the socket's first push takes from), the claim also
        leases that limit's tokens when this process holds too few."""
        most = settings.MAX_SOCKETS_PER_USER
        slot = f"{self._node}:{next(self._numbers)}"
        if self._store is not None and not self._link.down:
            lease = None
            if first_push is not None and self._leases is not None:
                want = self._leases.wanted(user_id, first_push)
                lease = (first_push, want) if want else None
            try:
                claimed, leased, wait = await self._link.call(
                    self._store.claim(user_id, slot, most, settings.PRESENCE_NODE_TTL, lease)
                )
            except RedisDown:
                claimed = len(self._slots.get(user_id, ())) < most
            else:
                if claimed and lease is not None:
                    self._leases.credit(user_id, *lease, leased, wait)
        else:
            claimed = len(self._slots.get(user_id, ())) < most
        if not claimed:
            return None
        self._slots.setdefault(user_id, set()).add(slot)
        return slot

    def release(self, user_id: int | str, slot: str) -> None:
        """The socket closed: its slot goes (in Redis, in the background)."""
        held = self._slots.get(user_id)
        if held is None or slot not in held:
            return
        held.discard(slot)
        if not held:
            del self._slots[user_id]
        if self._store is not None and not self._link.down:  # else Redis lets it expire
            task = asyncio.get_running_loop().create_task(self._remove(user_id, slot))
            self._removing.add(task)
            task.add_done_callback(self._removing.discard)

    async def _remove(self, user_id: int | str, slot: str) -> None:
        async with self._writes:
            try:
                await self._link.call(self._store.release(user_id, slot))
            except RedisDown:
                pass  # it expires

    async def renew(self) -> None:
        async with self._writes:
            slots = {user: set(held) for user, held in self._slots.items()}
            await self._link.call(self._store.renew(slots, settings.PRESENCE_NODE_TTL))

    def held(self) -> int:
        return sum(len(held) for held in self._slots.values())


class Upkeep:
    """The process's one background task for the limits in Redis: idle leases go back,
    socket slots are renewed each PRESENCE_HEARTBEAT, and while Redis is down it is
    asked every PROBE_SECONDS whether it answers again."""

    def __init__(self, store: LimitStore, link: Link, leases: Leases, slots: SocketSlots) -> None:
        self._store, self._link, self._leases, self._slots = store, link, leases, slots
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done() or self._task.get_loop() is not loop:
            self._task = loop.create_task(self._run())

    async def _run(self) -> None:
        renewed = time.monotonic()
        while True:
            await asyncio.sleep(min(PROBE_SECONDS, settings.PRESENCE_HEARTBEAT))
            now = time.monotonic()
            try:
                if self._link.down:
                    await self._back()
                    renewed = now
                    continue
                await self._leases.give_back_idle(now)
                if now - renewed >= settings.PRESENCE_HEARTBEAT:
                    renewed = now
                    await self._slots.renew()
            except RedisDown:
                continue

    async def _back(self) -> None:
        """Redis answers again: forget the leases from before, write the slots back."""
        try:
            async with asyncio.timeout(REDIS_TIMEOUT):
                await self._store.ping()
        except REDIS_DOWN:
            return
        self._leases.forget()
        self._link.answered()
        await self._slots.renew()
