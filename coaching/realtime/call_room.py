"""Calls on a session topic: the rules (coaching/services/call.py) applied to the room's
call state, then told to the room (`call:state`); signals relayed to the other
participant's connections only.

The state is kept like the review's (coaching/realtime/review.py: a Redis hash per
session shared by every process, or a dict without Redis), never in the database. A
signal is not stored anywhere: it is published on the recipient's own topic
(`user_socket:{id}`, which each of their sockets listens to, on every process) and
each of their sockets passes it to its join of this session, so nobody else's
socket (observers, previews, another participant) ever gets it.
"""

import logging
from typing import Any

from django.conf import settings

from coaching import broadcasts
from coaching.models import CoachingSession, User, session_topic
from coaching.realtime.db import in_db_thread
from coaching.realtime.publish import to_user_join
from coaching.realtime.review import MemoryReviewStore, RedisReviewStore
from coaching.services import call
from coaching.services.call import CallState
from coaching.services.lookup import get_session

logger = logging.getLogger(__name__)

_store: MemoryReviewStore | RedisReviewStore | None = None


def get_call_store() -> MemoryReviewStore | RedisReviewStore:
    global _store
    if _store is None:
        _store = (
            RedisReviewStore(settings.REDIS_URL, settings.REALTIME_PREFIX, name="call")
            if settings.REDIS_URL
            else MemoryReviewStore()
        )
    return _store


async def current_call(session_id: str) -> CallState:
    """The room's call state (the join snapshot's `call`): idle when nobody has called."""
    state = await get_call_store().get(session_id)
    return call.idle_state() if state is None else state


async def _changed(session_id: str, change: Any) -> CallState:
    """Apply `change` to the room's call state; a change → `call:state` to the room."""
    seen: dict[str, int] = {}

    def recorded(state: CallState) -> CallState:
        seen["version"] = state["version"]
        return change(state)

    state = await get_call_store().change(session_id, call.idle_state(), recorded)
    if state["version"] != seen["version"]:
        await broadcasts.published(session_topic(session_id), "call:state", state)
    return state


async def _session(session_id: str) -> CoachingSession:
    return await in_db_thread(get_session)(session_id)


async def call_ring(*, session_id: str, user: User, payload: dict[str, Any]) -> CallState:
    """Call the other participant → `call:state` ringing."""
    session = await _session(session_id)
    return await _changed(session_id, lambda state: call.rung(state, session, user))


def _answer(rule: Any) -> Any:
    """An event naming its call (`{call_id}`) whose `rule` makes the new state."""

    async def handle(*, session_id: str, user: User, payload: dict[str, Any]) -> CallState:
        call_id = call.clean_call_id(payload)
        session = await _session(session_id)
        return await _changed(session_id, lambda state: rule(state, session, user, call_id))

    return handle


async def call_status(*, session_id: str, user: User, payload: dict[str, Any]) -> CallState:
    """A page's media path or microphone → `call:state`."""
    call_id = call.clean_call_id(payload)
    changes = call.clean_status(payload)
    session = await _session(session_id)
    return await _changed(
        session_id, lambda state: call.reported(state, session, user, call_id, changes)
    )


async def call_signal(*, session_id: str, user: User, payload: dict[str, Any]) -> dict[str, Any]:
    """An offer, answer, candidate or ICE restart → `call:signal` to the other end's
    connections only; not stored. Rate-limited with the socket's other pushes
    (coaching/realtime/ratelimit.py: CALL_SIGNALS_PER_SECOND)."""
    state = await current_call(session_id)
    to, signal = call.signal_to(state, user, payload, settings.CALL_SIGNAL_MAX_BYTES)
    await to_user_join(int(to), session_topic(session_id), "call:signal", signal)
    return {}


async def lesson_ended(session_id: str) -> None:
    """The lesson ended: a call under way ends with it (told once, whoever asks first)."""
    await _ended_by_the_room(session_id, call.ended_with_lesson)


async def participants_gone(session_id: str, users: list[User]) -> None:
    """`users` stayed away for the leave grace: a call one of them is in ends (by the
    first of them in it). Most leaves are from rooms with no call: one read for them
    all, and the change (a transaction) only when the state read has one in a call."""
    try:
        state = await current_call(session_id)
    except Exception as exc:
        logger.warning("the call of %s was not read: %r", session_id, exc)
        return
    user = next((user for user in users if call.is_in(state, user)), None)
    if user is not None:
        await _ended_by_the_room(session_id, lambda state: call.left(state, user))


async def _ended_by_the_room(session_id: str, change: Any) -> None:
    """A change the room makes on its own (the lesson's end, a leave), on the way of
    something else (the lesson's end to a client, a leave notice): a failure (Redis
    down) is logged and does not stop that. The pages end their call on the lesson's
    end anyway; a call left open is hung up by the one still in it."""
    try:
        await _changed(session_id, change)
    except Exception as exc:
        logger.warning("the call of %s was not ended: %r", session_id, exc)


EVENTS = {
    "call:ring": call_ring,
    # The one called takes the call (`{call_id}`), or declines it.
    "call:accept": _answer(call.accepted),
    "call:decline": _answer(call.declined),
    # Either end, any time the call is under way (`{call_id}`).
    "call:hangup": _answer(call.hung_up),
    # `{call_id, connection?: "connected" | "reconnecting", muted?: bool}`
    "call:status": call_status,
    # `{call_id, kind, data, to?}`
    "call:signal": call_signal,
}


async def handle(event: str, session_id: str, user: User, payload: dict[str, Any]) -> Any:
    """A client's call event on `session:{session_id}`; the reply's response."""
    return await EVENTS[event](session_id=session_id, user=user, payload=payload)
