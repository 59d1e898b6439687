"""The socket's chat writer: the chat store (coaching/services/chat.py) from the event loop.

`chat_writer()` gives the process's writer; `await writer.submit(post)` returns the
message's payload, a `Resend` (the message stored before under its `client_msg_id`) or
its `ServiceError`. It runs the store's algorithm,
`chat.store_batch`, with asyncpg instead of the ORM: no thread hop, and a compiled
protocol, so a round trip costs a fraction of what psycopg's machinery costs in Python.
A few writer tasks each own a connection and store what queued up while they were busy
as one batch, so one durable commit (`synchronous_commit` stays on: an ok reply means
stored) serves many messages, and PostgreSQL flushes the writers' commits together. A
session always goes to the same writer, so this process publishes its messages in seq
order; the writer keeps what it last read of its sessions (`chat.Known`), so a batch to
sessions it has seen is one statement, not two.
"""

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from django.conf import settings

from coaching import broadcasts, prometheus
from coaching.errors import ServiceError
from coaching.outage import (
    UNAVAILABLE_MESSAGE,
    DatabaseUnreachable,
    log_database_down,
    unavailable_error,
)
from coaching.realtime import pg
from coaching.services.chat import (
    ChatPost,
    CleanPost,
    Finished,
    Known,
    Result,
    Store,
    advance,
    cleaned,
    store_batch,
)

logger = logging.getLogger(__name__)


@dataclass
class _Pending:
    item: CleanPost
    future: asyncio.Future = field(repr=False)


class _Unavailable(ServiceError):
    def __init__(self) -> None:
        super().__init__("unavailable", UNAVAILABLE_MESSAGE)

    def as_dict(self) -> dict[str, Any]:
        return unavailable_error()  # with `retry_after_ms`, like every `unavailable`


class ChatWriter:
    """Chat batches from the event loop (see the module docstring)."""

    def __init__(self, *, writers: int, max_batch: int = 200) -> None:
        self._writers = writers
        self._max_batch = max_batch
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queues: list[asyncio.Queue[_Pending]] = []
        self._tasks: list[asyncio.Task] = []
        self._connections: list[asyncpg.Connection | None] = []
        self._known: list[Known] = []

    async def submit(self, post: ChatPost) -> Result:
        try:
            item = cleaned(post)
        except ServiceError as exc:
            return exc
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._start(loop)
        pending = _Pending(item, loop.create_future())
        self._queues[hash(post.session_id) % self._writers].put_nowait(pending)
        return await pending.future

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._queues = [asyncio.Queue() for _ in range(self._writers)]
        self._connections = [None] * self._writers
        self._known = [Known() for _ in range(self._writers)]
        self._tasks = [loop.create_task(self._run(i)) for i in range(self._writers)]

    async def close(self) -> None:
        """Stop the writers and close their connections (tests; servers just exit)."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for conn in self._connections:
            if conn is not None:
                await conn.close()
        self._loop, self._tasks, self._connections = None, [], []

    async def _run(self, writer: int) -> None:
        queue = self._queues[writer]
        while True:
            batch = [await queue.get()]
            while len(batch) < self._max_batch and not queue.empty():
                batch.append(queue.get_nowait())
            prometheus.CHAT_BATCH_SIZE.observe(len(batch))
            try:
                results = await self._drive(
                    writer, store_batch([p.item for p in batch], self._known[writer])
                )
            except Exception as exc:
                if pg.unreachable(exc):
                    self._drop(writer)
                    # Once per interval, no traceback: a down database fails every push.
                    log_database_down("socket chat:new", exc)
                    for pending in batch:
                        if not pending.future.done():
                            pending.future.set_result(_Unavailable())  # the client retries
                    continue
                logger.exception("chat writer %d failed a batch", writer)
                for pending in batch:
                    if not pending.future.done():
                        pending.future.set_exception(exc)
                continue
            for pending, result in zip(batch, results, strict=True):
                if not pending.future.done():
                    pending.future.set_result(result)

    async def _drive(self, writer: int, store: Store) -> list[Result]:
        """Run the store's statements on this writer's connection (each its own
        transaction) and publish what it broadcasts, in order."""
        rows: Any = None
        error: Exception | None = None
        while not isinstance(step := advance(store, rows, error, broadcasts.now), Finished):
            rows, error = None, None
            try:
                conn = await self._connection(writer)
                rows = await conn.fetch(step.sql, *step.args)
            except Exception as exc:
                if pg.unreachable(exc):
                    self._drop(writer)
                    raise DatabaseUnreachable(f"{type(exc).__name__}: {exc}") from exc
                error = exc
        return step.results

    async def _connection(self, writer: int) -> asyncpg.Connection:
        conn = self._connections[writer]
        if conn is None or conn.is_closed():
            conn = await asyncpg.connect(**pg.connection_params())
            self._connections[writer] = conn
        return conn

    def _drop(self, writer: int) -> None:
        conn, self._connections[writer] = self._connections[writer], None
        if conn is not None:
            conn.terminate()  # no goodbye to a server that may not answer


def chat_writer() -> ChatWriter:
    """A writer for this process (`CHAT_WRITERS` connections)."""
    return ChatWriter(writers=settings.CHAT_WRITERS)
