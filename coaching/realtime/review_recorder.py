"""The review's recorder: writes what the recording rules (coaching/services/review_recording.py)
keep of the room's changes, off the live path.

The review's handlers (coaching/realtime/review_room.py) hand each change this process
applied to `review_recorder` once it is broadcast: a call that only notes it in memory
and never waits. One background task per process takes the rows that are due every
WRITE_EVERY_SECONDS while any are pending, and writes them, every room's together, in
one statement through a pool of its own (one asyncpg connection: the socket's reads
never queue behind it). A change is applied on exactly one process, so each row is
written once however many processes serve the room.

When the database does not answer, the rows wait and the write is tried again every
RETRY_SECONDS; rows that waited MAX_WAIT_SECONDS, or beyond MAX_WAITING of them, are
dropped with a log line. The live review never waits for any of it. When the server
stops, what is still waiting to settle is written.
"""

import asyncio
import logging
import time
from typing import Any

import orjson

from coaching.models import CoachingSession, ReviewRecord
from coaching.outage import log_database_down
from coaching.realtime import lifecycle, pg
from coaching.services.review import ReviewState, now_ms
from coaching.services.review_recording import Recording, Row

logger = logging.getLogger(__name__)

WRITE_EVERY_SECONDS = 0.1
RETRY_SECONDS = 1.0
MAX_WAIT_SECONDS = 60.0
MAX_WAITING = 50_000

_INSERT = f"""
    INSERT INTO {ReviewRecord._meta.db_table} (session_id, at_ms, kind, swing_id, body)
    SELECT cs.id, r.at_ms, r.kind, r.swing_id, r.body::jsonb
    FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[])
         WITH ORDINALITY AS r(sid, at_ms, kind, swing_id, body, n)
    JOIN {CoachingSession._meta.db_table} cs ON cs.session_id = r.sid
    ORDER BY r.n"""


class ReviewRecorder:
    """This process's recorder (see the module docstring)."""

    def __init__(self, pool: pg.LoopPool) -> None:
        self._pool = pool
        self._recording = Recording()
        self._waiting: list[Row] = []  # taken from the recording, not yet written
        self._failed_since: float | None = None  # monotonic: the first failed write
        self._retry_at = 0  # epoch ms: no write before (the last one failed)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task | None = None
        self._wake = asyncio.Event()
        self._writing = asyncio.Lock()

    def state(self, session_id: str, state: ReviewState) -> None:
        """A state this process applied (and broadcast)."""
        self._recording.state(session_id, state, now_ms())
        self._poke()

    def stroke(self, session_id: str, swing_id: str | None, stroke: dict[str, Any]) -> None:
        """A live stroke this process sent on."""
        self._recording.stroke(session_id, swing_id, stroke, now_ms())
        self._poke()

    def clear(self, session_id: str, swing_id: str | None, by: dict[str, str]) -> None:
        """A clear this process sent on."""
        self._recording.clear(session_id, swing_id, by, now_ms())
        self._poke()

    async def flush(self) -> None:
        """Write everything now, settled or not (the server stops)."""
        self._waiting += self._recording.flush()
        await self._write()

    def _poke(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a task belongs to one loop (tests run several)
            self._loop = loop
            self._wake, self._writing = asyncio.Event(), asyncio.Lock()
            self._task = loop.create_task(self._run())
            lifecycle.on_server_shutdown(self.flush, stage=lifecycle.BROADCASTS)
        self._wake.set()

    async def _run(self) -> None:
        """While anything waits, a batch every WRITE_EVERY_SECONDS; asleep otherwise (a
        change only sets an event: no wake-up per change)."""
        while True:
            if self._recording.next_due() is None and not self._waiting:
                self._wake.clear()
                await self._wake.wait()
            await asyncio.sleep(WRITE_EVERY_SECONDS)
            self._waiting += self._recording.due(now_ms())
            if self._waiting and now_ms() >= self._retry_at:
                await self._write()

    async def _write(self) -> None:
        async with self._writing:
            rows = self._waiting
            if not rows:
                return
            try:
                await self._pool.fetch(
                    _INSERT,
                    [row.session_id for row in rows],
                    [row.at_ms for row in rows],
                    [row.kind for row in rows],
                    [row.swing_id for row in rows],
                    [orjson.dumps(row.body).decode() for row in rows],
                )
            except Exception as exc:
                if pg.unreachable(exc):
                    log_database_down("review recording", exc)
                    self._keep_waiting(len(rows))
                    return
                # The database refused the rows (not an outage): they would fail again.
                logger.exception("%d review rows could not be recorded; dropped", len(rows))
            self._waiting = self._waiting[len(rows) :]  # rows added meanwhile stay
            self._failed_since, self._retry_at = None, 0

    def _keep_waiting(self, failed: int) -> None:
        """Rows that could not be written wait for the next try, up to MAX_WAIT_SECONDS
        and MAX_WAITING of them."""
        now = time.monotonic()
        self._retry_at = now_ms() + int(RETRY_SECONDS * 1000)
        if self._failed_since is None:
            self._failed_since = now
        if now - self._failed_since >= MAX_WAIT_SECONDS:
            logger.warning("%d review rows not recorded (the database is down): dropped", failed)
            self._waiting, self._failed_since = self._waiting[failed:], None
        elif len(self._waiting) > MAX_WAITING:
            extra = len(self._waiting) - MAX_WAITING
            logger.warning("%d review rows not recorded (too many waiting): dropped", extra)
            self._waiting = self._waiting[extra:]


review_recorder = ReviewRecorder(pg.LoopPool(1))
