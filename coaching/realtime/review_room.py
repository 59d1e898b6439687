"""The review's events on a session topic: the rules (coaching/services/review.py)
applied to the room's shared state (coaching/realtime/review.py), then broadcast.

The state is not stored in the database and carries no seq; a broadcast that fails
fails the push. A change the timeline shows (the lead going to someone else, a compare
starting or ending) is made under the session row's lock and logged with it
(`review.change_logged`); every other change (playback, offsets, asking, watching
alone) goes straight to the state.

What the room did is kept for replay: each change, once broadcast, is handed to this
process's recorder (coaching/realtime/review_recorder.py), which writes it later, off
the live path.
"""

import asyncio
from collections.abc import Callable
from typing import Any

from django.conf import settings

from coaching import broadcasts, events
from coaching.errors import RateLimited
from coaching.models import User, session_topic
from coaching.realtime.db import in_db_thread
from coaching.realtime.review import StrokeLimiter, get_review_store
from coaching.realtime.review_recorder import review_recorder
from coaching.services import review
from coaching.services.review import ReviewState, Room

stroke_limiter = StrokeLimiter(settings.REVIEW_STROKES_PER_SECOND)

Change = Callable[[ReviewState], ReviewState]


class _Logs(Exception):
    """The change logs a line: it is made again under the session's lock, with the line."""


async def current_review(
    session_id: str, coach: dict[str, str] | None, swings: list[dict[str, Any]]
) -> ReviewState:
    """The state a joining viewer starts from (the join snapshot's `review`)."""
    first_swing_id = swings[0]["swing_id"] if swings else None
    state = await get_review_store().get(session_id)
    if state is None:
        return review.initial_state(coach, first_swing_id)
    return review.with_defaults({**state, "swing_id": state["swing_id"] or first_swing_id})


async def stored_review(session_id: str) -> ReviewState | None:
    """The room's review state, if one was set since the session began."""
    state = await get_review_store().get(session_id)
    return None if state is None else review.with_defaults(state)


async def _publish(session_id: str, event: str, payload: dict[str, Any]) -> None:
    await broadcasts.published(session_topic(session_id), event, payload)


async def _changed(session_id: str, room: Room, user: User, change: Change) -> ReviewState:
    """Apply `change` to the room's state; → `review:state` to all.

    Tried straight on the state first; a change with a line to log is made again on
    the database thread pool, under the session row's lock, which writes the line."""
    store = get_review_store()
    default = review.initial(room)

    def unlogged(state: ReviewState) -> ReviewState:
        state = review.with_defaults(state)
        new = change(state)
        if review.log_lines(state, new, user, session_id):
            raise _Logs
        return new

    try:
        state = await store.change(session_id, default, unlogged)
    except _Logs:
        loop = asyncio.get_running_loop()

        def in_lock() -> tuple[ReviewState, ReviewState]:
            seen: dict[str, ReviewState] = {}

            def recorded(state: ReviewState) -> ReviewState:
                seen["before"] = review.with_defaults(state)
                return change(seen["before"])

            # The store lives on the event loop; this thread waits for it, holding the lock.
            after = asyncio.run_coroutine_threadsafe(
                store.change(session_id, default, recorded), loop
            ).result()
            return seen["before"], after

        state = await in_db_thread(review.change_logged)(session_id, user, in_lock)
    await _publish(session_id, "review:state", state)
    review_recorder.state(session_id, state)
    return state


async def review_update(
    *, session_id: str, user: User, role: str, payload: dict[str, Any]
) -> ReviewState:
    """The leader plays, pauses, seeks, changes rate, swing or compare → `review:state`."""
    room = await in_db_thread(review.load_room)(session_id)
    changes = review.clean_update(payload, room)
    review.ensure_open(room)
    return await _changed(
        session_id, room, user, lambda state: review.updated(state, room, user, changes)
    )


Rule = Callable[[ReviewState, Room, User, Any], ReviewState]


def _action(clean: Callable[[dict[str, Any]], Any], rule: Rule) -> Callable[..., Any]:
    """An event whose payload `clean` reads and whose `rule` (coaching/services/review.py)
    makes the new state; only while the lesson runs."""

    async def handle(
        *, session_id: str, user: User, role: str, payload: dict[str, Any]
    ) -> ReviewState:
        value = clean(payload)
        room = await in_db_thread(review.load_room)(session_id)
        review.ensure_open(room)
        return await _changed(session_id, room, user, lambda state: rule(state, room, user, value))

    return handle


async def review_stroke(
    *, session_id: str, user: User, role: str, payload: dict[str, Any]
) -> dict[str, Any]:
    """A stroke being drawn → `review:stroke` to the others in the room.

    At most REVIEW_STROKES_PER_SECOND per user (per server process); above that
    the stroke is refused with `rate_limited` and not sent.
    """
    state = await get_review_store().get(session_id)
    review.check_draw(user, role, state)
    stroke = review.clean_stroke(payload, user)
    wait_ms = stroke_limiter.take(session_id, str(user.pk))
    if wait_ms:
        raise RateLimited(
            f"At most {stroke_limiter.per_second} strokes a second.", retry_after_ms=wait_ms
        )
    await _publish(session_id, "review:stroke", stroke)
    review_recorder.stroke(session_id, state["swing_id"] if state else None, stroke)
    return {}


async def review_clear(
    *, session_id: str, user: User, role: str, payload: dict[str, Any]
) -> dict[str, Any]:
    """Wipe the live drawings on every screen → `review:clear` to all."""
    state = await get_review_store().get(session_id)
    review.check_draw(user, role, state)
    cleared = {"by": events.person(user)}
    await _publish(session_id, "review:clear", cleared)
    review_recorder.clear(session_id, state["swing_id"] if state else None, cleared["by"])
    return cleared


EVENTS = {
    "review:update": review_update,
    # Pass the lead (`{user_id}`).
    "review:lead": _action(review.clean_lead_target, review.led),
    # The student asks the coach for the lead (`{cancel: true}`: takes it back).
    "review:ask_lead": _action(
        lambda payload: review.clean_flag(payload, "cancel", default=False), review.asked_lead
    ),
    # The coach answers the request for the lead (`{accept}`).
    "review:answer_lead": _action(
        lambda payload: review.clean_flag(payload, "accept"), review.answered_lead
    ),
    # A viewer watches alone (`{alone: true}`) or follows again (`false`).
    "review:alone": _action(
        lambda payload: review.clean_flag(payload, "alone"), review.watched_alone
    ),
    # The leader brings a viewer who watches alone back (`{user_id}`).
    "review:bring_back": _action(review.clean_lead_target, review.brought_back),
    "review:stroke": review_stroke,
    "review:clear": review_clear,
}


async def handle(
    event: str, session_id: str, user: User, role: str, payload: dict[str, Any]
) -> dict[str, Any]:
    """A client's review event on `session:{session_id}`; the reply's response."""
    return await EVENTS[event](session_id=session_id, user=user, role=role, payload=payload)
