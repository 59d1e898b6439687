"""STAND-IN, video-pages branch only: the smallest server side of issue 9 the review
panel needs in a browser, with BRIEF.md's event names and payloads. The lead keeps
video-server's implementation at merge and drops this module and its call sites.

Review state lives in this process's memory; swings and annotations are read from the
event log (`swing:added`, `annotation:added`), so no model or migration is involved.
"""

import time
from typing import Any

from django.db import transaction

from coaching import events, policy
from coaching.errors import ServiceError, invalid
from coaching.models import CoachingSession, SessionEvent, User
from coaching.realtime.publish import broadcast_on_commit
from coaching.services.lookup import locked_session

_states: dict[str, dict[str, Any]] = {}
KINDS = {"line": 2, "arrow": 2, "angle": 3, "circle": 2}


def _now() -> int:
    return int(time.time() * 1000)


def snapshot_extras(session: CoachingSession) -> dict[str, Any]:
    logged = SessionEvent.objects.filter(
        session=session, event__in=("swing:added", "annotation:added")
    ).order_by("seq")
    swings = [row.payload["swing"] for row in logged if row.event == "swing:added"]
    annotations = [row.payload for row in logged if row.event == "annotation:added"]
    return {"swings": swings, "annotations": annotations, "review": _states.get(session.session_id)}


def _leader_default(session: CoachingSession) -> dict | None:
    return events.person(session.coach)


def review_update(session: CoachingSession, user: User, payload: dict[str, Any]) -> dict:
    state = _states.get(session.session_id)
    leader = state["leader"] if state else _leader_default(session)
    if leader is None or leader["id"] != str(user.pk):
        raise ServiceError("forbidden", "Only the leader moves the review.")
    base = state or {"swing_id": None, "playing": False, "position_ms": 0, "rate": 1, "version": 0}
    new = {
        "swing_id": payload.get("swing_id", base["swing_id"]),
        "playing": bool(payload.get("playing", base["playing"])),
        "position_ms": int(payload.get("position_ms", base["position_ms"])),
        "rate": float(payload.get("rate", base["rate"])),
        "leader": leader,
        "server_ts": _now(),
        "version": base["version"] + 1,
    }
    _states[session.session_id] = new
    return new


def review_lead(session: CoachingSession, user: User, role: str, user_id: Any) -> dict:
    target = {str(session.coach_id): session.coach, str(session.student_id): session.student}
    if role not in (policy.COACH, policy.STUDENT) or str(user_id) not in target:
        raise ServiceError("forbidden", "The lead goes between the coach and the student.")
    state = _states.get(session.session_id)
    leader = state["leader"] if state else _leader_default(session)
    if role == policy.STUDENT and (leader is None or leader["id"] != str(user.pk)):
        raise ServiceError("forbidden", "Only the coach hands out the lead.")
    base = state or {"swing_id": None, "playing": False, "position_ms": 0, "rate": 1, "version": 0}
    position = base["position_ms"]
    if base["playing"]:
        position += int((_now() - base["server_ts"]) * base["rate"])
    new = {
        **base,
        "position_ms": position,
        "leader": events.person(target[str(user_id)]),
        "server_ts": _now(),
        "version": base["version"] + 1,
    }
    _states[session.session_id] = new
    return new


@transaction.atomic
def annotation_save(session_id: str, coach: User, payload: dict[str, Any]) -> dict:
    session = locked_session(session_id)
    if policy.session_role(coach, session) != policy.COACH:
        raise ServiceError("forbidden", "Only the coach saves annotations.")
    shapes = payload.get("shapes")
    if not isinstance(shapes, list) or not 1 <= len(shapes) <= 50:
        raise invalid("shapes", "shapes: 1 to 50 shapes.")
    for shape in shapes:
        points = shape.get("points") if isinstance(shape, dict) else None
        if shape.get("kind") not in KINDS or not isinstance(points, list):
            raise invalid("shapes", "unknown shape.")
        if len(points) != KINDS[shape["kind"]] or not all(
            isinstance(p, list) and len(p) == 2 and all(0 <= v <= 1 for v in p) for p in points
        ):
            raise invalid("shapes", "bad points.")
    note = payload.get("note") or ""
    if len(note) > 500:
        raise invalid("note", "note is too long.")
    seq = events.next_seq(session)
    body = {
        "id": f"ann_{seq}",
        "session_id": session.session_id,
        "swing_id": payload.get("swing_id"),
        "time_ms": int(payload.get("time_ms") or 0),
        "shapes": shapes,
        "note": note,
        "coach": events.person(coach),
        "created_at": _now(),
    }
    logged = events.log_event(session, "annotation:added", body, seq=seq)
    broadcast_on_commit(session.topic, "annotation:added", logged)
    return logged


@transaction.atomic
def swing_add(session_id: str, swing: dict[str, Any]) -> dict:
    session = locked_session(session_id)
    body = {"session_id": session.session_id, "swing": swing}
    logged = events.log_event(session, "swing:added", body)
    broadcast_on_commit(session.topic, "swing:added", logged)
    return logged
