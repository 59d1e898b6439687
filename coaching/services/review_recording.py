"""Keeping the review for replay, the rules: which of the room's changes become rows
(coaching.models.ReviewRecord), without I/O.

The transport (coaching/realtime/review_recorder.py) hands every change this process
applied to a `Recording` with the time it saw it, and writes what `due` gives back;
the rules here decide what is kept (docs/protocol.md, "What is kept of the review"):

- A state is written once it has settled: no newer state for the session came within
  SETTLE_MS. While states keep coming (scrubbing), one is written at most every
  THROTTLE_MS, so a storm of seeks writes a row per window, not a row per seek.
- Only the position (and the compare's offset) is coalesced: a state that changes
  anything else (swing, playing, rate, leader, compare, lead request, who watches alone)
  is always written, and so is the state before it: the last state before a pause or a
  swing change is kept. So is the first state after a quiet spell (where a scrub began).
- A finished stroke (`done: true`) and a clear are written as they come, after the
  state waiting to be written (the frame they were drawn on).
- Rows come out in the order the changes were applied; each carries the server time it
  belongs to (a state's `server_ts`), which orders it among the event log's rows.
"""

from dataclasses import dataclass
from typing import Any

from coaching.models import ReviewKind
from coaching.services.review import ReviewState

SETTLE_MS = 300
THROTTLE_MS = 250


@dataclass(frozen=True)
class Row:
    """A ReviewRecord to write."""

    session_id: str
    at_ms: int
    kind: str
    swing_id: str | None
    body: dict[str, Any]


def _moment(state: ReviewState) -> tuple:
    """Everything of a state but where the playback is: a change of it is kept."""
    compare = state.get("compare")
    return (
        state.get("swing_id"),
        state.get("playing"),
        state.get("rate"),
        state["leader"]["id"] if state.get("leader") else None,
        compare["swing_id"] if compare else None,
        state["lead_request"]["id"] if state.get("lead_request") else None,
        tuple(viewer["id"] for viewer in state.get("alone", ())),
    )


def _state_row(session_id: str, state: ReviewState) -> Row:
    return Row(session_id, state["server_ts"], ReviewKind.STATE, None, state)


@dataclass
class _Session:
    pending: ReviewState | None = None
    settle_at: int = 0
    # The pending state changed more than the position: it is written whatever follows.
    keep: bool = False
    seen: tuple | None = None  # `_moment` of the latest state
    last_written: int | None = None  # when this session's last state row went out


class Recording:
    """The rows to write, from the changes this process applied (see the module)."""

    def __init__(self, *, settle_ms: int = SETTLE_MS, throttle_ms: int = THROTTLE_MS) -> None:
        self.settle_ms = settle_ms
        self.throttle_ms = throttle_ms
        self._sessions: dict[str, _Session] = {}
        self._ready: list[Row] = []

    def state(self, session_id: str, state: ReviewState, now: int) -> None:
        """The room's state after a change this process applied, seen at `now` (ms)."""
        session = self._sessions.setdefault(session_id, _Session())
        pending = session.pending
        if pending is not None and state["version"] < pending["version"]:
            # Applied before the pending one, seen after it: kept if it was a change.
            if _moment(state) != _moment(pending):
                self._ready.append(_state_row(session_id, state))
            return
        moment = _moment(state)
        changed = moment != session.seen  # the first state after a quiet spell counts too
        if pending is not None and (
            session.keep
            or changed
            or session.last_written is None
            or now - session.last_written >= self.throttle_ms
        ):
            self._write_pending(session_id, session, now)
        session.pending, session.keep, session.seen = state, changed, moment
        session.settle_at = now + self.settle_ms

    def stroke(
        self, session_id: str, swing_id: str | None, stroke: dict[str, Any], now: int
    ) -> None:
        """A live stroke (`review:stroke`'s payload); kept once finished (`done`)."""
        if not stroke.get("done"):
            return
        self._before_drawing(session_id, now)
        body = {key: stroke[key] for key in ("stroke_id", "shape", "by")}
        self._ready.append(Row(session_id, now, ReviewKind.STROKE, swing_id, body))

    def clear(self, session_id: str, swing_id: str | None, by: dict[str, str], now: int) -> None:
        """The live drawings were wiped."""
        self._before_drawing(session_id, now)
        self._ready.append(Row(session_id, now, ReviewKind.CLEAR, swing_id, {"by": by}))

    def due(self, now: int) -> list[Row]:
        """The rows to write at `now`, in order: taken, they are not given again."""
        for session_id, session in list(self._sessions.items()):
            if session.pending is not None and session.settle_at <= now:
                self._write_pending(session_id, session, now)
            if session.pending is None and (
                session.last_written is None or now - session.last_written >= self.throttle_ms
            ):
                del self._sessions[session_id]  # nothing left to coalesce with
        rows, self._ready = self._ready, []
        return rows

    def next_due(self) -> int | None:
        """When `due` has rows next (ms; now-or-earlier when some are ready), or None."""
        if self._ready:
            return 0
        moments = [s.settle_at for s in self._sessions.values() if s.pending is not None]
        return min(moments, default=None)

    def flush(self) -> list[Row]:
        """Every row, settled or not (the process stops)."""
        for session_id, session in self._sessions.items():
            if session.pending is not None:
                self._ready.append(_state_row(session_id, session.pending))
        self._sessions.clear()
        rows, self._ready = self._ready, []
        return rows

    def _write_pending(self, session_id: str, session: _Session, now: int) -> None:
        if session.pending is not None:
            self._ready.append(_state_row(session_id, session.pending))
            session.pending = None
            session.last_written = now

    def _before_drawing(self, session_id: str, now: int) -> None:
        session = self._sessions.get(session_id)
        if session is not None:
            self._write_pending(session_id, session, now)
