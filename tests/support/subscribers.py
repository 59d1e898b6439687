"""A fanout subscriber for tests: keeps what it is delivered, in order."""

import asyncio
from typing import Any


class Collector:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    def deliver(self, message: dict[str, Any]) -> None:
        self.queue.put_nowait(message)

    def catch_up(self) -> None:
        self.queue.put_nowait({"type": "catch_up"})

    async def next(self, wait: float = 5.0) -> dict[str, Any]:
        return await asyncio.wait_for(self.queue.get(), wait)
