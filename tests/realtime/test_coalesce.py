"""Calls that come together are made as one: one run at a time, for all asked meanwhile."""

import asyncio

import pytest

from coaching.realtime.coalesce import Coalesced


async def test_calls_asked_while_one_runs_go_together_in_the_next():
    runs: list[list[int]] = []
    release = asyncio.Event()

    async def double(items: list[int]) -> list[int]:
        runs.append(items)
        await release.wait()
        return [2 * item for item in items]

    doubled = Coalesced(double)
    first = asyncio.ensure_future(doubled(1))
    await asyncio.sleep(0)  # the first run starts with the one call there is
    later = [asyncio.ensure_future(doubled(n)) for n in (2, 3, 4)]
    await asyncio.sleep(0)
    assert runs == [[1]]
    release.set()
    assert [await first, *await asyncio.gather(*later)] == [2, 4, 6, 8]
    assert runs == [[1], [2, 3, 4]]


async def test_a_failed_run_fails_each_of_its_callers_and_the_next_run_goes_on():
    async def picky(items: list[int]) -> list[int]:
        if 0 in items:
            raise ValueError("zero")
        return items

    call = Coalesced(picky)
    outcomes = await asyncio.gather(call(0), call(1), return_exceptions=True)
    assert [type(outcome) for outcome in outcomes] == [ValueError, ValueError]
    assert await call(5) == 5


async def test_a_caller_that_leaves_does_not_stop_the_run_for_the_others():
    release = asyncio.Event()
    ran: list[list[str]] = []

    async def run(items: list[str]) -> list[str]:
        await release.wait()
        ran.append(items)
        return items

    call = Coalesced(run)
    leaving, staying = asyncio.ensure_future(call("a")), asyncio.ensure_future(call("b"))
    await asyncio.sleep(0)
    leaving.cancel()
    release.set()
    assert await staying == "b"
    with pytest.raises(asyncio.CancelledError):
        await leaving
    assert ran == [["a", "b"]]
