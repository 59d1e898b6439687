"""Calls that come together made as one: a storm's round trips, many per statement.

A reconnect storm brings every socket back at once, and each connect and join asks
PostgreSQL and Redis the same kind of question. A `Coalesced` call sends one request
at a time for all the calls asked while the one before ran: a lone call goes at once,
and in a storm each round trip answers every call that came meanwhile (the socket's
user reads, participant notices, slot claims, presence tracks).
"""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Coalesced(Generic[T, R]):
    """`await coalesced(item)`: `run(items)` gives one result per item, in order; what
    it raises, each of its callers gets. One `run` at a time, per event loop."""

    def __init__(self, run: Callable[[list[T]], Awaitable[list[R]]]) -> None:
        self._run = run
        self._asked: list[tuple[T, asyncio.Future[R]]] = []  # for the next run
        self._running: asyncio.Task | None = None

    async def __call__(self, item: T) -> R:
        loop = asyncio.get_running_loop()
        if self._running is None or self._running.done() or self._running.get_loop() is not loop:
            self._asked = []  # any left are of a loop that is gone (tests run several)
            self._running = loop.create_task(self._runs())
        result = loop.create_future()
        self._asked.append((item, result))
        return await asyncio.shield(result)

    async def _runs(self) -> None:
        while self._asked:
            asked, self._asked = self._asked, []
            try:
                results = await self._run([item for item, _ in asked])
            except asyncio.CancelledError:
                for _, result in [*asked, *self._asked]:
                    result.cancel()
                raise
            except Exception as exc:
                for _, result in asked:
                    result.set_exception(exc)
                    result.exception()  # each caller gets it; none unretrieved if all left
                continue
            for (_, result), value in zip(asked, results, strict=True):
                result.set_result(value)
