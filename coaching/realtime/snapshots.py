"""Join snapshots shared by joins of one session that arrive together.

A reconnect storm brings every member of a session back at once, and each join
reads the same snapshot (PostgreSQL) and review and call states (Redis). A join may share a
read only if it has not started yet: the join subscribed to the topic before
asking, so a read that starts later misses nothing the join would not also get as
a broadcast.
"""

import asyncio

from coaching.realtime import call_room, review_room
from coaching.realtime.socket_reads import Snapshot, socket_reads


class _Read:
    def __init__(self) -> None:
        self.started = False
        self.task: asyncio.Task[Snapshot] | None = None

    async def run(self, session_id: str) -> Snapshot:
        self.started = True
        session, snapshot = await socket_reads().snapshot(session_id)
        snapshot["review"] = await review_room.current_review(
            session_id, snapshot["session"]["coach"], snapshot["swings"]
        )
        snapshot["call"] = await call_room.current_call(session_id)
        return session, snapshot


class SnapshotReads:
    def __init__(self) -> None:
        self._queued: dict[str, _Read] = {}  # by session id: reads not started yet

    async def read(self, session_id: str) -> Snapshot:
        """The session and its snapshot with the `review` and `call` states (shared: copy
        before changing it). Raises `not_found` when there is no such session."""
        read = self._queued.get(session_id)
        if read is not None and not read.started:
            return await asyncio.shield(read.task)
        read = self._queued[session_id] = _Read()
        read.task = asyncio.get_running_loop().create_task(read.run(session_id))
        try:
            return await asyncio.shield(read.task)
        finally:
            if self._queued.get(session_id) is read:
                del self._queued[session_id]


snapshot_reads = SnapshotReads()
