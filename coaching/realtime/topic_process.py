"""One join of one topic on one socket: Phoenix's channel server.

A join gets a task with its own queue, so one topic's slow handler never delays
heartbeats or other topics, and each topic keeps its order (join reply, then replay,
then pushes and broadcasts as they came). It runs its channel's callbacks (see
channel.py) one at a time, answers each push once, and ends with a stop that leaves
nothing behind (presence, subscription). The socket routes frames to it through
`start` and `enqueue`; broadcasts reach it through `deliver`.
"""

import asyncio
import logging
from typing import Any, Protocol

from redis.exceptions import RedisError

from coaching import prometheus
from coaching.errors import ServiceError
from coaching.models import User
from coaching.outage import is_database_down, log_database_down, unavailable_error
from coaching.realtime import frames, ratelimit
from coaching.realtime.channel import Channel, RejoinNeeded
from coaching.realtime.fanout import LAYER_TIMEOUT, fanout
from coaching.realtime.mailbox import Mailbox

logger = logging.getLogger(__name__)

# How long the pushes a join has read may still run once it is stopped without them
# being refused: at the server's shutdown (then answered), or after the client closed
# the socket (answered to nobody); then they are cut short.
DRAIN_TIMEOUT = 4.0
# Broadcasts a topic may have waiting for a slow client before it is made to rejoin
# (phx_error), which it does with its last_seq and so loses nothing.
TOPIC_QUEUE_LIMIT = 1000
_STOP = object()
_CATCH_UP = object()  # queued by `TopicProcess.catch_up`
_LOST, _HEARD = object(), object()  # queued by `TopicProcess.connection_changed`
# Refusals that give the push's rate-limit tokens back: a client that retries as told
# (`retry_after_ms`) or corrects its input is not pushed into the limit by them.
FREE_REFUSALS = frozenset({"unavailable", "rate_limited", "invalid_input"})


async def _ended(event: str, payload: dict[str, Any]) -> None:
    """A channel's push once its join has ended and untied it: nobody to send to."""


class Transport(Protocol):
    """What a join needs of its socket."""

    user: User
    serializer: frames.Serializer  # the wire version the client connected with
    closed: bool  # nobody to reply to any more
    close_code: int | None  # set when the server closed it (None: the client did)
    draining: bool  # the server's shutdown is ending the joins

    async def send_text(self, text: str) -> None: ...

    def current_join(self, topic: str) -> "TopicProcess | None":
        """The socket's join of `topic` now (another one than the asker's, after a rejoin)."""

    def forget(self, process: "TopicProcess") -> None:
        """Drop a join that failed, without a close (the client got the error)."""

    def rejoin_soon(self, process: "TopicProcess", reason: str) -> None:
        """End the join with `phx_error`, so that the client rejoins."""


class TopicProcess:
    """One join of one topic on one socket: runs its channel's callbacks in order."""

    def __init__(
        self,
        socket: Transport,
        topic: str,
        join_ref: str | None,
        channel_cls: type[Channel],
        replaces: "TopicProcess | None" = None,
    ) -> None:
        self.socket = socket
        # The earlier join of this topic on this socket, ended by this task before it
        # joins (not by the socket's dispatch loop, which must keep routing meanwhile).
        self.replaces = replaces
        self.topic = topic
        self.join_ref = join_ref
        self.channel: Channel = channel_cls(
            topic=topic, user=socket.user, push=self.push, push_untied=self.push_untied
        )
        self.queue = Mailbox(TOPIC_QUEUE_LIMIT)
        self.joined = False
        self.subscribed = False
        self.closing = False
        self.overloaded = False
        self.task: asyncio.Task | None = None
        self._stopping: asyncio.Task | None = None

    def start(self, join: frames.Message) -> None:
        self.queue.put_nowait(join)
        self.task = asyncio.get_running_loop().create_task(self._run())

    def enqueue(self, item: Any) -> bool:
        try:
            self.queue.put_nowait(item)
            return True
        except asyncio.QueueFull:
            return False

    def deliver(self, item: Any) -> None:
        """A broadcast on the topic (from fanout) or a catch-up, queued behind the join's
        other work. A client that cannot keep up is made to rejoin, and recovers by seq."""
        if not self.enqueue(item) and not self.overloaded:
            self.overloaded = True
            self.socket.rejoin_soon(self, "overloaded")

    def catch_up(self) -> None:
        """Broadcasts may have been lost: the channel catches up, in order with the rest."""
        self.deliver(_CATCH_UP)

    def connection_changed(self, lost: bool) -> None:
        """The socket went silent, or was heard again: the channel is told, in order."""
        self.deliver(_LOST if lost else _HEARD)

    async def push(self, event: str, payload: dict[str, Any]) -> None:
        await self.socket.send_text(
            self.socket.serializer.encode(self.join_ref, None, self.topic, event, payload)
        )

    async def push_untied(self, event: str, payload: dict[str, Any]) -> None:
        """Send like a broadcast. From an ended join, it goes through the topic's current
        join when there is one, behind the broadcasts already queued there."""
        current = self.socket.current_join(self.topic)
        if (
            current is not None
            and current is not self
            and current.enqueue({"event": event, "payload": payload})
        ):
            return
        await self.socket.send_text(
            self.socket.serializer.encode(None, None, self.topic, event, payload)
        )

    async def tell_ended(self, event: str, payload: dict[str, Any]) -> None:
        """Tell the client this join has ended: `phx_close`, or `phx_error` to have it
        rejoin."""
        await self.socket.send_text(
            self.socket.serializer.encode(self.join_ref, self.join_ref, self.topic, event, payload)
        )

    async def _reply(self, ref: str | None, status: str, response: dict[str, Any]) -> None:
        await self.socket.send_text(
            self.socket.serializer.reply(self.join_ref, ref, self.topic, status, response)
        )

    async def _run(self) -> None:
        if self.replaces is not None:
            old = self.replaces
            await old.stop()
            self.replaces = None
            await old.tell_ended("phx_close", {})
        # `closing` as well as cancellation: asgiref's sync_to_async swallows a
        # cancellation that arrives while its thread runs, and lets the call finish.
        while not self.closing:
            item = await self.queue.get()
            if item is _STOP:
                return
            try:
                if isinstance(item, frames.Message):
                    if item.event == "phx_join":
                        # A client gone before its join ran is not let in.
                        if self.socket.closed or not await self._join(item):
                            return
                    else:
                        await self._handle_in(item)
                elif item is _CATCH_UP:
                    if self.joined:
                        await self.channel.catch_up()
                elif item is _LOST or item is _HEARD:
                    if self.joined:
                        await self.channel.connection_changed(item is _LOST)
                else:
                    await self._deliver(item)
            except asyncio.CancelledError:
                raise
            except RejoinNeeded as exc:
                self.joined = False  # nothing more is sent on this join
                self.socket.rejoin_soon(self, exc.reason)
            except Exception as exc:
                if is_database_down(exc):
                    log_database_down("socket topic task", exc)
                else:
                    logger.exception("error on %s", self.topic)

    async def _deliver(self, message: dict[str, Any]) -> None:
        """A broadcast (or a presence leave queued by an ended join of this topic)."""
        if not self.joined:
            return
        event, payload = message["event"], message["payload"]
        out = await self.channel.handle_out(event, payload)
        if out is None:
            return
        if out is not payload:
            await self.push_untied(event, out)
            return
        # Every local subscriber gets the same message object from the layer: encode it
        # once per wire version.
        serializer = self.socket.serializer
        encoded = message.setdefault("frames", {})
        if serializer.vsn not in encoded:
            encoded[serializer.vsn] = serializer.encode(None, None, self.topic, event, payload)
            if len(encoded) == 1:  # the broadcast's first frame in this process
                prometheus.delivered(message.get("published_at"))
        await self.socket.send_text(encoded[serializer.vsn])

    async def _join(self, msg: frames.Message) -> bool:
        # Subscribe before the channel reads its snapshot, so nothing committed
        # after the read is missed; what arrives meanwhile waits in the queue.
        self.subscribed = True
        try:
            async with asyncio.timeout(LAYER_TIMEOUT):
                await fanout.subscribe(self.topic, self)
        except (RedisError, OSError, TimeoutError) as exc:
            logger.warning("join of %s refused: channel layer unavailable: %r", self.topic, exc)
            prometheus.DEPENDENCY_ERRORS.labels("redis").inc()
            self._count_join("unavailable")
            await self._reply(msg.ref, "error", unavailable_error())
            await self._forget()
            return False
        try:
            response = await self.channel.join(msg.payload)
        except ServiceError as exc:
            self._count_join(exc.code)
            await self._reply(msg.ref, "error", exc.as_dict())
            await self._forget()
            return False
        except Exception as exc:
            if is_database_down(exc):
                log_database_down("socket join", exc)
                self._count_join("unavailable")
                await self._reply(msg.ref, "error", unavailable_error())
            else:
                logger.exception("join of %s crashed", self.topic)
                self._count_join("join_failed")
                await self._reply(msg.ref, "error", {"reason": "join_failed"})
            await self._forget()
            return False
        self._count_join("ok")
        await self._reply(msg.ref, "ok", response)
        self.joined = True
        await self.channel.after_join()
        return True

    def _count_join(self, outcome: str) -> None:
        prometheus.CHANNEL_JOINS.labels(prometheus.topic_kind(self.topic), outcome).inc()

    async def _forget(self) -> None:
        """The join failed: the socket drops it, and it drops its subscription."""
        self.socket.forget(self)
        if self.subscribed:
            self.subscribed = False
            try:
                async with asyncio.timeout(LAYER_TIMEOUT):
                    await fanout.unsubscribe(self.topic, self)
            except (RedisError, OSError, TimeoutError) as exc:
                logger.warning("unsubscribe from %s failed: %r", self.topic, exc)

    async def _handle_in(self, msg: frames.Message) -> None:
        try:
            response = await self.channel.handle_in(msg.event, msg.payload)
        except ServiceError as exc:
            if exc.code in FREE_REFUSALS:
                ratelimit.user_limits.refund(self.socket.user.pk, msg.event)
            prometheus.pushed(msg.event, exc.code)
            await self._reply(msg.ref, "error", exc.as_dict())
        except Exception as exc:
            if is_database_down(exc):
                log_database_down(f"socket {msg.event}", exc)
                ratelimit.user_limits.refund(self.socket.user.pk, msg.event)
                prometheus.pushed(msg.event, "unavailable")
                await self._reply(msg.ref, "error", unavailable_error())
            else:
                logger.exception("%s on %s crashed", msg.event, self.topic)
                prometheus.pushed(msg.event, "internal_error")
                await self._reply(msg.ref, "error", {"reason": "internal_error"})
        else:
            prometheus.pushed(msg.event, "ok")
            await self._reply(msg.ref, "ok", response)

    async def stop(self, *, drain: bool = False, reason: str = "not_joined") -> None:
        """End this join. Broadcasts still queued are dropped (a rejoin recovers them
        by seq). While the socket is open, every push already read gets its one reply:
        `drain` lets queued pushes run first (a client's leave), else they are refused
        with `reason` unread; the push being handled finishes and replies either way.
        Once the client has closed the socket, the pushes it sent before still run,
        for DRAIN_TIMEOUT at most, answered to nobody, as a Phoenix channel handles its
        mailbox before its transport's exit. Once the server has closed it (access
        ended, abuse), the task is cancelled. A chat line cut short is found again by
        its `client_msg_id` when resent.

        Runs once, to the end, even if the caller is cancelled: a half-done stop
        would leave the join in presence.
        """
        if self._stopping is None:
            self._stopping = asyncio.get_running_loop().create_task(self._stop(drain, reason))
        elif self.socket.closed:
            self.abort()
        await asyncio.shield(self._stopping)

    def abort(self) -> None:
        """Stop the join's task now; what is still queued is dropped."""
        if self.task is not None and not self.task.done():
            self.closing = True
            self.task.cancel()

    async def _refuse_queued(self, reason: str) -> None:
        while not self.queue.empty():
            item = self.queue.get_nowait()
            if isinstance(item, frames.Message):
                await self._reply(
                    item.ref,
                    "error",
                    {"reason": reason, "message": "This join ended before the push was read."},
                )

    async def _stop(self, drain: bool, reason: str) -> None:
        self.joined = False
        # Decided now: a client gone before the shutdown reached its socket has left.
        by_server_stop = self.socket.draining
        if self.task is not None and not self.task.done():
            left = self.socket.closed and self.socket.close_code is None
            if self.socket.closed and not left:
                self.abort()
            else:
                if not drain and not left:
                    await self._refuse_queued(reason)
                # Behind the pushes left to run. A full queue (a leave) waits for room,
                # unless the task ends first (cancelled: the socket closed meanwhile).
                put = asyncio.ensure_future(self.queue.put(_STOP))
                try:
                    async with asyncio.timeout(DRAIN_TIMEOUT if left else None):
                        await asyncio.wait({put, self.task}, return_when=asyncio.FIRST_COMPLETED)
                        if left:
                            await asyncio.wait({self.task})
                except TimeoutError:
                    self.abort()
                put.cancel()
            await asyncio.wait({self.task})
        if self.replaces is not None:  # stopped before it had ended the earlier join
            await self.replaces.stop()
        try:
            await self.channel.terminate(by_server_stop=by_server_stop)
        finally:
            if self.subscribed:
                self.subscribed = False
                await fanout.unsubscribe(self.topic, self)
            self._untie()

    def _untie(self) -> None:
        """The join has ended: drop the references that tie it into cycles (its channel's
        pushes back to it; its cancelled task's traceback back to its frame), so that it
        is freed as soon as the socket lets go of it, not by a full collection that
        pauses the loop for every socket closed since (bench/close_storm.py)."""
        self.task = None
        self.channel.push = self.channel.push_untied = _ended
