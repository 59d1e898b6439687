"""The channel contract: what a topic handler implements, and how it talks back.

A `Channel` is created per join (one socket, one topic). The transport calls
`join`, then `after_join`, then `handle_in` for each push and `handle_out` for
each broadcast (`catch_up` when some may have been lost, `connection_changed` when
the socket goes silent or is heard again), strictly one at a time and in arrival
order; `terminate` last.
Handlers raise `ServiceError` to refuse; its code becomes the reply's `reason`.
"""

from collections.abc import Awaitable, Callable
from typing import Any

from coaching.errors import ServiceError
from coaching.models import User

Push = Callable[[str, dict[str, Any]], Awaitable[None]]


class RejoinNeeded(Exception):
    """The client is better served by a fresh join than by more pushes (it missed too
    much): the transport ends the join with `phx_error` and the client rejoins."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Channel:
    def __init__(self, *, topic: str, user: User, push: Push, push_untied: Push) -> None:
        self.topic = topic
        self.user = user
        self.push = push  # push(event, payload) to this client, tied to this join
        # Like a broadcast frame (no join_ref): reaches the client's current join of
        # the topic even when this one has ended, e.g. a rejoin on the same socket.
        self.push_untied = push_untied

    async def join(self, params: dict[str, Any]) -> dict[str, Any]:
        """Authorize and return the join reply's response."""
        raise NotImplementedError

    async def after_join(self) -> None:
        """Runs once the ok reply is sent: initial pushes."""

    async def handle_in(self, event: str, payload: dict[str, Any]) -> dict[str, Any]:
        """A client push; the return value is the ok reply's response."""
        raise ServiceError("unknown_event", f"Unknown event {event!r} on {self.topic}.")

    async def handle_out(self, event: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        """A broadcast on the topic: what to send this client, or None to skip it."""
        return payload

    async def catch_up(self) -> None:
        """Broadcasts on the topic may have been lost on the way (the channel layer's
        connection broke): bring the client up to date. By default it rejoins."""
        raise RejoinNeeded("resync")

    async def connection_changed(self, lost: bool) -> None:
        """The client's socket went silent (`lost`), or was heard again (coaching/realtime/
        liveness.py): say so to the topic's others if they should know."""

    async def terminate(self, *, by_server_stop: bool = False) -> None:
        """The join ended (leave, rejoin, disconnect): release what it holds.
        `by_server_stop`: the server's own shutdown ended it, not the client (whose
        client reconnects, to another process or to this one when it is back)."""
