"""Waiting for a condition instead of sleeping: poll until it holds, or fail saying what
never happened (and what was seen last).

For what a test cannot be told about directly (a row another process writes, a log
line, a server that comes back); where the test holds the code that acts, it waits on
an `asyncio.Event` or a reply instead.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


def _failure(what: str, wait: float, last: object) -> AssertionError:
    seen = repr(last)
    if len(seen) > 2000:
        seen = f"…{seen[-2000:]}"
    return AssertionError(f"waited {wait:g} s for {what}; last seen: {seen}")


def wait_until(
    what: str,
    probe: Callable[[], T],
    *,
    until: Callable[[T], bool] = bool,
    wait: float = 10.0,
    every: float = 0.05,
) -> T:
    """`probe()` until `until` holds for its value, which is returned; an
    AssertionError naming `what` after `wait` seconds."""
    deadline = time.monotonic() + wait
    while True:
        value = probe()
        if until(value):
            return value
        if time.monotonic() >= deadline:
            raise _failure(what, wait, value)
        time.sleep(every)  # the poll's interval, not an ordering


async def eventually(
    what: str,
    probe: Callable[[], Awaitable[T]],
    *,
    until: Callable[[T], bool] = bool,
    wait: float = 10.0,
    every: float = 0.05,
) -> T:
    """`wait_until` for a coroutine `probe`, on the event loop."""
    deadline = time.monotonic() + wait
    while True:
        value = await probe()
        if until(value):
            return value
        if time.monotonic() >= deadline:
            raise _failure(what, wait, value)
        await asyncio.sleep(every)  # the poll's interval, not an ordering


async def wait_for_event(what: str, event: asyncio.Event, wait: float = 5.0) -> None:
    """`event.wait()`, failing with an AssertionError naming `what` after `wait` seconds."""
    try:
        await asyncio.wait_for(event.wait(), wait)
    except TimeoutError:
        raise AssertionError(f"waited {wait:g} s for {what}") from None
