"""Join snapshots: joins of one session arriving together share one read, but never a
read that began before they asked (it could miss what they subscribed to get)."""

import asyncio
import threading

import pytest

from coaching import selectors
from coaching.realtime.snapshots import snapshot_reads

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def reads(monkeypatch):
    """Counts snapshot reads; `gate` holds each read until set."""
    real = selectors.session_snapshot
    state = {"calls": 0, "started": threading.Event(), "gate": threading.Event()}
    state["gate"].set()

    def counting(session):
        state["calls"] += 1
        state["started"].set()
        state["gate"].wait(5)
        return real(session)

    monkeypatch.setattr(selectors, "session_snapshot", counting)
    return state


async def test_joins_arriving_together_share_one_read(reads, active_session):
    results = await asyncio.gather(
        *(snapshot_reads.read(active_session.session_id) for _ in range(4))
    )
    assert reads["calls"] == 1
    assert all(snapshot is results[0][1] for _, snapshot in results)
    assert results[0][1]["session"]["session_id"] == active_session.session_id


async def test_a_read_already_under_way_is_not_shared(reads, active_session):
    reads["gate"].clear()
    first = asyncio.ensure_future(snapshot_reads.read(active_session.session_id))
    assert await asyncio.to_thread(reads["started"].wait, 5)
    second = asyncio.ensure_future(snapshot_reads.read(active_session.session_id))
    await asyncio.sleep(0.05)
    reads["gate"].set()
    (_, one), (_, two) = await first, await second
    assert reads["calls"] == 2
    assert one is not two
