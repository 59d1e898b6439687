"""This process's open sockets, for the work that reaches all of them at once:
catching up after the channel layer's subscriptions were restored (delivery_watch),
and closing them when the server shuts down (lifecycle)."""

import asyncio
import logging
import math
import weakref
from typing import Protocol

from django.conf import settings

from coaching.models import User
from coaching.realtime import liveness
from coaching.realtime.db import in_db_thread
from coaching.realtime.delivery_watch import delivery_watch
from coaching.realtime.lifecycle import SOCKETS, on_server_shutdown
from coaching.services.access import current_generations
from coaching.services.shares import active_shares
from coaching.share_viewer import ShareViewer

logger = logging.getLogger(__name__)

# Twisted drops its connections at once when the reactor stops: how long the close
# frames get to reach the clients first.
CLOSE_FLUSH_SECONDS = 0.5
# At shutdown, sockets are closed in a batch every this many seconds (DRAIN_SECONDS).
DRAIN_INTERVAL = 0.5


class OpenSocket(Protocol):
    user: User | ShareViewer

    async def catch_up(self, generations: dict[int | str, int]) -> None:
        """Broadcasts may have been lost (`generations`: current_access)."""

    async def shut_down(self) -> None:
        """The server stops: finish the pushes already read, then close."""


_open_sockets: "weakref.WeakSet[OpenSocket]" = weakref.WeakSet()


def register(socket: OpenSocket) -> None:
    """An accepted socket, listed until `unregister` (or until it is collected)."""
    _open_sockets.add(socket)
    on_server_shutdown(close_all_sockets, stage=SOCKETS)
    liveness.watch.start(lambda: _open_sockets)


def unregister(socket: OpenSocket) -> None:
    _open_sockets.discard(socket)


def count() -> int:
    return len(_open_sockets)


def current_access(principals: list[User | ShareViewer]) -> dict[int | str, int]:
    """The token generation of each of these whose access holds, by pk: a user's
    (current_generations), and a share viewer's whose link still answers (a revocation
    whose broadcast was lost closes its sockets here)."""
    viewers = [p for p in principals if isinstance(p, ShareViewer)]
    live = active_shares(v.share_id for v in viewers)
    users = current_generations(p.pk for p in principals if not isinstance(p, ShareViewer))
    return {**users, **{v.pk: v.token_generation for v in viewers if v.share_id in live}}


async def catch_up_all_sockets() -> None:
    """The channel layer's subscriptions were restored after a break: every open socket
    of this process catches up on what it may have missed."""
    sockets = list(_open_sockets)
    generations = await in_db_thread(current_access)([s.user for s in sockets])
    logger.info("catching up %d sockets after a channel layer reconnect", len(sockets))
    await asyncio.gather(*(s.catch_up(generations) for s in sockets), return_exceptions=True)


delivery_watch.catch_up_with(catch_up_all_sockets)


def drain_batches(count: int, seconds: float) -> tuple[int, float]:
    """(sockets per batch, seconds between batches) to close `count` sockets over
    `seconds`: a batch every DRAIN_INTERVAL, as few batches as there are sockets."""
    batches = max(1, min(count, math.ceil(seconds / DRAIN_INTERVAL)))
    return math.ceil(count / batches) if count else 0, seconds / batches


async def close_all_sockets() -> None:
    """Server shutdown, first stage: the open sockets finish their pushes and close, in
    batches spread over DRAIN_SECONDS (like Phoenix's socket drainer), so that their
    clients reconnect to the other processes over time, not all in one instant."""
    sockets = list(_open_sockets)
    size, interval = drain_batches(len(sockets), settings.DRAIN_SECONDS)
    logger.info("shutdown: closing %d sockets, %d every %.2f s", len(sockets), size, interval)
    for start in range(0, len(sockets), size or 1):
        if start:
            await asyncio.sleep(interval)
        batch = sockets[start : start + size]
        await asyncio.gather(*(s.shut_down() for s in batch), return_exceptions=True)
    if sockets:
        # Let the close frames reach the clients first, so they see the close code and
        # not a lost connection.
        await asyncio.sleep(CLOSE_FLUSH_SECONDS)
