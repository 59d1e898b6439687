"""Where the review state lives: changes are atomic, also across Redis clients."""

import asyncio
import secrets

import pytest
from django.conf import settings

from coaching.realtime import review
from coaching.realtime.review import MemoryReviewStore, RedisReviewStore, StrokeLimiter

DEFAULT = {"version": 0, "position_ms": 0}


def stores() -> list:
    made = [pytest.param(MemoryReviewStore, id="memory")]
    if settings.REDIS_URL:
        made.append(pytest.param(_redis_store, id="redis"))
    return made


def _redis_store() -> RedisReviewStore:
    return RedisReviewStore(settings.REDIS_URL, f"{settings.REALTIME_PREFIX}:test")


def bump(state: dict) -> dict:
    return {**state, "version": state["version"] + 1}


@pytest.mark.parametrize("make_store", stores())
async def test_no_state_until_the_first_change(make_store):
    store, session_id = make_store(), secrets.token_hex(8)
    assert await store.get(session_id) is None
    assert await store.change(session_id, DEFAULT, bump) == {"version": 1, "position_ms": 0}
    assert await store.get(session_id) == {"version": 1, "position_ms": 0}


@pytest.mark.parametrize("make_store", stores())
async def test_concurrent_changes_are_all_applied(make_store):
    session_id = secrets.token_hex(8)
    # Several clients (as several processes would have) changing one state at once.
    clients = [make_store() for _ in range(4)] if make_store is _redis_store else [make_store()]
    await asyncio.gather(
        *(clients[i % len(clients)].change(session_id, DEFAULT, bump) for i in range(40))
    )
    assert (await clients[0].get(session_id))["version"] == 40


@pytest.mark.parametrize("make_store", stores())
async def test_a_refused_change_stores_nothing(make_store):
    store, session_id = make_store(), secrets.token_hex(8)

    def refuse(state: dict) -> dict:
        raise PermissionError

    with pytest.raises(PermissionError):
        await store.change(session_id, DEFAULT, refuse)
    assert await store.get(session_id) is None


@pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL")
async def test_redis_state_expires():
    store, session_id = _redis_store(), secrets.token_hex(8)
    await store.change(session_id, DEFAULT, bump)
    ttl = await store._redis().ttl(store._key(session_id))
    assert 0 < ttl <= review.STATE_TTL_SECONDS


def test_stroke_limiter_allows_a_burst_then_refills(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(review.time, "monotonic", lambda: now[0])
    limiter = StrokeLimiter(60)
    assert [limiter.take("s", "u") for _ in range(60)] == [0] * 60
    wait = limiter.take("s", "u")
    assert 0 < wait <= 17  # one stroke's worth at 60 a second
    assert limiter.take("s", "other user") == 0  # per user
    now[0] += 0.5
    assert [limiter.take("s", "u") for _ in range(30)] == [0] * 30
    assert limiter.take("s", "u") > 0


@pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL")
async def test_reads_asked_together_take_one_round_trip(monkeypatch):
    """A reconnect storm's join snapshots: many sessions' states in one pipeline."""
    store, ids = _redis_store(), [secrets.token_hex(8) for _ in range(20)]
    for n, session_id in enumerate(ids[:10]):
        await store.change(session_id, DEFAULT, lambda state, n=n: {**state, "version": n})
    round_trips = []
    pipeline = store._redis().pipeline

    def counted(*args, **kwargs):
        round_trips.append(args)
        return pipeline(*args, **kwargs)

    monkeypatch.setattr(store._redis(), "pipeline", counted)
    states = await asyncio.gather(*(store.get(session_id) for session_id in ids))
    assert [s and s["version"] for s in states] == [*range(10), *[None] * 10]
    assert len(round_trips) == 1
