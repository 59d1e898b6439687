"""Presence in Redis stays true when Redis fails: no ghost, nobody missing."""

import json
from collections.abc import Iterator

import pytest

from coaching.realtime.presence import RedisPresence, new_ref
from tests.support.faults import RedisServer

TOPIC = "session:sess_presence_test"


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.close()


def presence_on(redis_server: RedisServer) -> RedisPresence:
    return RedisPresence(redis_server.url, "presence-test", heartbeat=0.2, node_ttl=1.0)


def meta(name: str) -> dict:
    return {"phx_ref": new_ref(), "name": name, "role": "student", "online_at": 1}


async def test_a_leave_that_failed_while_redis_was_down_is_done_by_the_heartbeat(
    private_redis,
):
    presence = presence_on(private_redis)
    gone = meta("Gone")
    await presence.track(TOPIC, "1", gone)
    await presence.track(TOPIC, "2", meta("Stays"))
    private_redis.shutdown_saving()  # the entry comes back with the restart

    leave = await presence.untrack(TOPIC, gone["phx_ref"])  # fails in Redis, not here
    assert leave is not None and "1" in leave["leaves"]
    private_redis.start()
    assert set(await presence.list(TOPIC)) == {"1", "2"}  # the ghost, until…

    await presence._remove_leaving()  # …the next heartbeat
    assert set(await presence.list(TOPIC)) == {"2"}
    await presence.shutdown()


async def test_entries_redis_lost_are_written_back_by_the_heartbeat(private_redis):
    presence = presence_on(private_redis)
    await presence.track(TOPIC, "1", meta("One"))
    await presence.track(TOPIC, "2", meta("Two"))
    private_redis.kill()
    private_redis.start()  # empty

    await presence._beat()
    assert set(await presence.list(TOPIC)) == {"1", "2"}
    await presence.shutdown()


async def test_entries_of_a_process_that_is_gone_are_reaped_wherever_they_are(private_redis):
    presence = presence_on(private_redis)
    await presence.track(TOPIC, "1", meta("Live"))
    # An entry of a process that died, named by no list of processes (Redis lost it).
    orphan = meta("Orphan")
    entry = {"key": "9", "meta": orphan, "node": "dead-process"}
    private_redis.client().hset(
        f"presence-test:presence:topic:{TOPIC}", orphan["phx_ref"], json.dumps(entry)
    )
    assert set(await presence.list(TOPIC)) == {"1", "9"}

    await presence._reap()
    assert set(await presence.list(TOPIC)) == {"1"}
    await presence.shutdown()
