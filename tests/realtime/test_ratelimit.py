"""The token buckets and the abuse rule, on a clock the test drives; and the buckets and
socket counts shared across processes in Redis (a private redis-server)."""

import asyncio
import logging
import time
import uuid
from collections.abc import Iterator

import pytest
import redis

from coaching.realtime.cluster_limits import IDLE_SECONDS, Leases, LimitStore, Link, SocketSlots
from coaching.realtime.ratelimit import AbuseMeter, Limits, UserLimits
from tests.support.faults import RedisServer


@pytest.fixture
def limits(settings) -> UserLimits:
    settings.CHAT_RATE_PER_SECOND, settings.CHAT_RATE_BURST = 5, 20
    settings.CLIENT_EVENTS_PER_SECOND, settings.CLIENT_EVENTS_BURST = 20, 60
    settings.RATE_LIMIT_CLOSE_SECONDS = 5
    return UserLimits()


def test_a_burst_passes_then_pushes_wait_for_the_refill(limits):
    assert all(limits.check(1, "chat:new", now=100.0) == 0 for _ in range(20))
    assert limits.check(1, "chat:new", now=100.0) == pytest.approx(0.2)
    assert limits.check(1, "chat:new", now=100.2) == 0
    assert limits.check(2, "chat:new", now=100.2) == 0  # another user: a bucket of their own


def test_a_refused_chat_line_takes_nothing_from_the_other_events(limits):
    for _ in range(20):
        limits.check(1, "chat:new", now=0.0)
    for _ in range(100):
        assert limits.check(1, "chat:new", now=0.0) > 0
    assert sum(limits.check(1, "session:control", now=0.0) == 0 for _ in range(60)) == 40


def test_heartbeats_and_leaves_are_free(limits):
    for _ in range(1000):
        assert limits.check(1, "heartbeat", now=0.0) == 0
        assert limits.check(1, "phx_leave", now=0.0) == 0
    assert limits.check(1, "phx_join", now=0.0) == 0


def refuse_for(meter: AbuseMeter, seconds: range, per_second: int) -> bool:
    return any(meter.refused(now=s + i / per_second) for s in seconds for i in range(per_second))


def test_only_sustained_refusals_close_the_socket(limits):
    assert not refuse_for(AbuseMeter(), range(4), per_second=1000)  # a 4 s burst
    assert refuse_for(AbuseMeter(), range(5), per_second=20)
    assert not refuse_for(AbuseMeter(), range(30), per_second=19)  # under the threshold


def test_a_quiet_second_restarts_the_count(limits):
    meter = AbuseMeter()
    assert not refuse_for(meter, range(4), per_second=50)
    assert not refuse_for(meter, range(5, 9), per_second=50)  # second 4 was quiet


def test_refused_pushes_get_their_tokens_back(limits):
    for _ in range(20):
        assert limits.check(1, "chat:new", now=0.0) == 0
        limits.refund(1, "chat:new")
    assert limits.check(1, "chat:new", now=0.0) == 0  # nothing was spent
    for _ in range(100):
        limits.refund(1, "chat:new")
    assert sum(limits.check(1, "chat:new", now=0.0) == 0 for _ in range(30)) == 20  # the burst


# --- Across the cluster: the buckets in Redis, spent in leases (cluster_limits.py) -----


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.close()


@pytest.fixture
def store(redis_server) -> LimitStore:
    return LimitStore(redis_server.url, f"test:{uuid.uuid4().hex}")


def process(store: LimitStore) -> Leases:
    """One server process's leases of the buckets in `store`."""
    return Leases(store, Link())


def counting_leases(store: LimitStore) -> list[int]:
    """Counts the round trips that ask `store` for tokens."""
    calls = [0]
    lease = store.lease

    async def counted(*args):
        calls[0] += 1
        return await lease(*args)

    store.lease = counted
    return calls


async def test_two_processes_spend_one_bucket_together(store):
    one, two = process(store), process(store)
    chat = ("chat", 0.001, 10)  # no refill within the test
    passed = [await p.take(7, [chat]) == 0 for _ in range(15) for p in (one, two)]
    assert sum(passed) == 10
    assert await two.take(8, [chat]) == 0  # another user: a bucket of their own


async def test_the_combined_rate_stays_within_the_configured_rate(store):
    rate, burst = 50, 10
    limit = ("client", rate, burst)
    passed = [0]

    async def push_flat_out(leases: Leases, until: float) -> None:
        while time.monotonic() < until:
            if await leases.take(7, [limit]) == 0:
                passed[0] += 1
            await asyncio.sleep(0)

    started = time.monotonic()
    until = started + 1.5
    await asyncio.gather(*(push_flat_out(process(store), until) for _ in range(3)))
    elapsed = time.monotonic() - started
    assert passed[0] <= burst + rate * elapsed
    assert passed[0] >= burst + rate * elapsed * 0.8, passed  # and the rate is usable
    print(f"\n3 processes flat out for {elapsed:.2f} s: {passed[0]} passed, rate {rate}/s")


async def test_pushes_within_a_lease_do_not_ask_redis(store):
    calls = counting_leases(store)
    leases = process(store)
    limit = ("client", 1000, 400)  # leases of 200
    assert [await leases.take(7, [limit]) for _ in range(300)] == [0.0] * 300
    assert calls[0] <= 3


async def test_pushes_over_the_limit_are_refused_without_asking_redis_each(store):
    calls = counting_leases(store)
    leases = process(store)
    chat = ("chat", 1, 2)
    assert [await leases.take(7, [chat]) == 0 for _ in range(2)] == [True, True]
    waits = [await leases.take(7, [chat]) for _ in range(1000)]
    assert all(0 < wait <= 1 for wait in waits)
    assert calls[0] <= 4


async def test_a_push_takes_from_every_bucket_it_uses_or_from_none(store):
    leases = process(store)
    client, chat = ("client", 0.001, 5), ("chat", 0.001, 2)
    assert [await leases.take(7, [client, chat]) == 0 for _ in range(4)] == [1, 1, 0, 0]
    # The refused chat lines took nothing from the client bucket: 3 are left.
    assert [await leases.take(7, [client]) == 0 for _ in range(4)] == [1, 1, 1, 0]


async def test_refunded_tokens_are_spent_again(store):
    one, two = process(store), process(store)
    chat = ("chat", 0.001, 3)
    for _ in range(3):
        assert await one.take(7, [chat]) == 0
        one.refund(7, [chat])
    assert sum([await one.take(7, [chat]) == 0 for _ in range(5)]) == 3
    assert await two.take(7, [chat]) > 0  # and the other process found none


async def test_an_idle_lease_goes_back_to_the_bucket(store):
    one, two = process(store), process(store)
    chat = ("chat", 4, 10)  # leases of 4; a token a quarter second
    assert await one.take(7, [chat]) == 0  # and three left in its lease
    await one.give_back_idle(time.monotonic() + IDLE_SECONDS + 1)
    assert sum([await two.take(7, [chat]) == 0 for _ in range(12)]) == 9


async def test_a_users_sockets_count_across_processes_until_one_closes(store, settings):
    settings.MAX_SOCKETS_PER_USER = 3
    one, two = SocketSlots(store, Link()), SocketSlots(store, Link())
    slots = [await one.claim(7), await two.claim(7), await one.claim(7)]
    assert None not in slots
    assert await two.claim(7) is None and await one.claim(7) is None
    assert await two.claim(8) is not None  # another user
    one.release(7, slots[0])
    await asyncio.sleep(0.05)  # the removal is written in the background
    assert await two.claim(7) is not None


async def test_a_connects_claim_leases_its_first_push_in_the_same_round_trip(store, settings):
    """The socket's join then asks Redis for nothing; a refused connect takes no token,
    and a user whose bucket is spent is told so at their first push, without asking."""
    settings.MAX_SOCKETS_PER_USER = 1
    calls = counting_leases(store)
    leases = process(store)
    client = ("client", 0.001, 4)  # leases of 1; no refill within the test
    assert await SocketSlots(store, Link(), leases).claim(7, client) is not None
    assert await leases.take(7, [client]) == 0
    assert calls == [0]
    assert await SocketSlots(store, Link(), process(store)).claim(7, client) is None
    other = process(store)  # the refused connect took none of the 3 tokens left
    assert [await other.take(7, [client]) == 0 for _ in range(4)] == [True, True, True, False]

    settings.MAX_SOCKETS_PER_USER = 2
    one = ("client", 0.001, 1)
    assert await SocketSlots(store, Link(), process(store)).claim(8, one)  # takes the token
    later = process(store)
    calls[0] = 0
    assert await SocketSlots(store, Link(), later).claim(8, one)
    assert await later.take(8, [one]) > 0
    assert calls == [0]


async def test_the_claims_of_connects_that_come_together_take_one_round_trip(
    store, redis_server, settings
):
    settings.MAX_SOCKETS_PER_USER = 2
    slots = SocketSlots(store, Link(), process(store))
    client = ("client", 10, 20)
    assert await slots.claim(1, client)  # the script loaded

    def scripts_run() -> int:
        stats = redis.Redis.from_url(redis_server.url).info("commandstats")
        return stats["cmdstat_evalsha"]["calls"]

    before = scripts_run()
    users = [1, 1, 2, 3, 1]
    claimed = await asyncio.gather(*(slots.claim(user, client) for user in users))
    assert scripts_run() - before == 1
    assert [slot is not None for slot in claimed] == [True, False, True, True, False]


async def test_the_leases_of_users_who_push_together_take_one_round_trip(store, redis_server):
    """Many users' first pushes (or top-ups) at once: one script call fills them all,
    each from the user's own bucket."""
    leases = process(store)
    chat = ("chat", 0.001, 4)  # leases of 2; no refill within the test
    assert await leases.take(0, [chat]) == 0  # the script loaded

    def scripts_run() -> int:
        stats = redis.Redis.from_url(redis_server.url).info("commandstats")
        return stats["cmdstat_evalsha"]["calls"]

    before = scripts_run()
    users = range(1, 51)
    assert await asyncio.gather(*(leases.take(user, [chat]) for user in users)) == [0.0] * 50
    assert scripts_run() - before == 1
    for _ in range(3):  # the lease's second, then the burst's other two
        assert [await leases.take(user, [chat]) for user in users] == [0.0] * 50
    assert all([await leases.take(user, [chat]) > 0 for user in users])  # spent


async def test_a_crashed_processs_sockets_stop_counting(store, settings):
    settings.MAX_SOCKETS_PER_USER, settings.PRESENCE_NODE_TTL = 2, 0.4
    renewing, crashed, other = (SocketSlots(store, Link()) for _ in range(3))
    assert await renewing.claim(7) and await crashed.claim(7)
    assert await other.claim(7) is None
    for _ in range(4):  # past the TTL: the renewed slot lives on, the other expires
        await renewing.renew()
        await asyncio.sleep(0.15)
    assert await other.claim(7) is not None
    assert await other.claim(7) is None


async def test_without_redis_each_process_counts_its_own_sockets(settings):
    settings.MAX_SOCKETS_PER_USER = 2
    slots = SocketSlots(None, None)
    first = await slots.claim(7)
    assert await slots.claim(7) and await slots.claim(7) is None
    slots.release(7, first)
    assert await slots.claim(7) is not None


async def test_with_redis_down_the_limits_are_per_process_said_once_then_cluster_wide_again(
    settings, caplog
):
    private = RedisServer().start()
    try:
        settings.REDIS_URL = private.url
        settings.CHAT_RATE_PER_SECOND, settings.CHAT_RATE_BURST = 0.001, 3
        settings.MAX_SOCKETS_PER_USER = 1
        limits = Limits()
        assert await limits.open_socket(7) is not None  # (and starts the upkeep)
        assert [await limits.check(7, "chat:new") == 0 for _ in range(4)] == [1, 1, 1, 0]

        private.kill()
        with caplog.at_level(logging.INFO, logger="coaching.realtime.cluster_limits"):
            # Found by the next push that asks Redis: from then on each user has this
            # process's own buckets, full, with one line in the log.
            assert [await limits.check(9, "chat:new") == 0 for _ in range(50)] == [1] * 3 + [0] * 47
            assert [await limits.check(7, "chat:new") == 0 for _ in range(4)] == [1, 1, 1, 0]
            assert await limits.open_socket(7) is None  # this process's socket counts
            assert await limits.open_socket(8) is not None
            down = [r for r in caplog.records if r.levelno == logging.WARNING]
            assert [r.getMessage().split(" (")[0] for r in down] == ["limits: Redis is unavailable"]
            assert "per process" in down[0].getMessage()

            private.start()  # empty: the user's bucket is full again, in Redis
            await wait_until_passes(limits, 7, "chat:new", wait=5)
            assert [r.levelno for r in caplog.records].count(logging.WARNING) == 1
            back = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
            assert back == ["limits: Redis answers again: rate and socket limits are cluster-wide"]
        # The slots of the sockets opened meanwhile were written back.
        assert private.client().zcard(f"{limits_prefix(settings)}:8:sockets") == 1
    finally:
        private.close()


async def wait_until_passes(limits: Limits, user_id: int, event: str, wait: float) -> None:
    deadline = time.monotonic() + wait
    while await limits.check(user_id, event) > 0:
        assert time.monotonic() < deadline, f"{event} still refused after {wait} s"
        await asyncio.sleep(0.05)


def limits_prefix(settings) -> str:
    return f"{settings.REALTIME_PREFIX}:limits:{settings.DATABASES['default']['NAME']}"
