"""Work to do when the server process stops, before its connections are dropped.

Under daphne (Twisted) this is a reactor "before shutdown" trigger, which Twisted
waits for. It does not depend on daphne cancelling every consumer first: daphne
4.2 skips that entirely when any connection has no application yet (an idle
keep-alive or health-check connection makes its shutdown raise a KeyError).
Other servers get no hook; there the presence heartbeat's reaper still bounds the harm.

From the first moment the process is draining: `/readyz` fails (a proxy sends no new
clients) and new sockets are refused. The cleanups then run in stages, one stage
after the other, within SHUTDOWN_GRACE seconds in all (DRAIN_SECONDS + 5): first the
sockets, closed in batches spread over DRAIN_SECONDS so their clients reconnect to
the other processes over time rather than in one instant (each finishes the pushes
already read first), then the broadcasts still queued, then presence. Should anything
hang past the grace period (a database that does not answer), a watchdog ends the
process anyway.
"""

import asyncio
import logging
import os
import sys
import threading
import time
from collections.abc import Awaitable, Callable

from django.conf import settings

logger = logging.getLogger(__name__)

# Stages, in the order they run.
SOCKETS, BROADCASTS, PRESENCE = 0, 1, 2
# SIGTERM to exit: the sockets' drain, then 5 s for the rest. A process manager must
# wait at least this long before its kill (docker-compose.yml: stop_grace_period).
SHUTDOWN_GRACE = settings.DRAIN_SECONDS + 5.0
WATCHDOG_EXIT_CODE = 70

Cleanup = Callable[[], Awaitable[None]]
_stages: dict[int, list[Cleanup]] = {}
_installed = False
_stopping = threading.Event()


def stopping() -> bool:
    """True once the server has begun to shut down."""
    return _stopping.is_set()


def on_server_shutdown(cleanup: Cleanup, *, stage: int = PRESENCE) -> None:
    """Run `cleanup()` on the event loop when the server shuts down (once per cleanup)."""
    global _installed
    reactor = sys.modules.get("twisted.internet.reactor")
    if reactor is None or not hasattr(reactor, "addSystemEventTrigger"):
        return
    cleanups = _stages.setdefault(stage, [])
    if cleanup not in cleanups:
        cleanups.append(cleanup)
    if _installed:
        return
    _installed = True
    from twisted.internet import defer

    def trigger() -> defer.Deferred:
        return defer.Deferred.fromFuture(asyncio.ensure_future(_shut_down()))

    reactor.addSystemEventTrigger("before", "shutdown", trigger)


async def _shut_down() -> None:
    _stopping.set()
    threading.Thread(target=_watchdog, name="shutdown-watchdog", daemon=True).start()
    deadline = time.monotonic() + SHUTDOWN_GRACE - 1
    for stage in sorted(_stages):
        cleanups = _stages[stage]
        remaining = max(deadline - time.monotonic(), 0.1)
        results = await asyncio.gather(
            *(asyncio.wait_for(_logged(c), remaining) for c in cleanups), return_exceptions=True
        )
        for cleanup, result in zip(cleanups, results, strict=True):
            if isinstance(result, BaseException):
                logger.warning("shutdown: %s did not finish: %r", cleanup, result)


def _watchdog() -> None:
    time.sleep(SHUTDOWN_GRACE)
    logger.error("shutdown took longer than %.0f s; exiting now", SHUTDOWN_GRACE)
    logging.shutdown()
    os._exit(WATCHDOG_EXIT_CODE)


async def _logged(cleanup: Cleanup) -> None:
    try:
        await cleanup()
    except Exception:
        logger.exception("shutdown cleanup failed")
