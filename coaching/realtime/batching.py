"""Write many small requests in one database transaction, without adding delay.

A request that arrives while no batch is being written is written at once, alone;
requests that arrive meanwhile wait for the next batch, so batches grow with the
load. With one durable commit per batch, throughput is no longer capped by the
disk's fsync time (see coaching/services/chat.py).
"""

import asyncio
from collections.abc import Callable
from typing import Generic, TypeVar

from coaching.realtime.db import in_db_thread

Item = TypeVar("Item")
Result = TypeVar("Result")


class Batcher(Generic[Item, Result]):
    def __init__(
        self, write: Callable[[list[Item]], list[Result]], *, max_batch: int = 200, writers: int = 2
    ) -> None:
        self._write = write
        self._max_batch = max_batch
        self._writers = writers
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[tuple[Item, asyncio.Future]] | None = None
        self._tasks: list[asyncio.Task] = []

    async def submit(self, item: Item) -> Result:
        """Queue `item` for the next batch; returns its own result."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._start(loop)
        future: asyncio.Future = loop.create_future()
        self._queue.put_nowait((item, future))
        return await future

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._queue = asyncio.Queue()
        self._tasks = [loop.create_task(self._run(self._queue)) for _ in range(self._writers)]

    async def _run(self, queue: asyncio.Queue) -> None:
        while True:
            batch = [await queue.get()]
            while len(batch) < self._max_batch and not queue.empty():
                batch.append(queue.get_nowait())
            try:
                results = await in_db_thread(self._write)([item for item, _ in batch])
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
            else:
                for (_, future), result in zip(batch, results, strict=True):
                    if not future.done():
                        future.set_result(result)
