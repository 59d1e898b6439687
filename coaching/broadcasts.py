"""Where domain actions hand over what they broadcast: a port the transport plugs into.

Services persist, then broadcast; how a broadcast reaches the subscribers (the
process's outbox, Redis) is the transport's business. `coaching.realtime` plugs its
sender in when the app starts (`CoachingConfig.ready`), tests plug in a recorder, and
nothing under `coaching.services` imports the transport.
"""

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

from django.db import transaction

# `(topic, event, payload)`: queue the broadcast behind this process's earlier ones,
# from any thread, without waiting for it to be published.
Sender = Callable[[str, str, dict[str, Any]], None]
# The same from the event loop, returning once it is published (raises what publishing
# raised): for events nothing stores, where a failure must reach the caller.
Publisher = Callable[[str, str, dict[str, Any]], Awaitable[None]]


class _Port:
    def __init__(self) -> None:
        self.send: Sender | None = None
        self.publish: Publisher | None = None


_port = _Port()


def plug(send: Sender, publish: Publisher) -> None:
    """Called once by the transport when the app starts."""
    _port.send, _port.publish = send, publish


def now(topic: str, event: str, payload: dict[str, Any]) -> None:
    """Broadcast what is already committed (or never stored), behind earlier broadcasts."""
    if _port.send is None:
        raise RuntimeError("no transport is plugged into coaching.broadcasts")
    _port.send(topic, event, payload)


def on_commit(topic: str, event: str, payload: dict[str, Any]) -> None:
    """Broadcast once the surrounding transaction commits (never for a rolled-back one;
    at once outside a transaction)."""
    transaction.on_commit(partial(now, topic, event, payload))


async def published(topic: str, event: str, payload: dict[str, Any]) -> None:
    """From the event loop: broadcast and return once it is published."""
    if _port.publish is None:
        raise RuntimeError("no transport is plugged into coaching.broadcasts")
    await _port.publish(topic, event, payload)


@contextmanager
def plugged(send: Sender, publish: Publisher) -> Iterator[None]:
    """Another transport for the block (tests record what is broadcast)."""
    before = _port.send, _port.publish
    plug(send, publish)
    try:
        yield
    finally:
        _port.send, _port.publish = before
