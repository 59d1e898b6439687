"""Presence in Redis stays true when Redis fails: no ghost, nobody missing."""

import asyncio
import json
import time
from collections.abc import Iterator

import pytest
from redis.exceptions import RedisError

from coaching.realtime.presence import (
    PRESENCE_DIFF,
    MemoryPresence,
    RedisPresence,
    Tracked,
    heartbeat,
    new_ref,
    stores,
)
from tests.support.faults import RedisServer
from tests.support.waiting import wait_for_event

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


def plant_orphan(redis_server: RedisServer, key: str, node: str) -> None:
    """An entry written by a process that is gone (and is named by no list of processes)."""
    orphan = meta("Orphan")
    redis_server.client().hset(
        f"presence-test:presence:topic:{TOPIC}",
        orphan["phx_ref"],
        json.dumps({"key": key, "meta": orphan, "node": node}),
    )


def in_redis(redis_server: RedisServer) -> set[str]:
    """The keys the topic's hash in Redis holds (a state shows this process's own
    entries as it holds them, whatever Redis says)."""
    values = redis_server.client().hvals(f"presence-test:presence:topic:{TOPIC}")
    return {json.loads(value)["key"] for value in values}


@pytest.fixture(params=["memory", "redis"])
def either_presence(request) -> Iterator[MemoryPresence | RedisPresence]:
    if request.param == "memory":
        yield MemoryPresence()
        return
    server = RedisServer().start()
    presence = RedisPresence(server.url, "presence-test", heartbeat=60, node_ttl=120)
    yield presence
    server.close()


async def test_a_track_says_whether_it_is_the_keys_first_and_whos_there_with_it(
    either_presence, monkeypatch
):
    monkeypatch.setattr(stores, "broadcast", lambda *args: _nothing())
    one, two, again = meta("One"), meta("Two"), meta("One again")
    first = await either_presence.track(TOPIC, "1", one)
    assert first == Tracked(True, {"1": {"metas": [one]}})
    second = await either_presence.track(TOPIC, "2", two)
    assert second.first and set(second.state) == {"1", "2"}
    tab = await either_presence.track(TOPIC, "1", again)  # a second tab of user 1
    assert not tab.first
    assert sorted(m["name"] for m in tab.state["1"]["metas"]) == ["One", "One again"]
    assert tab.state == await either_presence.list(TOPIC)


async def test_a_keys_first_track_sets_its_mark_unless_set_and_no_later_track_does(
    either_presence, monkeypatch
):
    """The first-entry mark goes with the track (one Redis round trip): set by the key's
    first connection if it was not set, never by another connection of the key."""
    monkeypatch.setattr(stores, "broadcast", lambda *args: _nothing())
    entered = ("entered:1", 60)
    first = await either_presence.track(TOPIC, "1", meta("One"), entered)
    assert first.first and first.marked
    tab = await either_presence.track(TOPIC, "1", meta("One again"), entered)
    assert not tab.first and not tab.marked
    other = await either_presence.track(TOPIC, "2", meta("Two"))
    assert other.first and not other.marked

    await either_presence.mark("entered:3", 60)  # announced a moment ago, then dropped
    back = await either_presence.track(TOPIC, "3", meta("Three"), ("entered:3", 60))
    assert back.first and not back.marked
    assert await either_presence.unmark("entered:1")  # the first track set it


async def test_the_tracks_of_joins_that_come_together_take_one_round_trip(
    private_redis, monkeypatch
):
    monkeypatch.setattr(stores, "broadcast", lambda *args: _nothing())
    presence = presence_on(private_redis)
    await presence.track("session:warm", "9", meta("Warm"))  # the script loaded

    def scripts_run() -> int:
        return private_redis.client().info("commandstats")["cmdstat_evalsha"]["calls"]

    before = scripts_run()
    entered = [("1", ("entered:1", 60)), ("2", ("entered:2", 60)), ("1", ("entered:1", 60))]
    tracked = await asyncio.gather(
        *(presence.track(TOPIC, key, meta(f"Tab of {key}"), mark) for key, mark in entered)
    )
    assert scripts_run() - before == 1
    assert [(t.first, t.marked) for t in tracked] == [(True, True), (True, True), (False, False)]
    assert set(tracked[2].state) == {"1", "2"} and len(tracked[2].state["1"]["metas"]) == 2
    assert set(tracked[0].state) == {"1"}  # as of its own write
    await presence.shutdown()


async def test_the_leaves_that_come_together_take_a_round_trip_per_kind_of_call(
    private_redis, monkeypatch
):
    """A storm's leaves: the removals, the presence reads (is another tab of the user
    still in?) and the departure marks each go to Redis in one call."""
    monkeypatch.setattr(stores, "broadcast", lambda *args: _nothing())
    presence = presence_on(private_redis)
    topics = [f"session:{n}" for n in range(4)]
    tabs = [meta(f"Tab {n}") for n in range(4)]
    for topic, tab in zip(topics, tabs, strict=True):
        await presence.track(topic, "1", tab)
    warm = meta("Warm")
    await presence.track("session:warm", "2", warm)
    await presence.untrack("session:warm", warm["phx_ref"])
    await presence.mark("warm", 60)
    await presence.list("session:warm")  # every script loaded

    def scripts_run() -> int:
        return private_redis.client().info("commandstats")["cmdstat_evalsha"]["calls"]

    before = scripts_run()
    await asyncio.gather(
        *(presence.untrack(topic, tab["phx_ref"]) for topic, tab in zip(topics, tabs, strict=True))
    )
    assert scripts_run() - before == 1
    assert not private_redis.client().keys("presence-test:presence:topic:*")

    before = scripts_run()
    assert await asyncio.gather(*(presence.present(topic, "1") for topic in topics)) == [False] * 4
    assert scripts_run() - before == 1

    before = scripts_run()
    await asyncio.gather(*(presence.mark(f"entered:{topic}:1", 60) for topic in topics))
    assert scripts_run() - before == 1
    assert await asyncio.gather(*(presence.unmark(f"entered:{t}:1") for t in topics[:2])) == [
        True,
        True,
    ]
    assert not await presence.unmark(f"entered:{topics[0]}:1")
    await presence.shutdown()


async def _nothing() -> None:
    return None


async def test_one_users_many_connections_joining_and_leaving_at_once_cost_a_diff_per_window(
    either_presence, monkeypatch
):
    """N connections of one user (one key) joining at once, then leaving at once: at
    most one diff per DIFF_WINDOW, which together carry each connection's meta once (no
    diff repeats the user's other metas); the state lists one meta per connection."""
    connections = 200
    announced: list[dict] = []

    async def broadcast(to: str, event: str, payload: dict) -> None:
        assert (to, event) == (TOPIC, PRESENCE_DIFF)
        announced.append(payload)

    def carried(part: str) -> list[str]:
        return [m["phx_ref"] for d in announced for e in d[part].values() for m in e["metas"]]

    monkeypatch.setattr(stores, "broadcast", broadcast)
    metas = [{**meta(f"Tab {i}"), "online_at": i} for i in range(connections)]
    refs = [m["phx_ref"] for m in metas]
    started = time.monotonic()
    tracked = await asyncio.gather(*(either_presence.track(TOPIC, "1", m) for m in metas))
    windows = (time.monotonic() - started) / stores.DIFF_WINDOW
    assert [t.first for t in tracked].count(True) == 1
    assert sorted(carried("joins")) == sorted(refs) and carried("leaves") == []
    assert len(announced) <= windows + 2, (len(announced), windows)
    state = await either_presence.list(TOPIC)
    assert [m["phx_ref"] for m in state["1"]["metas"]] == refs

    announced.clear()
    started = time.monotonic()
    await asyncio.gather(*(either_presence.untrack(TOPIC, ref) for ref in refs))
    windows = (time.monotonic() - started) / stores.DIFF_WINDOW
    assert sorted(carried("leaves")) == sorted(refs) and carried("joins") == []
    assert len(announced) <= windows + 2, (len(announced), windows)
    assert await either_presence.list(TOPIC) == {}
    if isinstance(either_presence, RedisPresence):
        await either_presence.shutdown()


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
    assert in_redis(private_redis) == {"1", "2"}  # the ghost, until…
    assert set(await presence.list(TOPIC)) == {"2"}  # (no state shows it: it left here)

    await presence.remove_leaving()  # …the next heartbeat
    assert in_redis(private_redis) == {"2"}
    await presence.shutdown()


async def test_a_heartbeat_during_a_leave_neither_fails_nor_announces_it_twice(
    private_redis, monkeypatch
):
    """The heartbeat retries the removals still listed as leaving; one under way (its
    broadcast not yet written) is the leave's own: the beat goes past it."""
    presence = presence_on(private_redis)
    gone, later = meta("Gone"), meta("Later")
    await presence.track(TOPIC, "1", gone)
    await presence.track(TOPIC, "2", later)
    announced: list[dict] = []
    publishing, unblock = asyncio.Event(), asyncio.Event()

    async def slow_broadcast(topic: str, event: str, payload: dict) -> None:
        announced.append(payload)
        if len(announced) == 1:
            publishing.set()
            await unblock.wait()  # the first leave's publish is in flight

    monkeypatch.setattr(stores, "broadcast", slow_broadcast)
    leaving = asyncio.ensure_future(presence.untrack(TOPIC, gone["phx_ref"]))
    await wait_for_event("the leave's broadcast to be under way", publishing)
    presence.leaving[later["phx_ref"]] = presence._release(later["phx_ref"])  # a failed leave
    await presence.remove_leaving()  # the beat: no KeyError, and "Gone" left alone
    unblock.set()
    await leaving
    assert [list(p["leaves"]) for p in announced] == [["1"], ["2"]]
    assert presence.leaving == {} and await presence.list(TOPIC) == {}
    await presence.shutdown()


async def test_entries_redis_lost_are_written_back_by_the_heartbeat(private_redis):
    presence = presence_on(private_redis)
    await presence.track(TOPIC, "1", meta("One"))
    await presence.track(TOPIC, "2", meta("Two"))
    private_redis.kill()
    private_redis.start()  # empty

    await presence.heartbeat._beat()
    assert in_redis(private_redis) == {"1", "2"}
    await presence.shutdown()


async def test_entries_of_a_process_that_is_gone_are_reaped_wherever_they_are(private_redis):
    presence = presence_on(private_redis)
    await presence.track(TOPIC, "1", meta("Live"))
    plant_orphan(private_redis, "9", node="dead-process")  # its list entry lost too
    assert set(await presence.list(TOPIC)) == {"1", "9"}

    await presence.heartbeat._reap()
    assert set(await presence.list(TOPIC)) == {"1"}
    await presence.shutdown()


async def test_a_listed_process_that_stops_beating_is_reaped_at_the_next_beat(private_redis):
    alive, doomed = presence_on(private_redis), presence_on(private_redis)
    await alive.track(TOPIC, "1", meta("Live"))
    await doomed.track(TOPIC, "2", meta("Doomed"))
    doomed.heartbeat.stop()  # it dies: no more beats, and its alive key expires
    private_redis.client().delete(f"presence-test:presence:node:{doomed.node}:alive")
    alive.heartbeat._beats = 1  # not a beat that reads every entry anyway

    await alive.heartbeat._sweep()
    assert set(await alive.list(TOPIC)) == {"1"}
    assert private_redis.client().smembers("presence-test:presence:nodes") == {alive.node}
    await alive.shutdown()


async def test_an_orphan_no_process_lists_is_reaped_by_the_occasional_full_sweep(private_redis):
    presence = presence_on(private_redis)
    await presence.track(TOPIC, "1", meta("Live"))
    plant_orphan(private_redis, "9", node="unlisted-process")
    presence.heartbeat._beats = 1
    await presence.heartbeat._sweep()  # only a cheap look at the listed processes
    assert set(await presence.list(TOPIC)) == {"1", "9"}

    presence.heartbeat._beats = heartbeat.FULL_SWEEP_EVERY - 1
    await presence.heartbeat._sweep()
    assert set(await presence.list(TOPIC)) == {"1"}
    await presence.shutdown()


async def test_a_beat_checks_a_bounded_share_of_its_entries_and_every_one_in_turn(
    private_redis, monkeypatch
):
    monkeypatch.setattr(heartbeat, "VERIFIED_PER_BEAT", 3)
    presence = presence_on(private_redis)
    metas = [meta(f"U{i}") for i in range(7)]
    for i, m in enumerate(metas):
        await presence.track(TOPIC, str(i), m)
    # Redis loses one behind our back (an older snapshot reloaded): our alive key stays.
    private_redis.client().hdel(f"presence-test:presence:topic:{TOPIC}", metas[5]["phx_ref"])
    checked: list[int] = []
    to_verify = presence.heartbeat._to_verify

    def counted(local):
        entries = to_verify(local)
        checked.append(len(entries))
        return entries

    monkeypatch.setattr(presence.heartbeat, "_to_verify", counted)

    for _ in range(3):  # 7 entries, 3 a beat
        await presence.heartbeat._beat()
    assert checked == [3, 3, 3]
    assert in_redis(private_redis) == {str(i) for i in range(7)}
    await presence.shutdown()


async def test_a_restart_that_reloads_an_older_snapshot_is_noticed_though_our_alive_key_survived(
    private_redis, monkeypatch
):
    monkeypatch.setattr(heartbeat, "VERIFIED_PER_BEAT", 0)  # no rolling check
    presence = RedisPresence(private_redis.url, "presence-test", heartbeat=0.2, node_ttl=30.0)
    gone = meta("Gone")
    await presence.track(TOPIC, "1", meta("Stays"))
    await presence.track(TOPIC, "3", gone)
    presence.heartbeat.stop()  # the test beats by hand
    private_redis.client().save()  # the snapshot: our alive key, "1" and "3"
    await presence.track(TOPIC, "2", meta("Later"))
    await presence.untrack(TOPIC, gone["phx_ref"])
    private_redis.kill()
    private_redis.start()  # as it was at the snapshot, our alive key still valid
    assert in_redis(private_redis) == {"1", "3"}
    presence.heartbeat._beats = 1  # not a beat that sweeps every topic anyway

    await presence.heartbeat._beat()
    await presence.heartbeat._sweep()
    assert in_redis(private_redis) == {"1", "2"}
    assert set(await presence.list(TOPIC)) == {"1", "2"}
    await presence.shutdown()


async def test_where_info_is_not_allowed_a_restart_is_still_noticed_by_the_lost_alive_key():
    no_info = RedisServer("--rename-command", "INFO", "").start()
    try:
        presence = presence_on(no_info)
        await presence.track(TOPIC, "1", meta("One"))
        presence.heartbeat.stop()  # the test beats by hand
        await presence.heartbeat._beat()
        no_info.kill()
        no_info.start()  # empty

        await presence.heartbeat._beat()
        assert in_redis(no_info) == {"1"}
        await presence.shutdown()
    finally:
        no_info.close()


async def test_an_entry_whose_track_failed_is_written_by_the_next_beat(private_redis, monkeypatch):
    monkeypatch.setattr(heartbeat, "VERIFIED_PER_BEAT", 0)  # no rolling check
    # Beats only by hand: the first comes a minute from now.
    presence = RedisPresence(private_redis.url, "presence-test", heartbeat=60, node_ttl=120)
    await presence.track(TOPIC, "1", meta("One"))
    working = presence.redis
    monkeypatch.setattr(presence, "redis", RefusingRedis)
    # Not reported first, nothing marked, and no state: the channel asks for it again.
    assert await presence.track(TOPIC, "2", meta("Two"), ("entered", 60)) == Tracked(False, None)
    monkeypatch.setattr(presence, "redis", working)
    assert in_redis(private_redis) == {"1"}
    assert set(await presence.list(TOPIC)) == {"1", "2"}  # ours, as this process holds them

    await presence.heartbeat._beat()
    assert in_redis(private_redis) == {"1", "2"}
    await presence.shutdown()


class RefusingRedis:
    def __getattr__(self, name: str):
        raise RedisError("Redis is not to be asked")


async def test_a_leave_asks_redis_whether_the_user_is_still_here_only_for_their_last_one_here(
    private_redis, monkeypatch
):
    """The check each leave makes (another tab of the user's still in?) is answered from
    this process's own entries while it holds one: a user closing N tabs reads the topic
    once, not N times."""
    presence = presence_on(private_redis)
    tabs = [meta("Tab"), meta("Other tab")]
    for tab in tabs:
        await presence.track(TOPIC, "1", tab)
    await presence.untrack(TOPIC, tabs[0]["phx_ref"])
    working = presence.redis
    monkeypatch.setattr(presence, "redis", RefusingRedis)
    assert await presence.present(TOPIC, "1")
    monkeypatch.setattr(presence, "redis", working)
    await presence.untrack(TOPIC, tabs[1]["phx_ref"])
    assert not await presence.present(TOPIC, "1")
    plant_orphan(private_redis, "1", node="another-process")  # theirs elsewhere: asked
    assert await presence.present(TOPIC, "1")
    await presence.shutdown()
