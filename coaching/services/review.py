"""Reviewing a swing together, the rules: the shared playback state (with the compared
swing), the lead and asking for it, watching alone, strokes.

Ephemeral: the state (a ReviewState, see docs/protocol.md) is not stored in the
database and carries no seq. It is kept by the transport (`coaching.realtime.review`,
which applies these rules in `coaching.realtime.review_room`); each change is stamped
with the server's time (`server_ts`) and a per-session `version`, so a client can
compute the live position and drop a state older than one it has. What the timeline
shows of it, a change of leader and the start or end of a compare, is logged
(`log_lines`, written by `change_logged` under the session row's lock).
"""

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from coaching import broadcasts, eventlog, events, policy, text
from coaching.errors import ServiceError, invalid
from coaching.models import CoachingSession, Swing, User
from coaching.services.lookup import get_session, locked_session
from coaching.services.swings import MAX_DURATION_MS
from coaching.shapes import clean_shape
from coaching.state import ensure_open as ensure_lesson_open

ReviewState = dict[str, Any]

RATES = (0.25, 0.5, 1, 2)
MAX_STROKE_ID_CHARS = 64
# The compared swing's time minus the main swing's: at most a swing's length either way.
MAX_OFFSET_MS = MAX_DURATION_MS

LEAD_CHANGED = "review:lead_changed"
COMPARE_STARTED = "review:compare_started"
COMPARE_ENDED = "review:compare_ended"


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
    """Before anyone moved anything: the first swing, paused at 0, the coach leading,
    nothing compared, nobody asking for the lead or watching alone."""
    return with_defaults(
        {
            "swing_id": first_swing_id,
            "playing": False,
            "position_ms": 0,
            "rate": 1,
            "leader": coach,
            "server_ts": now_ms(),
            "version": 0,
        }
    )


def with_defaults(state: ReviewState) -> ReviewState:
    """`state` with every field: one stored before a field existed gets its empty value."""
    return {"compare": None, "lead_request": None, "alone": [], **state}


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
    if "compare" in payload:
        changes["compare"] = clean_compare(payload["compare"], room)
    return changes


def clean_compare(value: Any, room: Room) -> dict[str, Any] | None:
    """`compare` of a `review:update`: null (none) or `{swing_id, offset_ms}`."""
    if value is None:
        return None
    if not isinstance(value, dict) or not set(value) <= {"swing_id", "offset_ms"}:
        raise invalid("compare", "compare must be null or {swing_id, offset_ms}.")
    swing_id = value.get("swing_id")
    if not isinstance(swing_id, str) or swing_id not in room.durations:
        raise invalid("compare.swing_id", "compare.swing_id is not a swing of this session.")
    offset = value.get("offset_ms", 0)
    if (
        isinstance(offset, bool)
        or not isinstance(offset, (int, float))
        or not math.isfinite(offset)
        or abs(offset) > MAX_OFFSET_MS
    ):
        raise invalid(
            "compare.offset_ms",
            f"compare.offset_ms must be a number from -{MAX_OFFSET_MS} to {MAX_OFFSET_MS}.",
        )
    return {"swing_id": swing_id, "offset_ms": round(offset, 3)}


def updated(state: ReviewState, room: Room, user: User, changes: dict[str, Any]) -> ReviewState:
    """`state` after the leader's `review:update` (`clean_update`'s changes).

    A position beyond the swing's duration is taken as its end; changing the swing
    without a position starts the new one at 0. The compared swing is another one than
    the main swing: a new main swing that is the compared one ends the compare.
    """
    policy.check_review_update(user, leader_id(state))
    new = _rebased(state, room, now_ms())
    if changes.get("swing_id", new["swing_id"]) != new["swing_id"]:
        new["position_ms"] = 0
    new.update(changes)
    new["position_ms"] = _clamp(new["position_ms"], room.durations.get(new["swing_id"]))
    compare = new["compare"]
    if compare is not None and compare["swing_id"] == new["swing_id"]:
        if "compare" in changes:
            raise invalid("compare.swing_id", "compare.swing_id must be another swing.")
        new["compare"] = None
    return new


def clean_lead_target(payload: dict[str, Any]) -> str:
    """The user id a `review:lead` passes the lead to (or a `review:bring_back` names)."""
    target_id = payload.get("user_id")
    if isinstance(target_id, int) and not isinstance(target_id, bool):
        target_id = str(target_id)
    if not isinstance(target_id, str):
        raise invalid("user_id", "user_id must be the session's coach or student.")
    return target_id


def clean_flag(payload: dict[str, Any], field: str, default: bool | None = None) -> bool:
    """A true/false field; `default` when absent (required when None)."""
    value = payload.get(field, default)
    if not isinstance(value, bool):
        raise invalid(field, f"{field} must be true or false.")
    return value


def led(state: ReviewState, room: Room, user: User, target_id: str) -> ReviewState:
    """`state` after `user` passes the lead to `target_id`. A new leader makes everyone
    follow again, and answers any request for the lead."""
    session = room.session
    target = session.student if target_id == str(session.student_id) else session.coach
    policy.check_review_pass_lead(user, session, leader_id(state), target_id)
    new = {**_rebased(state, room, now_ms()), "leader": events.person(target)}
    if leader_id(new) != leader_id(state):
        new.update(lead_request=None, alone=[])
    return new


def asked_lead(state: ReviewState, room: Room, user: User, cancel: bool) -> ReviewState:
    """`state` after the student asks the coach for the lead (or takes the request back)."""
    policy.check_review_ask_lead(user, room.session, leader_id(state))
    request = None if cancel else events.person(user)
    return {**_rebased(state, room, now_ms()), "lead_request": request}


def answered_lead(state: ReviewState, room: Room, user: User, accept: bool) -> ReviewState:
    """`state` after the coach accepts the request for the lead (the asker leads) or
    declines it (the request is dropped)."""
    policy.check_review_answer_lead(user, room.session)
    request = state["lead_request"]
    if request is None:
        raise ServiceError("invalid_transition", "Nobody is asking for the lead.")
    if accept:
        return led(state, room, user, request["id"])
    return {**_rebased(state, room, now_ms()), "lead_request": None}


def watched_alone(state: ReviewState, room: Room, user: User, alone: bool) -> ReviewState:
    """`state` after a viewer says they watch alone (or follow the leader again): the
    leader sees who does."""
    policy.check_review_alone(user, room.session, leader_id(state))
    others = [viewer for viewer in state["alone"] if viewer["id"] != str(user.pk)]
    viewers = [*others, events.person(user)] if alone else others
    return {**_rebased(state, room, now_ms()), "alone": viewers}


def brought_back(state: ReviewState, room: Room, user: User, target_id: str) -> ReviewState:
    """`state` after the leader brings a viewer who watches alone back to following."""
    policy.check_review_bring_back(user, leader_id(state))
    viewers = [viewer for viewer in state["alone"] if viewer["id"] != target_id]
    return {**_rebased(state, room, now_ms()), "alone": viewers}


def ensure_open(room: Room) -> None:
    """The review is shared while the lesson runs; an ended one is replayed alone."""
    ensure_lesson_open(room.session)


# --- What the timeline shows of the review --------------------------------------------


def _pair(review: ReviewState) -> tuple[str | None, str] | None:
    compare = review.get("compare")
    return (review.get("swing_id"), compare["swing_id"]) if compare else None


def log_lines(
    before: ReviewState, after: ReviewState, user: User, session_id: str
) -> list[tuple[str, dict[str, Any]]]:
    """The logged events of a change: the lead going to someone else (`asked`: to the
    one who asked for it), a compare starting (or comparing another pair of swings)
    and a compare ending. Moves within a compare (its offset) are not logged."""
    lines = []
    by = events.person(user)
    if after["leader"] is not None and leader_id(after) != leader_id(before):
        request = before.get("lead_request")
        asked = request is not None and request["id"] == leader_id(after)
        payload = events.review_lead_changed(
            session_id, leader=after["leader"], previous=before["leader"], by=by, asked=asked
        )
        lines.append((LEAD_CHANGED, payload))
    if _pair(after) != _pair(before):
        if after.get("compare"):
            started = events.review_compare(session_id, after["swing_id"], after["compare"], by)
            lines.append((COMPARE_STARTED, started))
        else:
            ended = events.review_compare(session_id, before["swing_id"], before["compare"], by)
            lines.append((COMPARE_ENDED, ended))
    return lines


@transaction.atomic
def change_logged(
    session_id: str, user: User, change: Callable[[], tuple[ReviewState, ReviewState]]
) -> ReviewState:
    """Run `change` (the transport's atomic change of the state: the states before and
    after) under the session row's lock and log what it did (`log_lines`), broadcast once
    committed. Holding the lock orders the log lines as the changes, and with the
    database down nothing changes."""
    session = locked_session(session_id)
    before, after = change()
    for event, payload in log_lines(before, after, user, session_id):
        logged = eventlog.append(session, event, payload)
        broadcasts.on_commit(session.topic, event, logged)
    return after


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
