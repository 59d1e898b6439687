"""Broadcasts to a topic's subscribers on every server process.

The outbox keeps this process's broadcasts in the order they were made and hands
them to `fanout`, which delivers them here and publishes them for the other
processes; with it, the only module that calls the channel layer. Delivery through
the layer is at most once; persisted events carry a `seq` and clients recover what
they miss (see delivery_watch for a broken subscription).
"""

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from coaching import prometheus
from coaching.models import session_topic
from coaching.realtime.fanout import confirm_layer, fanout, group_name, message_for
from coaching.realtime.lifecycle import BROADCASTS, on_server_shutdown, stopping
from coaching.realtime.socket_reads import socket_reads
from coaching.services.access import user_topic

logger = logging.getLogger(__name__)


async def broadcast(topic: str, event: str, payload: dict[str, Any]) -> None:
    """From the event loop: broadcast behind this process's earlier broadcasts, in one
    pipeline with those queued alongside (a reconnect storm's presence diffs), and
    return once it is published; raises what publishing raised."""
    outbox.bind()
    await outbox.send(topic, event, payload)


# On a user's own topic (`user_socket:{id}`, which each of their sockets listens to, on
# every process): an event for that user's join of one topic, which their socket passes
# to the join like a broadcast of the topic. Nobody else's socket gets it.
TO_JOIN = "to_join"


async def to_user_join(user_id: int, topic: str, event: str, payload: dict[str, Any]) -> None:
    """From the event loop: `event` to `user_id`'s joins of `topic` only, on every process;
    returns once it is published."""
    await broadcast(
        user_topic(user_id), TO_JOIN, {"topic": topic, "event": event, "payload": payload}
    )


async def _layer_send(topic: str, event: str, payload: dict[str, Any]) -> None:
    """Without a server loop (management commands): through the layer, to every process."""
    await get_channel_layer().group_send(group_name(topic), message_for(topic, event, payload))


async def broadcast_many(items: list[tuple[str, str, dict[str, Any]]]) -> None:
    """Several broadcasts, in order: delivered to this process's subscribers at once and
    published, in one pipelined round trip, for the other processes that listen
    (`fanout.dispatch`). Raises what publishing raised."""
    await fanout.dispatch(items)


Merge = Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]
# Events whose consecutive broadcasts on one topic may travel as one (presence diffs).
_mergers: dict[str, Merge] = {}


def merge_consecutive(event: str, merge: Merge) -> None:
    """Let queued broadcasts of `event` that follow each other on a topic (nothing else
    on that topic between them) go out as one payload, `merge(earlier, later)`, which
    must mean the same to a client as the two in order."""
    _mergers[event] = merge


def _merged(items: list[tuple[str, str, dict[str, Any]]]) -> list[tuple[str, str, dict[str, Any]]]:
    """`(topic, event, payload)` broadcasts in order, consecutive mergeable ones of a topic
    joined (where the first of them was: each topic keeps its own order)."""
    out: list[tuple[str, str, dict[str, Any]]] = []
    last: dict[str, int] = {}  # topic → its latest broadcast in `out`
    for topic, event, payload in items:
        at = last.get(topic)
        merge = _mergers.get(event)
        if merge is not None and at is not None and out[at][1] == event:
            try:
                out[at] = (topic, event, merge(out[at][2], payload))
                continue
            except Exception:
                logger.exception("%s broadcasts on %s not merged", event, topic)
        last[topic] = len(out)
        out.append((topic, event, payload))
    return out


class _Outbox:
    """Hands broadcasts from sync code (services in worker threads) to the event loop.

    One queue drained by one task keeps this process's broadcasts in the order
    they were made, and the caller's thread does not wait for Redis.
    """

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue | None = None
        self._lock = threading.Lock()
        self._drainer: asyncio.Task | None = None

    def bind(self) -> None:
        """Called on the server's event loop; (re)binds the outbox to it."""
        loop = asyncio.get_running_loop()
        if self._loop is loop:
            return
        with self._lock:
            self._queue = asyncio.Queue()
            self._loop = loop
            self._drainer = loop.create_task(self._drain(self._queue))
        on_server_shutdown(self.flush, stage=BROADCASTS)

    async def _drain(self, queue: asyncio.Queue) -> None:
        while True:
            items = [await queue.get()]
            while not queue.empty() and len(items) < 500:
                items.append(queue.get_nowait())
            waiting = [future for *_, future in items if future is not None]
            try:
                await broadcast_many(_merged([item[:3] for item in items]))
            except Exception as exc:
                if len(waiting) < len(items):  # some senders are not told: log it
                    logger.warning("%d broadcasts failed: %r", len(items), exc)
                    prometheus.DEPENDENCY_ERRORS.labels("redis").inc()
                    republisher.failed([item[:3] for item in items if item[3] is None])
                for future in waiting:
                    if not future.done():
                        future.set_exception(exc)
            else:
                for future in waiting:
                    if not future.done():
                        future.set_result(None)
            finally:
                for _ in items:
                    queue.task_done()

    async def send(self, topic: str, event: str, payload: dict[str, Any]) -> None:
        """From the bound loop: queue a broadcast and wait until it is published."""
        future = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((topic, event, payload, future))
        await future

    async def flush(self) -> None:
        """Wait until every broadcast handed over so far has been sent (or has failed)."""
        if self._queue is not None and self._loop is asyncio.get_running_loop():
            await self._queue.join()

    def put(self, topic: str, event: str, payload: dict[str, Any]) -> None:
        loop, queue = self._loop, self._queue
        item = (topic, event, payload, None)
        if loop is not None and queue is not None and not loop.is_closed():
            try:
                in_loop_thread = asyncio.get_running_loop() is loop
            except RuntimeError:
                in_loop_thread = False
            if in_loop_thread:
                queue.put_nowait(item)
                return
            if loop.is_running():
                loop.call_soon_threadsafe(queue.put_nowait, item)
                return
        if stopping():
            # The server's loop has stopped: waiting on it would block this (database)
            # thread, and the process's exit, for ever. The event is in the event log.
            logger.warning("broadcast of %s on %s dropped: the server has stopped", event, topic)
            return
        # No server loop in this process (management commands, plain WSGI).
        async_to_sync(_layer_send)(topic, event, payload)


outbox = _Outbox()


class _Republisher:
    """Logged events (on a session topic, with a seq) whose publish failed while Redis was
    down or out of reach: once the layer answers again, each such session's events from
    the earliest one that failed are published again, from the event log, so live clients
    get them without waiting for a later event (they skip what they have, by seq)."""

    def __init__(self) -> None:
        self._pending: dict[str, int] = {}  # session id -> the earliest seq not published
        self._task: asyncio.Task | None = None

    def failed(self, items: list[tuple[str, str, dict[str, Any]]]) -> None:
        for topic, _, payload in items:
            seq = payload.get("seq")
            if topic.startswith("session:") and isinstance(seq, int):
                session_id = topic.split(":", 1)[1]
                self._pending[session_id] = min(seq, self._pending.get(session_id, seq))
        if self._pending and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(self._republish())

    async def _republish(self) -> None:
        while self._pending:
            await asyncio.sleep(REPUBLISH_EVERY)
            try:
                await confirm_layer()
            except Exception:
                continue  # still down
            pending, self._pending = self._pending, {}
            for session_id, seq in pending.items():
                try:
                    logged = await socket_reads().events_after(session_id, seq - 1) or []
                    await broadcast_many([(session_topic(session_id), e, p) for e, p in logged])
                except Exception as exc:
                    logger.warning("republishing %s failed: %r", session_id, exc)
                    self._pending[session_id] = min(seq, self._pending.get(session_id, seq))
                else:
                    logger.warning("republished %d events of %s", len(logged), session_id)


republisher = _Republisher()
# While Redis is back but before a later event: how often a lost publish is retried.
REPUBLISH_EVERY = 1.0


def broadcast_soon(topic: str, event: str, payload: dict[str, Any]) -> None:
    """From any thread: queue a broadcast behind this process's earlier ones, without
    waiting for it (the sender `coaching.broadcasts` is plugged with)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass  # a database thread, or a process with no server loop
    else:
        outbox.bind()
    outbox.put(topic, event, payload)
