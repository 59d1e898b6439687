"""Join snapshots shared by joins of one session that arrive together.

A reconnect storm brings every member of a session back at once, and each join
reads the same snapshot (seven queries). A join may share a read only if it has not
started yet: the join subscribed to the topic before asking, so a read that starts
later misses nothing the join would not also get as a broadcast.
"""

import asyncio
import threading
from typing import Any

from coaching import selectors
from coaching.models import CoachingSession
from coaching.realtime.db import in_db_thread
from coaching.services.lookup import get_session

Snapshot = tuple[CoachingSession, dict[str, Any]]


class _Read:
    def __init__(self) -> None:
        self.started = False
        self.lock = threading.Lock()
        self.task: asyncio.Task | None = None

    def run(self, session_id: str) -> Snapshot:
        with self.lock:
            self.started = True
        session = get_session(session_id)
        return session, selectors.session_snapshot(session)


class SnapshotReads:
    def __init__(self) -> None:
        self._queued: dict[str, _Read] = {}  # by session id: reads not started yet

    async def read(self, session_id: str) -> Snapshot:
        """The session and its snapshot (shared: copy before changing it). Raises what
        `get_session` raises."""
        read = self._queued.get(session_id)
        if read is not None:
            with read.lock:
                shared = not read.started
            if shared:
                return await asyncio.shield(read.task)
        read = self._queued[session_id] = _Read()
        read.task = asyncio.get_running_loop().create_task(in_db_thread(read.run)(session_id))
        try:
            return await asyncio.shield(read.task)
        finally:
            if self._queued.get(session_id) is read:
                del self._queued[session_id]


snapshot_reads = SnapshotReads()
