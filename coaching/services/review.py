"""Coach-led review of a swing, the rules: shared playback state, lead hand-over, strokes.

Ephemeral: nothing here is stored in the database or the event log, and nothing
carries a seq. The state (a ReviewState, see docs/protocol.md) is kept by the
transport (`coaching.realtime.review`, which applies these rules in
`coaching.realtime.review_room`); each change is stamped with the server's time
(`server_ts`) and a per-session `version`, so a client can compute the live
position and drop a state older than one it has.
"""

import math
import time
from dataclasses import dataclass
from typing import Any

from coaching import events, policy, text
from coaching.errors import invalid
from coaching.models import CoachingSession, Swing, User
from coaching.services.lookup import get_session
from coaching.shapes import clean_shape

ReviewState = dict[str, Any]

RATES = (0.25, 0.5, 1, 2)
MAX_STROKE_ID_CHARS = 64


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class Room:
    """What the review rules need of a session: its people and its swings."""

    session: CoachingSession
    durations: dict[str, int | None]  # swing_id → duration_ms, in seq order

    @property
    def coach(self) -> dict[str, str] | None:
        return events.person(self.session.coach)


def load_room(session_id: str) -> Room:
    session = get_session(session_id)
    swings = Swing.objects.filter(session=session).order_by("seq")
    return Room(session, dict(swings.values_list("swing_id", "duration_ms")))


def initial_state(coach: dict[str, str] | None, first_swing_id: str | None) -> ReviewState:
    """Before anyone moved anything: the first swing, paused at 0, the coach leading."""
    return {
        "swing_id": first_swing_id,
        "playing": False,
        "position_ms": 0,
        "rate": 1,
        "leader": coach,
        "server_ts": now_ms(),
        "version": 0,
    }


def initial(room: Room) -> ReviewState:
    return initial_state(room.coach, next(iter(room.durations), None))


def leader_id(state: ReviewState) -> str | None:
    return state["leader"]["id"] if state.get("leader") else None


def _clamp(position: float, duration_ms: int | None) -> float:
    position = max(0.0, position)
    return min(position, duration_ms) if duration_ms is not None else position


def live_position(state: ReviewState, now: int, duration_ms: int | None) -> float:
    """Where the playback is at `now`: the client's formula, kept within the swing."""
    moved = (now - state["server_ts"]) * state["rate"] if state["playing"] else 0
    return _clamp(state["position_ms"] + moved, duration_ms)


def _rebased(state: ReviewState, room: Room, now: int) -> ReviewState:
    """The state restamped at `now`, with the position it has reached; next version.

    A state from before the session had swings takes its first one."""
    return {
        **state,
        "swing_id": state["swing_id"] or next(iter(room.durations), None),
        "position_ms": round(live_position(state, now, room.durations.get(state["swing_id"])), 3),
        "server_ts": now,
        "version": state["version"] + 1,
    }


def clean_update(payload: dict[str, Any], room: Room) -> dict[str, Any]:
    """The fields of a `review:update`, checked; absent fields stay as they are."""
    changes: dict[str, Any] = {}
    if "swing_id" in payload:
        swing_id = payload["swing_id"]
        if not isinstance(swing_id, str) or swing_id not in room.durations:
            raise invalid("swing_id", "swing_id is not a swing of this session.")
        changes["swing_id"] = payload["swing_id"]
    if "playing" in payload:
        if not isinstance(payload["playing"], bool):
            raise invalid("playing", "playing must be true or false.")
        changes["playing"] = payload["playing"]
    if "rate" in payload:
        rate = payload["rate"]
        if isinstance(rate, bool) or rate not in RATES:
            raise invalid("rate", f"rate must be one of {', '.join(map(str, RATES))}.")
        changes["rate"] = rate
    if "position_ms" in payload:
        position = payload["position_ms"]
        if (
            isinstance(position, bool)
            or not isinstance(position, (int, float))
            or not math.isfinite(position)
            or position < 0
        ):
            raise invalid("position_ms", "position_ms must be a number of ms, 0 or more.")
        changes["position_ms"] = position
    return changes


def updated(state: ReviewState, room: Room, user: User, changes: dict[str, Any]) -> ReviewState:
    """`state` after the leader's `review:update` (`clean_update`'s changes).

    A position beyond the swing's duration is taken as its end; changing the swing
    without a position starts the new one at 0.
    """
    policy.check_review_update(user, leader_id(state))
    new = _rebased(state, room, now_ms())
    if changes.get("swing_id", new["swing_id"]) != new["swing_id"]:
        new["position_ms"] = 0
    new.update(changes)
    new["position_ms"] = _clamp(new["position_ms"], room.durations.get(new["swing_id"]))
    return new


def clean_lead_target(payload: dict[str, Any]) -> str:
    """The user id a `review:lead` passes the lead to."""
    target_id = payload.get("user_id")
    if isinstance(target_id, int) and not isinstance(target_id, bool):
        target_id = str(target_id)
    if not isinstance(target_id, str):
        raise invalid("user_id", "user_id must be the session's coach or student.")
    return target_id


def led(state: ReviewState, room: Room, user: User, target_id: str) -> ReviewState:
    """`state` after `user` passes the lead to `target_id`."""
    session = room.session
    target = session.student if target_id == str(session.student_id) else session.coach
    policy.check_review_pass_lead(user, session, leader_id(state), target_id)
    return {**_rebased(state, room, now_ms()), "leader": events.person(target)}


def check_draw(user: User, role: str, state: ReviewState | None) -> None:
    """Who may draw; with no state yet nobody was given the lead, the coach leads."""
    policy.check_review_draw(user, role, leader_id(state) if state else None)


def clean_stroke(payload: dict[str, Any], user: User) -> dict[str, Any]:
    """The `review:stroke` the others receive."""
    stroke_id = payload.get("stroke_id")
    if not isinstance(stroke_id, str) or not 0 < len(stroke_id) <= MAX_STROKE_ID_CHARS:
        raise invalid("stroke_id", f"stroke_id must be a string of 1-{MAX_STROKE_ID_CHARS} chars.")
    text.ensure_storable(stroke_id, field="stroke_id")  # it is sent on as JSON
    done = payload.get("done", False)
    if not isinstance(done, bool):
        raise invalid("done", "done must be true or false.")
    shape = clean_shape(payload.get("shape"))
    return {"stroke_id": stroke_id, "shape": shape, "done": done, "by": events.person(user)}


def is_own_stroke(event: str, payload: dict[str, Any], user: User) -> bool:
    """A stroke goes to the others: not back to the drawer's own connections."""
    return event == "review:stroke" and payload.get("by", {}).get("id") == str(user.pk)
