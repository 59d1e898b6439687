"""One WebSocket connection speaking Phoenix Channels V2 or V1 (see docs/protocol.md).

The consumer itself only connects and closes, parses frames, answers heartbeats and
routes: each joined topic gets a `TopicProcess` (topic_process.py), a task with its
own queue, so one topic's slow handler never delays heartbeats or other topics.
"""

import asyncio
import json
import logging
import time
from collections.abc import Coroutine
from typing import Any
from urllib.parse import parse_qs

from autobahn.exception import Disconnected  # daphne's WebSocket library
from channels.consumer import AsyncConsumer, get_handler_name
from channels.exceptions import StopConsumer
from redis.exceptions import RedisError

from coaching import prometheus
from coaching.outage import is_database_down, log_database_down
from coaching.realtime import frames, liveness, open_sockets, ratelimit
from coaching.realtime.auth import Refused, authenticate
from coaching.realtime.fanout import LAYER_TIMEOUT, fanout
from coaching.realtime.lifecycle import stopping
from coaching.realtime.publish import TO_JOIN, outbox
from coaching.realtime.router import channel_for
from coaching.realtime.server_tuning import DENIAL_EXTENSION
from coaching.realtime.topic_process import DRAIN_TIMEOUT, TopicProcess

logger = logging.getLogger(__name__)

# Close code sent at shutdown: the client reconnects. 1012 ("service restart") would say
# it best, but the WebSocket library under daphne only sends 1000 or 3000-4999.
CLOSE_SERVICE_RESTART = 4012
RESTARTING = {"reason": "unavailable", "message": "The server is restarting; reconnect."}

# Close codes (the close frame carries no reason text: daphne drops it; a
# `[null, null, "phoenix", "disconnect", {reason}]` frame just before it says why).
CLOSE_ACCESS_ENDED = 4001  # logout, deactivation, role or password change
CLOSE_TOKEN_EXPIRED = 4002  # the token the socket connected with has expired
CLOSE_RATE_LIMITED = 4029  # kept pushing far over the rate limit

TOO_MANY_SOCKETS = {
    "code": "too_many_sockets",
    "message": "Too many open connections for this account; close one and retry.",
}


class PhoenixSocket(AsyncConsumer):
    """Transport: authentication at connect, frames in and out, topic routing."""

    user = None
    closed = False
    # The wire version chosen at connect (V2 until then, for a close before it).
    serializer: frames.Serializer = frames.SERIALIZERS["2.0.0"]
    # The user's (or the share link's) topic: its `disconnect` closes the socket.
    access_topic: str | None = None
    _expiry: asyncio.TimerHandle | None = None  # closes the socket when its token expires
    topics: dict[str, TopicProcess]
    leaving: dict[str, TopicProcess]  # left by the client, still finishing
    background: set[asyncio.Task]
    draining = False
    _shutting: asyncio.Task | None = None
    opened_at: float | None = None  # monotonic, once accepted; None again once logged closed
    heard_at = 0.0  # monotonic: the last frame from the client
    silence_allowed = 60.0  # seconds without a frame before it counts as silent (liveness)
    silent = False
    close_code: int | None = None  # when the server closed it
    slot: tuple[int | str, str] | None = None  # (user, slot) among MAX_SOCKETS_PER_USER

    def check_silence(self, now: float) -> None:
        """liveness.watch: nothing came from the client for its allowed silence."""
        if not self.silent and not self.closed and now - self.heard_at > self.silence_allowed:
            self._set_silent(True)

    def _set_silent(self, silent: bool) -> None:
        self.silent = silent
        for process in self.topics.values():
            process.connection_changed(silent)

    def _log_context(self) -> dict[str, Any]:
        """What identifies this socket in its log lines (never its token)."""
        return {"socket_id": f"{id(self):x}", "user_id": getattr(self.user, "pk", None)}

    async def websocket_connect(self, message: dict) -> None:
        outbox.bind()
        self.topics, self.leaving, self.background = {}, {}, set()
        if stopping():
            logger.info("socket refused: the server is shutting down")
            await self.send({"type": "websocket.close"})  # before accept: HTTP 403
            return
        self.abuse = ratelimit.AbuseMeter()
        try:
            connect = await authenticate(self.scope, on_identified=self._watch_access)
        except Refused as exc:
            logger.info("socket refused: %s", exc)
            await self._unwatch_access()
            await self.send({"type": "websocket.close"})  # before accept: HTTP 403
            return
        except Exception as exc:
            if not is_database_down(exc):
                raise
            log_database_down("socket connect", exc)
            await self._unwatch_access()
            await self.send({"type": "websocket.close"})  # HTTP 403; phoenix.js backs off
            return
        slot = await ratelimit.user_limits.open_socket(connect.user.pk)
        if slot is None:
            logger.info("socket refused: too many sockets", extra={"user_id": connect.user.pk})
            prometheus.RATE_LIMITED.labels("sockets").inc()
            await self._unwatch_access()
            await self._deny(429, TOO_MANY_SOCKETS)
            return
        self.slot = (connect.user.pk, slot)
        self.user, self.serializer = connect.user, connect.serializer
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        self.silence_allowed = liveness.allowed_silence(liveness.declared_heartbeat(query))
        self.heard_at = time.monotonic()
        open_sockets.register(self)
        await self.send({"type": "websocket.accept", "subprotocol": connect.subprotocol})
        self.opened_at = time.monotonic()
        logger.info("socket opened", extra=self._log_context())
        self._expiry = asyncio.get_running_loop().call_later(
            max(0.0, connect.expires_at - time.time()), self._token_expired
        )

    async def _deny(self, status: int, error: dict[str, str]) -> None:
        """Refuse the upgrade with an HTTP `status` and a JSON body `{"error": error}`
        (server_tuning.http_response_before_upgrade); a server without that answers 403."""
        if DENIAL_EXTENSION not in (self.scope.get("extensions") or {}):
            await self.send({"type": "websocket.close"})
            return
        await self.send(
            {
                "type": "websocket.http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        body = json.dumps({"error": error}).encode()
        await self.send({"type": "websocket.http.response.body", "body": body})

    async def _watch_access(self, topic: str) -> None:
        """Listen to `topic` (the user's, or the share link's): its `disconnect` closes
        the socket."""
        self.access_topic = topic
        try:
            async with asyncio.timeout(LAYER_TIMEOUT):
                await fanout.subscribe(self.access_topic, self)
        except (RedisError, OSError, TimeoutError) as exc:
            raise Refused(f"channel layer unavailable: {exc!r}") from None

    async def _unwatch_access(self) -> None:
        if self.access_topic is not None:
            topic, self.access_topic = self.access_topic, None
            try:
                async with asyncio.timeout(LAYER_TIMEOUT):
                    await fanout.unsubscribe(topic, self)
            except (RedisError, OSError, TimeoutError) as exc:
                logger.warning("unsubscribe from %s failed: %r", topic, exc)

    def deliver(self, message: dict[str, Any]) -> None:
        """A broadcast on the user's own topic (fanout): their access ended, or an event
        for one of their joins. On a share link's topic: the link was revoked."""
        if message["event"] == TO_JOIN:
            self._pass_to_join(message["payload"])
            return
        self._spawn(self.close_for(CLOSE_ACCESS_ENDED, message["payload"].get("reason", "ended")))

    def _pass_to_join(self, addressed: dict[str, Any]) -> None:
        """An event for this user's join of a topic (publish.to_user_join), like a
        broadcast of that topic; dropped when this socket has not joined it."""
        process = self.topics.get(addressed["topic"])
        if process is not None:
            process.deliver({"event": addressed["event"], "payload": addressed["payload"]})

    def _token_expired(self) -> None:
        self._spawn(self.close_for(CLOSE_TOKEN_EXPIRED, "token_expired"))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run `work` in the background, kept until it ends."""
        task = asyncio.get_running_loop().create_task(work)
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    async def close_for(self, code: int, reason: str) -> None:
        """Close the socket from the server: say why, end the joins, close.

        Nothing more is read once this starts; pushes queued unread are dropped.
        """
        if self.closed:
            return
        self.closed = True
        disconnect = self.serializer.encode(None, None, "phoenix", "disconnect", {"reason": reason})
        await self.send({"type": "websocket.send", "text": disconnect})
        logger.info("closing socket: %s", reason, extra={**self._log_context(), "code": code})
        prometheus.SOCKET_DISCONNECTS.labels(reason).inc()
        self.close_code = code
        await self._stop_all()
        await self.send({"type": "websocket.close", "code": code})

    async def dispatch(self, message: dict) -> None:
        # Channels' own dispatch first closes stale DB connections, a hop to the sync
        # thread on every frame and broadcast. This consumer never touches the ORM on
        # the event loop (see db.py), so it skips that hop.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def send(self, message: dict) -> None:
        # A client that has just gone (its disconnect is on the way) is not an error:
        # nothing more is sent, and the disconnect ends the joins as usual.
        try:
            await super().send(message)
        except Disconnected:
            self.closed = True

    async def send_text(self, text: str) -> None:
        if not self.closed:
            await self.send({"type": "websocket.send", "text": text})

    async def websocket_receive(self, message: dict) -> None:
        # Frames over WEBSOCKET_MAX_FRAME_BYTES never get here: the server drops the
        # connection as they arrive (inswing_realtime/serve.py).
        if self.user is None or self.closed:
            return
        self.heard_at = time.monotonic()
        if self.silent:
            self._set_silent(False)
        text = message.get("text")
        try:
            if text is None:
                self.serializer.decode_binary(message.get("bytes") or b"")
            msg = self.serializer.decode(text)
        except frames.FrameError as exc:
            # A frame that is not a message spends the sender's budget like any push, so
            # a stream of them is refused and closed like any other flood.
            prometheus.pushed("other", "bad_frame")
            if not await self._within_budget(None, ratelimit.BAD_FRAME) or exc.ref is None:
                return
            await self.send_text(
                self.serializer.reply(
                    None,
                    exc.ref,
                    exc.topic or "phoenix",
                    "error",
                    {"reason": "bad_frame", "message": str(exc)},
                )
            )
            return
        if not await self._within_budget(msg, msg.event):
            return
        if msg.topic == "phoenix" and msg.event == "heartbeat":
            await self._reply(msg, "ok", {})
        elif self.draining:
            await self._reply(msg, "error", RESTARTING)
        elif msg.event == "phx_join":
            await self._join(msg)
        elif msg.event == "phx_leave":
            await self._leave(msg)
        else:
            process = self.topics.get(msg.topic)
            if process is None or not self._addresses(msg, process):
                await self._reply(msg, "error", {"reason": "not_joined"})
            elif not process.enqueue(msg):
                await self._reply(msg, "error", {"reason": "too_many_requests"})

    async def _within_budget(self, msg: frames.Message | None, event: str) -> bool:
        """Take `event`'s tokens from the user's budget (ratelimit); when it is spent,
        answer `rate_limited` (`msg`, if readable), or close a socket that keeps on."""
        wait = await ratelimit.user_limits.check(self.user.pk, event)
        if not wait:
            return True
        prometheus.RATE_LIMITED.labels("chat" if event == "chat:new" else "push").inc()
        if self.abuse.refused():
            await self.close_for(CLOSE_RATE_LIMITED, "rate_limited")
        elif msg is not None:
            await self._reply(msg, "error", ratelimit.rate_limited(wait))
        return False

    def _addresses(self, msg: frames.Message, process: TopicProcess) -> bool:
        """Whether `msg` is for this join of its topic (not a stale one). V1 clients may
        leave join_ref out: theirs is then the topic's current join."""
        if msg.join_ref is None and self.serializer.join_ref_optional:
            return True
        return process.join_ref == msg.join_ref

    async def _reply(self, msg: frames.Message, status: str, response: dict) -> None:
        prometheus.pushed(msg.event, "ok" if status == "ok" else response.get("reason", "error"))
        await self.send_text(
            self.serializer.reply(msg.join_ref, msg.ref, msg.topic, status, response)
        )

    async def _join(self, msg: frames.Message) -> None:
        channel_cls = channel_for(msg.topic)
        if channel_cls is None:
            await self.send_text(
                self.serializer.reply(
                    None, msg.ref, msg.topic, "error", {"reason": "unmatched topic"}
                )
            )
            return
        # A rejoin: the new join's task closes the old one first. Broadcasts that
        # arrive meanwhile queue behind the new join, so none is sent out of order.
        old = self.topics.pop(msg.topic, None) or self.leaving.pop(msg.topic, None)
        process = TopicProcess(self, msg.topic, msg.join_ref, channel_cls, replaces=old)
        self.topics[msg.topic] = process
        process.start(msg)

    async def _leave(self, msg: frames.Message) -> None:
        process = self.topics.get(msg.topic)
        if process is None or not self._addresses(msg, process):
            await self._reply(msg, "ok", {})  # unknown or already ended: nothing to do
            return
        del self.topics[msg.topic]
        self.leaving[msg.topic] = process
        # Pushes still queued on the topic finish first; the dispatch loop goes on.
        self._spawn(self._finish_leave(msg, process))

    async def _finish_leave(self, msg: frames.Message, process: TopicProcess) -> None:
        await process.stop(drain=True)
        if self.leaving.get(msg.topic) is process:
            del self.leaving[msg.topic]
        await self._reply(msg, "ok", {})
        await process.tell_ended("phx_close", {})

    def current_join(self, topic: str) -> TopicProcess | None:
        return self.topics.get(topic)

    def forget(self, process: TopicProcess) -> None:
        """A join that failed: drop it without a close (the client got the error)."""
        if self.topics.get(process.topic) is process:
            del self.topics[process.topic]

    async def force_rejoin(self, process: TopicProcess, reason: str) -> None:
        """End a join with `phx_error`: phoenix.js rejoins (with its last_seq) and gets
        a fresh snapshot or replay. Pushes read so far are answered first."""
        if self.topics.get(process.topic) is not process:
            return  # left or replaced meanwhile
        del self.topics[process.topic]
        await process.stop(reason=reason)
        await process.tell_ended("phx_error", {"reason": reason})

    def rejoin_soon(self, process: TopicProcess, reason: str) -> None:
        """`force_rejoin`, from where it cannot be awaited (the join's own task, which
        `stop` waits for, or a delivery)."""
        self._spawn(self.force_rejoin(process, reason))

    async def catch_up(self, generations: dict[int | str, int]) -> None:
        """Broadcasts to this socket may have been lost (see delivery_watch): close it if
        its user's access ended meanwhile (`generations`: current_access), else let
        each joined topic catch up, in order with its other work."""
        if self.closed:
            return
        if generations.get(self.user.pk) != self.user.token_generation:
            await self.close_for(CLOSE_ACCESS_ENDED, "access_ended")
            return
        for process in list(self.topics.values()):
            process.catch_up()

    async def websocket_disconnect(self, message: dict) -> None:
        if self.opened_at is not None:
            duration_ms = round((time.monotonic() - self.opened_at) * 1000)
            code = self.close_code or message.get("code")
            if self.close_code is None:
                prometheus.SOCKET_DISCONNECTS.labels("client").inc()
            logger.info(
                "socket closed",
                extra={**self._log_context(), "duration_ms": duration_ms, "code": code},
            )
            self.opened_at = None
        self.closed = True
        await self._stop_all()
        raise StopConsumer()

    async def __call__(self, scope, receive, send) -> None:
        # AsyncConsumer.__call__, with the channel layer's setup bounded: when Redis
        # is down the upgrade is refused (HTTP 403, the client retries with backoff)
        # instead of failing with a 500 after the layer's retries.
        # Broadcasts reach the socket through fanout (one layer channel per process),
        # not through a layer channel of its own.
        self.scope, self.base_send = scope, send
        try:
            async with asyncio.timeout(LAYER_TIMEOUT):
                await fanout.start()
        except (RedisError, OSError, TimeoutError) as exc:
            logger.warning("socket refused: channel layer unavailable: %r", exc)
            prometheus.DEPENDENCY_ERRORS.labels("redis").inc()
            await receive()  # websocket.connect
            await send({"type": "websocket.close"})
            return
        try:
            # channels' await_many_dispatch, for one source: no task and no
            # asyncio.wait per frame, and none held while the socket is idle.
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass
        except asyncio.CancelledError:
            # The server is shutting down. End the joins properly, so presence
            # announces the leaves now rather than when this process is reaped, and
            # return normally: daphne waits for its consumers with a gather that
            # stops at the first one that raises, and would not wait for the others.
            await self.shut_down()
        finally:
            self.closed = True
            open_sockets.unregister(self)
            if self.slot is not None:
                ratelimit.user_limits.close_socket(*self.slot)
                self.slot = None
            await self._stop_all()

    async def shut_down(self) -> None:
        """The server stops: answer the pushes already read, then close with 4012 so
        the client reconnects (to another process). Pushes read from now on are
        answered `unavailable`. Runs once, even if the caller is cancelled."""
        if self._shutting is None:
            self._shutting = asyncio.get_running_loop().create_task(self._shut_down())
        await asyncio.shield(self._shutting)

    async def _shut_down(self) -> None:
        self.draining = True
        processes = [*getattr(self, "topics", {}).values(), *getattr(self, "leaving", {}).values()]
        stops = asyncio.gather(*(p.stop(drain=True) for p in processes), return_exceptions=True)
        try:
            await asyncio.wait_for(asyncio.shield(stops), DRAIN_TIMEOUT)
        except TimeoutError:
            logger.warning("shutdown: pushes on %d topics did not finish in time", len(processes))
            for process in processes:
                process.abort()
            await stops
        if not self.closed:
            await self.send({"type": "websocket.close", "code": CLOSE_SERVICE_RESTART})
        self.closed = True

    async def _stop_all(self) -> None:
        # The joins stay listed until stopped, so a shutdown that comes meanwhile
        # finds them and waits for their stops (which run once) before going on.
        processes = [*getattr(self, "topics", {}).values(), *getattr(self, "leaving", {}).values()]
        for process in processes:
            try:
                await process.stop()
            except Exception:
                logger.exception("cleanup of %s failed", process.topic)
        self.topics, self.leaving = {}, {}
        if self._expiry is not None:
            self._expiry.cancel()
        await self._unwatch_access()
