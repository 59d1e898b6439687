"""Leave announcements: "X left" once a participant's last connection has stayed gone.

When the coach's or student's last connection to a session closes, the channel asks
for a check `LEAVE_NOTICE_GRACE` seconds later: if the user is still not connected
(presence, on any process), a call they are in ends (coaching/realtime/call_room.py),
`participant_left` is posted and the entry mark is cleared, so their next entry is
announced again. A phone that drops and comes back within the grace period announces
neither its leave nor its return, and keeps its call.

The checks wait in one queue per process, in the order they fall due, and one task
runs them: those due together (up to TOGETHER seconds apart, e.g. a session's coach and
student when a storm of sockets closes) are checked together, each topic with one
presence read, CHECKS_AT_ONCE topics at a time. So a thousand sockets that close at
once are not a thousand tasks waking in the same turn of the event loop, each with its
own round trips, fifteen seconds later (bench/README.md, "Session 18: item 3 and W1").
When the server stops, checks still waiting run at once rather than being dropped. The
connections the stop itself closes are not announced (their clients reconnect to
another process, or to this one when it is back): the channel does not ask.
"""

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass

from django.conf import settings

from coaching.errors import ServiceError
from coaching.models import User
from coaching.realtime import call_room
from coaching.realtime.lifecycle import on_server_shutdown
from coaching.realtime.notices import participant_announce
from coaching.realtime.presence import get_presence
from coaching.services.notices import PARTICIPANT_LEFT

logger = logging.getLogger(__name__)

# Checks falling due this close together are made together (each one this much late
# at most: the grace is a lower bound).
TOGETHER = 0.1
CHECKS_AT_ONCE = 4


def entry_mark(topic: str, user_key: str) -> str:
    """The presence mark set while `user_key` counts as announced in `topic`."""
    return f"entered:{topic}:{user_key}"


@dataclass(frozen=True)
class Departure:
    topic: str
    session_id: str
    user: User
    role: str

    @property
    def user_key(self) -> str:
        return str(self.user.pk)


class Departures:
    def __init__(self) -> None:
        # (topic, user key) → (when due, on the loop's clock; the departure), due order
        self._waiting: dict[tuple[str, str], tuple[float, Departure]] = {}
        self._runner: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._now = asyncio.Event()  # set at shutdown: stop waiting out the grace
        self._hooked = False

    def schedule(self, departure: Departure) -> None:
        """Check `departure` after the grace period (once per user and topic here)."""
        key = (departure.topic, departure.user_key)
        if key in self._waiting:
            return
        if not self._hooked:
            self._hooked = True
            on_server_shutdown(self.flush)
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # an Event and a task belong to one loop (tests run several)
            self._loop, self._now, self._waiting, self._runner = loop, asyncio.Event(), {}, None
        self._waiting[key] = (loop.time() + settings.LEAVE_NOTICE_GRACE, departure)
        if self._runner is None or self._runner.done():
            self._runner = loop.create_task(self._run())

    async def _run(self) -> None:
        while self._waiting:
            first_due, _ = next(iter(self._waiting.values()))
            wait = first_due + TOGETHER - self._loop.time()
            if wait > 0 and not self._now.is_set():
                try:
                    async with asyncio.timeout(wait):
                        await self._now.wait()
                except TimeoutError:
                    pass
            await _check_all(self._take_due())

    def _take_due(self) -> dict[str, list[Departure]]:
        """The departures due now (all of them once the server stops), by topic."""
        now, flushing = self._loop.time(), self._now.is_set()
        due: dict[str, list[Departure]] = defaultdict(list)
        for key, (when, departure) in list(self._waiting.items()):
            if when > now and not flushing:
                break
            del self._waiting[key]
            due[departure.topic].append(departure)
        return due

    async def flush(self) -> None:
        """The server stops: run the waiting checks now, and wait for them."""
        self._now.set()
        while self._runner is not None and not self._runner.done():
            await asyncio.wait({self._runner})


async def _check_all(due: dict[str, list[Departure]]) -> None:
    topics = list(due.items())
    topics.reverse()  # popped from the end: in due order

    async def checking() -> None:
        while topics:
            topic, leaving = topics.pop()
            try:
                await check(topic, leaving)
            except Exception:
                logger.exception("leave check of %d in %s failed", len(leaving), topic)

    await asyncio.gather(*(checking() for _ in range(min(CHECKS_AT_ONCE, len(topics)))))


async def check(topic: str, leaving: list[Departure]) -> list[Departure]:
    """Announce the leave of each of `leaving` (departures from `topic`, one session's)
    who is still gone and was announced in, with one presence read and one call state
    read for them all; those announced."""
    presence = get_presence()
    here = await presence.list(topic)
    gone = [d for d in leaving if d.user_key not in here]  # the others are back
    if not gone:
        return []
    await call_room.participants_gone(gone[0].session_id, [d.user for d in gone])
    announced = []
    for departure in gone:
        try:
            if not await presence.unmark(entry_mark(topic, departure.user_key)):
                continue  # announced already (another connection or process), or never in
            notice = await participant_announce(
                PARTICIPANT_LEFT,
                session_id=departure.session_id,
                user=departure.user,
                role=departure.role,
            )
        except ServiceError:
            continue  # the session is gone: nobody to tell
        if notice is not None:
            announced.append(departure)
    return announced


departures = Departures()
