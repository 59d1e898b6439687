"""A join's mailbox (coaching/realtime/mailbox.py): asyncio.Queue's order, bound and
waiting, for one reader."""

import asyncio

import pytest

from coaching.realtime.mailbox import Mailbox


async def test_items_come_out_in_order_and_a_waiting_reader_wakes_for_the_next():
    box = Mailbox(10)
    box.put_nowait(1)
    box.put_nowait(2)
    assert [await box.get(), box.get_nowait()] == [1, 2]
    reading = asyncio.create_task(box.get())
    await asyncio.sleep(0)  # the reader is waiting
    assert not reading.done()
    box.put_nowait(3)
    assert await asyncio.wait_for(reading, 1) == 3
    assert box.empty()


async def test_a_full_mailbox_refuses_put_nowait_and_put_waits_for_room():
    box = Mailbox(2)
    box.put_nowait("a")
    box.put_nowait("b")
    with pytest.raises(asyncio.QueueFull):
        box.put_nowait("c")
    putting = asyncio.create_task(box.put("c"))
    await asyncio.sleep(0)
    assert not putting.done() and box.qsize() == 2
    assert box.get_nowait() == "a"
    await asyncio.wait_for(putting, 1)
    assert [box.get_nowait(), box.get_nowait()] == ["b", "c"]
    with pytest.raises(asyncio.QueueEmpty):
        box.get_nowait()


async def test_a_cancelled_reader_or_writer_loses_nothing():
    box = Mailbox(1)
    reading = asyncio.create_task(box.get())
    await asyncio.sleep(0)
    reading.cancel()
    box.put_nowait("kept")  # after the reader was cancelled, before it ran
    with pytest.raises(asyncio.CancelledError):
        await reading
    putting = asyncio.create_task(box.put("dropped with its writer"))
    await asyncio.sleep(0)
    putting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await putting
    assert await asyncio.wait_for(box.get(), 1) == "kept"
    assert box.empty()
    box.put_nowait("next")  # the cancelled writer took no room
    assert box.get_nowait() == "next"
