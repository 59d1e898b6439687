"""Leave checks (coaching/realtime/departures.py): made once the grace has passed, those
falling due together checked together, a topic's with one presence read, a few topics
at a time; and a leave touches the call state only when the one leaving is in a call."""

import asyncio

import pytest

from coaching import broadcasts
from coaching.models import User
from coaching.realtime import call_room, departures, presence
from coaching.realtime.departures import Departure, Departures, entry_mark
from coaching.realtime.review import MemoryReviewStore
from coaching.services import call

TOPIC = "session:s1"


class CountedPresence(presence.MemoryPresence):
    """Counts its reads of a topic's presence; with `held`, each waits for it."""

    def __init__(self, held: asyncio.Event | None = None) -> None:
        super().__init__()
        self.reads: list[str] = []
        self.reading = 0
        self.most_at_once = 0
        self.held = held
        self.all_checking = asyncio.Event()  # as many reads at once as allowed

    async def list(self, topic):
        self.reads.append(topic)
        self.reading += 1
        self.most_at_once = max(self.most_at_once, self.reading)
        if self.reading >= departures.CHECKS_AT_ONCE:
            self.all_checking.set()
        try:
            if self.held is not None:
                await self.held.wait()
            return await super().list(topic)
        finally:
            self.reading -= 1


def counted_presence(monkeypatch, held: asyncio.Event | None = None) -> CountedPresence:
    store = CountedPresence(held)
    monkeypatch.setattr(presence, "_presence", store)
    return store


def leaver(pk: int, topic: str = TOPIC, role: str = "student") -> Departure:
    return Departure(topic, topic.split(":")[1], User(pk=pk, username=f"u{pk}"), role)


@pytest.fixture
def announced(monkeypatch):
    """The leaves announced (not posted: no database here), as (topic, user id)."""
    told: list[tuple[str, int]] = []
    done = asyncio.Event()

    async def participant_announce(code, *, session_id, user, role):
        told.append((f"session:{session_id}", user.pk))
        done.set()
        return {"code": code}

    async def participants_gone(session_id, users):
        pass

    monkeypatch.setattr(departures, "participant_announce", participant_announce)
    monkeypatch.setattr(call_room, "participants_gone", participants_gone)
    return told, done


async def test_leaves_due_together_in_a_topic_take_one_presence_read(
    monkeypatch, settings, announced
):
    settings.LEAVE_NOTICE_GRACE = 0
    store, (told, done) = counted_presence(monkeypatch), announced
    gone, back, never_in = leaver(1), leaver(2, role="coach"), leaver(3)
    for departure in (gone, back):
        await store.mark(entry_mark(TOPIC, departure.user_key), 60)
    await store.track(TOPIC, back.user_key, {"phx_ref": "r2"})  # back before the check
    checks = Departures()
    for departure in (gone, back, never_in):
        checks.schedule(departure)
    await asyncio.wait_for(done.wait(), 5)
    await checks.flush()
    assert told == [(TOPIC, 1)]
    assert store.reads == [TOPIC]


async def test_a_storm_of_leaves_is_checked_a_few_topics_at_a_time(
    monkeypatch, settings, announced
):
    settings.LEAVE_NOTICE_GRACE = 0
    held = asyncio.Event()
    store, (told, _) = counted_presence(monkeypatch, held), announced
    topics = [f"session:s{n}" for n in range(50)]
    checks = Departures()
    for n, topic in enumerate(topics):
        await store.mark(entry_mark(topic, str(n)), 60)
        checks.schedule(leaver(n, topic))
    await asyncio.wait_for(store.all_checking.wait(), 5)
    await asyncio.sleep(0.05)  # room for more to start, were they allowed to
    assert store.reading == departures.CHECKS_AT_ONCE
    held.set()
    await asyncio.wait_for(checks.flush(), 5)
    assert store.most_at_once == departures.CHECKS_AT_ONCE
    assert sorted(told) == sorted((topic, n) for n, topic in enumerate(topics))


async def test_checks_waiting_out_their_grace_run_at_once_when_the_server_stops(
    monkeypatch, settings, announced
):
    settings.LEAVE_NOTICE_GRACE = 600
    store, (told, _) = counted_presence(monkeypatch), announced
    await store.mark(entry_mark(TOPIC, "1"), 60)
    checks = Departures()
    checks.schedule(leaver(1))
    await asyncio.sleep(0)
    assert told == []
    await asyncio.wait_for(checks.flush(), 5)
    assert told == [(TOPIC, 1)]


class CountedCallStore(MemoryReviewStore):
    def __init__(self) -> None:
        super().__init__()
        self.changes = 0

    async def change(self, session_id, default, change):
        self.changes += 1
        return await super().change(session_id, default, change)


@pytest.mark.parametrize("room", ["never called", "call ended"])
async def test_a_leave_from_a_room_without_a_call_under_way_writes_no_call_state(monkeypatch, room):
    store = CountedCallStore()
    monkeypatch.setattr(call_room, "_store", store)
    student = User(pk=1, username="student")
    if room == "call ended":
        ended = {**call.idle_state(), "state": call.ENDED, "version": 3}
        await store.change("s1", call.idle_state(), lambda _: ended)
        store.changes = 0
    await call_room.participants_gone("s1", [student, User(pk=2, username="coach")])
    assert store.changes == 0


async def test_the_call_of_leavers_of_one_session_ends_once_by_the_first_in_it(monkeypatch):
    store = CountedCallStore()
    monkeypatch.setattr(call_room, "_store", store)
    student, coach = User(pk=1, username="student"), User(pk=2, username="coach")
    live = {
        **call.idle_state(),
        "call_id": "c1",
        "state": call.CONNECTED,
        "caller": call.events.person(student),
        "callee": call.events.person(coach),
        "version": 4,
    }
    await store.change("s1", call.idle_state(), lambda _: live)
    store.changes = 0
    told = []

    async def publish(topic, event, payload):
        told.append((topic, event, payload["state"], payload["ended_by"]["id"]))

    with broadcasts.plugged(lambda *_: None, publish):
        await call_room.participants_gone("s1", [coach, student])
    assert store.changes == 1
    assert told == [("session:s1", "call:state", call.ENDED, "2")]
