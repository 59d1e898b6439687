"""When a socket goes silent: a phone that loses signal at the range sends no close, and
the WebSocket ping notices only after tens of seconds.

A client may declare its heartbeat interval when it connects (`heartbeat_ms` in the
socket URL's query; the page declares 4 s). A socket from which nothing has come for two
intervals (for a client that declares nothing, two of phoenix.js's default 30 s) is
*silent*: each of its joins is told (`Channel.connection_changed`), and the session
channel shows the participant's presence as `connection: "lost"`. The next frame from it,
any frame, makes it heard again. Sockets are checked every CHECK_EVERY seconds, so the
others know within two intervals and a second of the silence (9 s for the page). How
late each check runs is the event loop's lag at that moment (`inswing_event_loop_lag_seconds`:
a sample a second of the stalls bench/harness/loop_probe.py finds in full).
"""

import asyncio
import time
from collections.abc import Callable, Iterable
from typing import Protocol

from coaching import prometheus

# phoenix.js's own heartbeat interval, assumed for a client that declares none.
DEFAULT_HEARTBEAT_MS = 30_000
MIN_HEARTBEAT_MS, MAX_HEARTBEAT_MS = 1_000, 60_000
CHECK_EVERY = 1.0


class Listened(Protocol):
    def check_silence(self, now: float) -> None:
        """Mark the socket silent if nothing came from it for its allowed silence."""


def allowed_silence(declared_ms: int | None) -> float:
    """Seconds without a frame after which a socket counts as silent."""
    interval = declared_ms or DEFAULT_HEARTBEAT_MS
    return 2 * min(max(interval, MIN_HEARTBEAT_MS), MAX_HEARTBEAT_MS) / 1000


def declared_heartbeat(query: dict[str, list[str]]) -> int | None:
    """The `heartbeat_ms` a client declared (whole ms), or None."""
    values = query.get("heartbeat_ms") or []
    try:
        return int(values[0]) if values else None
    except ValueError:
        return None


class Watch:
    """The process's one checking task, started with its first socket."""

    def __init__(self) -> None:
        self._task: asyncio.Task | None = None

    def start(self, sockets: Callable[[], Iterable[Listened]]) -> None:
        """Check `sockets()` every CHECK_EVERY seconds on the running loop (once)."""
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done() or self._task.get_loop() is not loop:
            self._task = loop.create_task(self._run(sockets))

    async def _run(self, sockets: Callable[[], Iterable[Listened]]) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + CHECK_EVERY
            await asyncio.sleep(CHECK_EVERY)
            prometheus.LOOP_LAG.observe(max(0.0, loop.time() - due))
            _check(sockets())


def _check(sockets: Iterable[Listened]) -> None:
    """One check, in its own frame: a loop variable left in the waiting task's frame
    would keep the last socket checked (and all it holds) alive after it closed."""
    now = time.monotonic()
    for socket in list(sockets):
        socket.check_silence(now)


watch = Watch()
