"""Leave announcements: "X left" once a participant's last connection has stayed gone.

When the coach's or student's last connection to a session closes, the channel asks
for a check `LEAVE_NOTICE_GRACE` seconds later: if the user is still not connected
(presence, on any process), a call they are in ends (coaching/realtime/call_room.py),
`participant_left` is posted and the entry mark is cleared, so their next entry is
announced again. A phone that drops and comes back within the grace period announces
neither its leave nor its return, and keeps its call.

The checks run as tasks this module keeps (never lost to garbage collection). When
the server stops, checks still waiting run at once rather than being dropped. The
connections the stop itself closes are not announced (their clients reconnect to
another process, or to this one when it is back): the channel does not ask.
"""

import asyncio
import logging
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
        self._pending: dict[tuple[str, str], asyncio.Task] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._now = asyncio.Event()  # set at shutdown: stop waiting out the grace
        self._hooked = False

    def schedule(self, departure: Departure) -> None:
        """Check `departure` after the grace period (once per user and topic here)."""
        key = (departure.topic, departure.user_key)
        if key in self._pending:
            return
        if not self._hooked:
            self._hooked = True
            on_server_shutdown(self.flush)
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # an Event belongs to one loop (tests run several)
            self._loop, self._now = loop, asyncio.Event()
        task = loop.create_task(self._check_later(departure, self._now))
        self._pending[key] = task
        task.add_done_callback(lambda done: self._forget(key, done))

    def _forget(self, key: tuple[str, str], task: asyncio.Task) -> None:
        if self._pending.get(key) is task:
            del self._pending[key]

    async def _check_later(self, departure: Departure, now: asyncio.Event) -> None:
        try:
            async with asyncio.timeout(settings.LEAVE_NOTICE_GRACE):
                await now.wait()
        except TimeoutError:
            pass
        try:
            await check(departure)
        except ServiceError:
            pass  # the session is gone: nobody to tell
        except Exception:
            logger.exception("leave check of %s in %s failed", departure.user_key, departure.topic)

    async def flush(self) -> None:
        """The server stops: run the waiting checks now, and wait for them."""
        self._now.set()
        while self._pending:
            await asyncio.wait(list(self._pending.values()))


async def check(departure: Departure) -> bool:
    """Announce the leave if the user is still gone and was announced in; True if it was."""
    presence = get_presence()
    if departure.user_key in await presence.list(departure.topic):
        return False  # back (here or on another process)
    await call_room.participant_gone(departure.session_id, departure.user)
    if not await presence.unmark(entry_mark(departure.topic, departure.user_key)):
        return False  # announced already (another connection or process), or never in
    notice = await participant_announce(
        PARTICIPANT_LEFT, session_id=departure.session_id, user=departure.user, role=departure.role
    )
    return notice is not None


departures = Departures()
