"""Coach-led review of a swing: shared playback state, lead hand-over, live strokes.

Ephemeral: nothing here is stored in the database or the event log, and nothing
carries a seq. The state (a ReviewState, see docs/protocol.md) is kept by
`coaching.realtime.review`; each change is stamped with the server's time
(`server_ts`) and a per-session `version`, so a client can compute the live
position and drop a state older than one it has.
"""

import math
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from coaching import events, policy
from coaching.errors import RateLimited, invalid
from coaching.models import CoachingSession, Swing, User, session_topic
from coaching.realtime.db import in_db_thread
from coaching.realtime.publish import broadcast
from coaching.realtime.review import ReviewState, StrokeLimiter, get_review_store
from coaching.services.lookup import get_session
from coaching.shapes import clean_shape

RATES = (0.25, 0.5, 1, 2)
MAX_STROKE_ID_CHARS = 64

stroke_limiter = StrokeLimiter(settings.REVIEW_STROKES_PER_SECOND)


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


def _initial(room: Room) -> ReviewState:
    return initial_state(room.coach, next(iter(room.durations), None))


def _leader_id(state: ReviewState) -> str | None:
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
        if payload["swing_id"] not in room.durations:
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


async def current_review(
    session_id: str, coach: dict[str, str] | None, swings: list[dict[str, Any]]
) -> ReviewState:
    """The state a joining viewer starts from (the join snapshot's `review`)."""
    first_swing_id = swings[0]["swing_id"] if swings else None
    state = await get_review_store().get(session_id)
    if state is None:
        return initial_state(coach, first_swing_id)
    return {**state, "swing_id": state["swing_id"] or first_swing_id}


async def stored_review(session_id: str) -> ReviewState | None:
    """The room's review state, if one was set since the session began."""
    return await get_review_store().get(session_id)


async def _publish(session_id: str, event: str, payload: dict[str, Any]) -> None:
    await broadcast(session_topic(session_id), event, payload)


async def review_update(
    *, session_id: str, user: User, role: str, payload: dict[str, Any]
) -> ReviewState:
    """The leader plays, pauses, seeks, changes rate or swing → `review:state` to all.

    A position beyond the swing's duration is taken as its end; changing the swing
    without a position starts the new one at 0.
    """
    room = await in_db_thread(load_room)(session_id)
    changes = clean_update(payload, room)

    def apply(state: ReviewState) -> ReviewState:
        policy.check_review_update(user, _leader_id(state))
        new = _rebased(state, room, now_ms())
        if changes.get("swing_id", new["swing_id"]) != new["swing_id"]:
            new["position_ms"] = 0
        new.update(changes)
        new["position_ms"] = _clamp(new["position_ms"], room.durations.get(new["swing_id"]))
        return new

    state = await get_review_store().change(session_id, _initial(room), apply)
    await _publish(session_id, "review:state", state)
    return state


async def review_lead(
    *, session_id: str, user: User, role: str, payload: dict[str, Any]
) -> ReviewState:
    """Pass the lead (`{user_id}`) → `review:state` to all."""
    room = await in_db_thread(load_room)(session_id)
    target_id = payload.get("user_id")
    if isinstance(target_id, int) and not isinstance(target_id, bool):
        target_id = str(target_id)
    if not isinstance(target_id, str):
        raise invalid("user_id", "user_id must be the session's coach or student.")
    session = room.session
    target = session.student if target_id == str(session.student_id) else session.coach

    def apply(state: ReviewState) -> ReviewState:
        policy.check_review_pass_lead(user, session, _leader_id(state), target_id)
        return {**_rebased(state, room, now_ms()), "leader": events.person(target)}

    state = await get_review_store().change(session_id, _initial(room), apply)
    await _publish(session_id, "review:state", state)
    return state


async def _check_draw(session_id: str, user: User, role: str) -> None:
    state = await get_review_store().get(session_id)
    # No state yet: nobody was given the lead, the coach leads.
    policy.check_review_draw(user, role, _leader_id(state) if state else None)


async def review_stroke(
    *, session_id: str, user: User, role: str, payload: dict[str, Any]
) -> dict[str, Any]:
    """A stroke being drawn → `review:stroke` to the others in the room.

    At most REVIEW_STROKES_PER_SECOND per user (per server process); above that
    the stroke is refused with `rate_limited` and not sent.
    """
    await _check_draw(session_id, user, role)
    stroke_id = payload.get("stroke_id")
    if not isinstance(stroke_id, str) or not 0 < len(stroke_id) <= MAX_STROKE_ID_CHARS:
        raise invalid("stroke_id", f"stroke_id must be a string of 1-{MAX_STROKE_ID_CHARS} chars.")
    done = payload.get("done", False)
    if not isinstance(done, bool):
        raise invalid("done", "done must be true or false.")
    shape = clean_shape(payload.get("shape"))
    wait_ms = stroke_limiter.take(session_id, str(user.pk))
    if wait_ms:
        raise RateLimited(
            f"At most {stroke_limiter.per_second} strokes a second.", retry_after_ms=wait_ms
        )
    stroke = {"stroke_id": stroke_id, "shape": shape, "done": done, "by": events.person(user)}
    await _publish(session_id, "review:stroke", stroke)
    return {}


async def review_clear(
    *, session_id: str, user: User, role: str, payload: dict[str, Any]
) -> dict[str, Any]:
    """Wipe the live drawings on every screen → `review:clear` to all."""
    await _check_draw(session_id, user, role)
    cleared = {"by": events.person(user)}
    await _publish(session_id, "review:clear", cleared)
    return cleared


EVENTS = {
    "review:update": review_update,
    "review:lead": review_lead,
    "review:stroke": review_stroke,
    "review:clear": review_clear,
}


async def handle(
    event: str, session_id: str, user: User, role: str, payload: dict[str, Any]
) -> dict[str, Any]:
    """A client's review event on `session:{session_id}`; the reply's response."""
    return await EVENTS[event](session_id=session_id, user=user, role=role, payload=payload)


def is_own_stroke(event: str, payload: dict[str, Any], user: User) -> bool:
    """A stroke goes to the others: not back to the drawer's own connections."""
    return event == "review:stroke" and payload.get("by", {}).get("id") == str(user.pk)
