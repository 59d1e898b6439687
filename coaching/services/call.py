"""Voice calls between a lesson's student and coach, the rules: the shared call state
and which WebRTC signals may be relayed to whom.

Ephemeral, like the review (coaching/services/review.py): the state (a CallState, see
docs/protocol.md, "Calls") is kept by the transport (`coaching.realtime.call_room`),
shared by every server process through Redis, never in the database or the event log;
signals (offers, answers, ICE candidates) are only relayed, never kept. Each change
of the state is stamped with the server's time (`server_ts`) and a per-session
`version`, so a client drops a state older than one it has.

The states: idle (never called) → ringing (the caller waits for the other) →
connecting (accepted; the pages exchange offer, answer and candidates) → connected
(media flows, as a page reports) ⇄ reconnecting (a page lost the media path or its
socket and restarts ICE) → ended (declined, cancelled, hung up, the lesson ended or a
participant left); a new ring starts the next call from ended.
"""

import json
import time
import uuid
from typing import Any

from coaching import events, policy
from coaching.errors import ServiceError, invalid
from coaching.models import CoachingSession, Status, User
from coaching.state import ensure_open

CallState = dict[str, Any]

IDLE, RINGING, CONNECTING, CONNECTED, RECONNECTING, ENDED = (
    "idle",
    "ringing",
    "connecting",
    "connected",
    "reconnecting",
    "ended",
)
LIVE = frozenset({RINGING, CONNECTING, CONNECTED, RECONNECTING})
# What a participant's page reports of its media path once the call is accepted.
REPORTED = (CONNECTED, RECONNECTING)
# Why a call ended (`ended_reason`).
DECLINED, CANCELLED, HUNG_UP, LESSON_ENDED, LEFT = (
    "declined",
    "cancelled",
    "hung_up",
    "lesson_ended",
    "left",
)
# offer, answer and candidate as in any WebRTC exchange; restart: an offer made with
# `iceRestart` (after a socket reconnect or a lost media path), answered by an answer.
SIGNAL_KINDS = ("offer", "answer", "candidate", "restart")
MAX_CALL_ID_CHARS = 64


def now_ms() -> int:
    return int(time.time() * 1000)


def idle_state() -> CallState:
    """A room where nobody has called: every field, empty."""
    return {
        "call_id": None,
        "state": IDLE,
        "caller": None,
        "callee": None,
        "muted": {},
        "ended_reason": None,
        "ended_by": None,
        "started_at": None,
        "connected_at": None,
        "server_ts": now_ms(),
        "version": 0,
    }


def is_live(state: CallState) -> bool:
    return state["state"] in LIVE


def _next(current: CallState, /, **changes: Any) -> CallState:
    """`current` with `changes`, restamped; next version."""
    return {**current, **changes, "server_ts": now_ms(), "version": current["version"] + 1}


def _party_ids(state: CallState) -> tuple[str, str]:
    return state["caller"]["id"], state["callee"]["id"]


def clean_call_id(payload: dict[str, Any]) -> str:
    call_id = payload.get("call_id")
    if not isinstance(call_id, str) or not 0 < len(call_id) <= MAX_CALL_ID_CHARS:
        raise invalid("call_id", f"call_id must be a string of 1-{MAX_CALL_ID_CHARS} chars.")
    return call_id


def _live_call(state: CallState, user: User, call_id: str) -> None:
    """`call_id` is the call under way and `user` one of its two ends (who could only
    ring or answer it as the session's student or coach: policy.check_call)."""
    if state["ended_reason"] == LESSON_ENDED:
        raise ServiceError("session_ended", "This session has ended.")
    if not is_live(state) or state["call_id"] != call_id:
        raise ServiceError("invalid_transition", "That call is not under way.")
    if str(user.pk) not in _party_ids(state):
        raise ServiceError("forbidden", "You are not in this call.")


def rung(state: CallState, session: CoachingSession, user: User) -> CallState:
    """`user` calls the other participant: a new call, ringing."""
    policy.check_call(user, session)
    ensure_open(session)
    if is_live(state):
        raise ServiceError("invalid_transition", "A call is already under way.")
    callee = session.coach if user.pk == session.student_id else session.student
    return _next(
        state,
        call_id=uuid.uuid4().hex,
        state=RINGING,
        caller=events.person(user),
        callee=events.person(callee),
        muted={str(user.pk): False, str(callee.pk): False},
        ended_reason=None,
        ended_by=None,
        started_at=now_ms(),
        connected_at=None,
    )


def _answered(state: CallState, session: CoachingSession, user: User, call_id: str) -> None:
    policy.check_call(user, session)
    ensure_open(session)
    _live_call(state, user, call_id)
    if state["state"] != RINGING:
        raise ServiceError("invalid_transition", "The call was answered already.")
    if state["callee"]["id"] != str(user.pk):
        raise ServiceError("forbidden", "Only the one called answers the call.")


def accepted(state: CallState, session: CoachingSession, user: User, call_id: str) -> CallState:
    """The one called takes the call: the pages connect."""
    _answered(state, session, user, call_id)
    return _next(state, state=CONNECTING)


def declined(state: CallState, session: CoachingSession, user: User, call_id: str) -> CallState:
    """The one called declines: the call ends unanswered."""
    _answered(state, session, user, call_id)
    return _next(state, state=ENDED, ended_reason=DECLINED, ended_by=events.person(user))


def hung_up(state: CallState, session: CoachingSession, user: User, call_id: str) -> CallState:
    """Either end hangs up (the caller, while it rings: cancelled). Also in an ended
    lesson: ending a call is always allowed."""
    policy.check_call(user, session)
    _live_call(state, user, call_id)
    caller_cancels = state["state"] == RINGING and state["caller"]["id"] == str(user.pk)
    reason = CANCELLED if caller_cancels else HUNG_UP
    return _next(state, state=ENDED, ended_reason=reason, ended_by=events.person(user))


def clean_status(payload: dict[str, Any]) -> dict[str, Any]:
    """A `call:status`: the page's media path (`connection`) and/or its microphone (`muted`)."""
    changes: dict[str, Any] = {}
    if "connection" in payload:
        if payload["connection"] not in REPORTED:
            raise invalid("connection", f"connection must be one of {', '.join(REPORTED)}.")
        changes["connection"] = payload["connection"]
    if "muted" in payload:
        if not isinstance(payload["muted"], bool):
            raise invalid("muted", "muted must be true or false.")
        changes["muted"] = payload["muted"]
    if not changes:
        raise invalid("connection", "Send connection, muted or both.")
    return changes


def reported(
    state: CallState,
    session: CoachingSession,
    user: User,
    call_id: str,
    changes: dict[str, Any],
) -> CallState:
    """A participant's page reports its media path (connected, or reconnecting while it
    restarts ICE) once the call is accepted, or its microphone muted or not."""
    policy.check_call(user, session)
    ensure_open(session)
    _live_call(state, user, call_id)
    new: dict[str, Any] = {}
    if "connection" in changes:
        if state["state"] == RINGING:
            raise ServiceError("invalid_transition", "The call has not been answered yet.")
        new["state"] = changes["connection"]
        if changes["connection"] == CONNECTED and state["connected_at"] is None:
            new["connected_at"] = now_ms()
    if "muted" in changes:
        new["muted"] = {**state["muted"], str(user.pk): changes["muted"]}
    return _next(state, **new)


def ends_calls(event: str, payload: dict[str, Any]) -> bool:
    """Whether a broadcast on the session topic says the lesson ended."""
    return event == "session:state" and payload.get("status") == Status.ENDED


def ended_with_lesson(state: CallState) -> CallState:
    """The lesson ended: a call under way ends with it (any other state is kept)."""
    if not is_live(state):
        return state
    return _next(state, state=ENDED, ended_reason=LESSON_ENDED, ended_by=None)


def is_in(state: CallState, user: User) -> bool:
    """Whether `user` is one of the two ends of a call under way."""
    return is_live(state) and str(user.pk) in _party_ids(state)


def left(state: CallState, user: User) -> CallState:
    """`user` has stayed away from the lesson (their last connection gone for the
    leave grace): a call they are in ends (any other state is kept)."""
    if not is_in(state, user):
        return state
    return _next(state, state=ENDED, ended_reason=LEFT, ended_by=events.person(user))


def signal_to(
    state: CallState, user: User, payload: dict[str, Any], max_bytes: int
) -> tuple[str, dict[str, Any]]:
    """A `call:signal` checked: the id of the user it goes to (the call's other end) and
    what their connections receive. `data` (an RTCSessionDescription for offer, answer
    and restart; an RTCIceCandidate, or null at the end of candidates, for candidate) is
    passed on as it is, up to `max_bytes` of JSON. Checked against the call state alone
    (no database read per signal): only the call's two ends send, and the lesson's end
    has ended the call."""
    call_id = clean_call_id(payload)
    _live_call(state, user, call_id)
    kind = payload.get("kind")
    if kind not in SIGNAL_KINDS:
        raise invalid("kind", f"kind must be one of {', '.join(SIGNAL_KINDS)}.")
    data = payload.get("data")
    if not isinstance(data, dict) and not (kind == "candidate" and data is None):
        raise invalid("data", "data must be an object (a candidate's may be null).")
    size = len(json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode())
    if size > max_bytes:
        raise invalid("data", f"data must be at most {max_bytes} bytes of JSON.")
    caller_id, callee_id = _party_ids(state)
    other_id = callee_id if str(user.pk) == caller_id else caller_id
    to = payload.get("to", other_id)
    if isinstance(to, int) and not isinstance(to, bool):
        to = str(to)
    if to != other_id:
        raise invalid("to", "to must be the other participant of the call.")
    signal = {"call_id": call_id, "kind": kind, "data": data, "from": events.person(user)}
    return other_id, signal
