"""Join snapshots: joins of one session arriving together share one read, but never a
read that began before they asked (it could miss what they subscribed to get)."""

import asyncio

import pytest

from coaching.realtime.snapshots import snapshot_reads
from coaching.realtime.socket_reads import socket_reads

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def reads(monkeypatch):
    """Counts snapshot reads; `started` gets each read's number as it starts, and `gate`
    holds each read until set."""
    reader = socket_reads()
    real = reader.snapshot
    state = {"calls": 0, "started": asyncio.Queue(), "gate": asyncio.Event()}
    state["gate"].set()

    async def counting(session_id):
        state["calls"] += 1
        state["started"].put_nowait(state["calls"])
        await asyncio.wait_for(state["gate"].wait(), 5)
        return await real(session_id)

    monkeypatch.setattr(reader, "snapshot", counting)
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
    assert await asyncio.wait_for(reads["started"].get(), 5) == 1
    second = asyncio.ensure_future(snapshot_reads.read(active_session.session_id))
    # The second join's read starts while the first is still held: it did not wait for it.
    try:
        assert await asyncio.wait_for(reads["started"].get(), 5) == 2
    except TimeoutError:
        raise AssertionError("the second join waited for the read already under way") from None
    reads["gate"].set()
    (_, one), (_, two) = await first, await second
    assert reads["calls"] == 2
    assert one is not two
