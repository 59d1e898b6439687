"""Work to do when the server process stops, before its connections are dropped.

Under daphne (Twisted) this is a reactor "before shutdown" trigger, which Twisted
waits for. It does not depend on daphne cancelling every consumer first: daphne
4.2 skips that entirely when any connection has no application yet (an idle
keep-alive or health-check connection makes its shutdown raise a KeyError).
Other servers get no hook; there the reaper in presence.py still bounds the harm.
"""

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)


def on_server_shutdown(cleanup: Callable[[], Awaitable[None]]) -> None:
    """Run `cleanup()` on the event loop when the server shuts down."""
    reactor = sys.modules.get("twisted.internet.reactor")
    if reactor is None or not hasattr(reactor, "addSystemEventTrigger"):
        return
    from twisted.internet import defer

    def trigger() -> defer.Deferred:
        return defer.Deferred.fromFuture(asyncio.ensure_future(_logged(cleanup)))

    reactor.addSystemEventTrigger("before", "shutdown", trigger)


async def _logged(cleanup: Callable[[], Awaitable[None]]) -> None:
    try:
        await cleanup()
    except Exception:
        logger.exception("shutdown cleanup failed")
