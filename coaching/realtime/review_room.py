"""The coach-led review's events on a session topic: the rules (coaching/services/review.py)
applied to the room's shared state (coaching/realtime/review.py), then broadcast.

Nothing here is stored or carries a seq; a broadcast that fails fails the push.
"""

from typing import Any

from django.conf import settings

from coaching import broadcasts, events
from coaching.errors import RateLimited
from coaching.models import User, session_topic
from coaching.realtime.db import in_db_thread
from coaching.realtime.review import StrokeLimiter, get_review_store
from coaching.services import review
from coaching.services.review import ReviewState

stroke_limiter = StrokeLimiter(settings.REVIEW_STROKES_PER_SECOND)


async def current_review(
    session_id: str, coach: dict[str, str] | None, swings: list[dict[str, Any]]
) -> ReviewState:
    """The state a joining viewer starts from (the join snapshot's `review`)."""
    first_swing_id = swings[0]["swing_id"] if swings else None
    state = await get_review_store().get(session_id)
    if state is None:
        return review.initial_state(coach, first_swing_id)
    return {**state, "swing_id": state["swing_id"] or first_swing_id}


async def stored_review(session_id: str) -> ReviewState | None:
    """The room's review state, if one was set since the session began."""
    return await get_review_store().get(session_id)


async def _publish(session_id: str, event: str, payload: dict[str, Any]) -> None:
    await broadcasts.published(session_topic(session_id), event, payload)


async def review_update(
    *, session_id: str, user: User, role: str, payload: dict[str, Any]
) -> ReviewState:
    """The leader plays, pauses, seeks, changes rate or swing → `review:state` to all."""
    room = await in_db_thread(review.load_room)(session_id)
    changes = review.clean_update(payload, room)
    state = await get_review_store().change(
        session_id, review.initial(room), lambda state: review.updated(state, room, user, changes)
    )
    await _publish(session_id, "review:state", state)
    return state


async def review_lead(
    *, session_id: str, user: User, role: str, payload: dict[str, Any]
) -> ReviewState:
    """Pass the lead (`{user_id}`) → `review:state` to all."""
    room = await in_db_thread(review.load_room)(session_id)
    target_id = review.clean_lead_target(payload)
    state = await get_review_store().change(
        session_id, review.initial(room), lambda state: review.led(state, room, user, target_id)
    )
    await _publish(session_id, "review:state", state)
    return state


async def review_stroke(
    *, session_id: str, user: User, role: str, payload: dict[str, Any]
) -> dict[str, Any]:
    """A stroke being drawn → `review:stroke` to the others in the room.

    At most REVIEW_STROKES_PER_SECOND per user (per server process); above that
    the stroke is refused with `rate_limited` and not sent.
    """
    review.check_draw(user, role, await get_review_store().get(session_id))
    stroke = review.clean_stroke(payload, user)
    wait_ms = stroke_limiter.take(session_id, str(user.pk))
    if wait_ms:
        raise RateLimited(
            f"At most {stroke_limiter.per_second} strokes a second.", retry_after_ms=wait_ms
        )
    await _publish(session_id, "review:stroke", stroke)
    return {}


async def review_clear(
    *, session_id: str, user: User, role: str, payload: dict[str, Any]
) -> dict[str, Any]:
    """Wipe the live drawings on every screen → `review:clear` to all."""
    review.check_draw(user, role, await get_review_store().get(session_id))
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
