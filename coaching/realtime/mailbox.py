"""A bounded queue with one reader: what a join's task waits on (topic_process.py).

asyncio.Queue would do, but every idle joined socket holds one, and an asyncio.Queue
is four deques (its items, getters, putters, and its `join()` event's waiters): about
3 KiB before anything is queued. This one is a list and, while its reader waits, a
future: the same order, bound and waiting, for ~0.2 KiB (bench/idle_sockets.py).
"""

import asyncio
from typing import Any


class Mailbox:
    """FIFO of at most `limit` items; `get` by one reader at a time."""

    __slots__ = ("_items", "_limit", "_reader", "_writers")

    def __init__(self, limit: int) -> None:
        self._items: list[Any] = []
        self._limit = limit
        self._reader: asyncio.Future | None = None
        self._writers: list[asyncio.Future] = []  # waiting for room (`put`)

    def empty(self) -> bool:
        return not self._items

    def qsize(self) -> int:
        return len(self._items)

    def put_nowait(self, item: Any) -> None:
        """Queue `item`, or raise asyncio.QueueFull."""
        if len(self._items) >= self._limit:
            raise asyncio.QueueFull
        self._items.append(item)
        if self._reader is not None and not self._reader.done():
            self._reader.set_result(None)

    async def put(self, item: Any) -> None:
        """Queue `item` once there is room."""
        while len(self._items) >= self._limit:
            room = asyncio.get_running_loop().create_future()
            self._writers.append(room)
            try:
                await room
            finally:
                if room in self._writers:
                    self._writers.remove(room)
        self.put_nowait(item)

    def get_nowait(self) -> Any:
        """The oldest item, or raise asyncio.QueueEmpty."""
        if not self._items:
            raise asyncio.QueueEmpty
        item = self._items.pop(0)
        while self._writers:
            room = self._writers.pop(0)
            if not room.done():
                room.set_result(None)
                break
        return item

    async def get(self) -> Any:
        """The oldest item, once there is one."""
        while not self._items:
            self._reader = asyncio.get_running_loop().create_future()
            try:
                await self._reader
            finally:
                self._reader = None
        return self.get_nowait()
