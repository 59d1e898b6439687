"""A lesson as it can be replayed: the session, its swings, its event log and the
recorded review (docs/api.md, `GET /api/sessions/{id}/replay/`; the replay page embeds
the same document).

Every time is the server's epoch ms: the event log's `created_at` and the review's
`at_ms` (the state's `server_ts`) come from the same clock, so a page puts both on one
timeline. Built from three reads of plain values (no model instances per row, the JSON
decoded by orjson): a lesson of thousands of events and review rows answers in tens of
milliseconds (bench/replay_document.py).
"""

import time
from collections.abc import Iterable, Iterator
from typing import Any

import orjson
from django.db.models import TextField
from django.db.models.functions import Cast

from coaching import events, selectors
from coaching.models import CoachingSession, ReviewKind, ReviewRecord, SessionEvent, Status
from coaching.services.recordings import recording_list


def replay_document(session: CoachingSession) -> dict[str, Any]:
    """The replay of `session` (its student and coach loaded with it)."""
    swings = [events.swing(swing) for swing in selectors.swing_list(session)]
    first_swing_id = swings[0]["swing_id"] if swings else None
    log = [
        {
            "seq": seq,
            "eid": payload.get("eid"),
            "at_ms": events.epoch_ms(created_at),
            "event": event,
            "payload": payload,
        }
        for seq, event, payload, created_at in _decoded(
            SessionEvent.objects.filter(session=session)
            .order_by("seq")
            .values_list("seq", "event", _text("payload"), "created_at"),
            2,
        )
    ]
    review = [
        _review_entry(at_ms, kind, swing_id or first_swing_id, body)
        for at_ms, kind, swing_id, body in _decoded(
            ReviewRecord.objects.filter(session=session)
            .order_by("at_ms", "id")
            .values_list("at_ms", "kind", "swing_id", _text("body")),
            3,
        )
    ]
    moments = [entry["at_ms"] for entry in log[:1] + log[-1:] + review[:1] + review[-1:]]
    start_ms = (
        events.epoch_ms(session.started_at)
        if session.started_at is not None
        else min(moments, default=events.epoch_ms(session.created_at))
    )
    if session.ended_at is not None:
        end_ms = events.epoch_ms(session.ended_at)
    elif session.status in (Status.ACTIVE, Status.PAUSED):
        end_ms = int(time.time() * 1000)
    else:
        end_ms = max(moments, default=start_ms)
    clubs = [swing["club"] for swing in swings if swing["club"]]
    return {
        "session": {
            "id": session.session_id,
            "state": session.status,
            "club": clubs[0] if clubs else None,
            "created_at": events.epoch_ms(session.created_at),
            "started_at": events.optional_epoch_ms(session.started_at),
            "ended_at": events.optional_epoch_ms(session.ended_at),
            "student": events.person(session.student),
            "coach": events.person(session.coach),
        },
        "start_ms": start_ms,
        "end_ms": max(end_ms, start_ms),
        "swings": swings,
        "events": log,
        "review": review,
        # The call, recorded with both participants' consent (coaching/services/recordings.py).
        "recordings": recording_list(session),
    }


def _text(field: str) -> Cast:
    """A JSON column as its text: decoded by orjson (`_decoded`), several times faster
    than the JSONField's `json.loads` on thousands of rows."""
    return Cast(field, TextField())


def _decoded(rows: Iterable[tuple], column: int) -> Iterator[tuple]:
    """`rows` with their `column` (a `_text` column) decoded."""
    for row in rows:
        yield (*row[:column], orjson.loads(row[column]), *row[column + 1 :])


def _review_entry(at_ms: int, kind: str, swing_id: str | None, body: dict) -> dict[str, Any]:
    """One recorded row as the document's `review` entry. A stroke or clear made before
    anyone moved the playback was on the room's first swing."""
    if kind == ReviewKind.STATE:
        return {"at_ms": at_ms, "kind": kind, "state": body}
    if kind == ReviewKind.STROKE:
        return {"at_ms": at_ms, "kind": kind, "swing_id": swing_id, "stroke": body}
    return {"at_ms": at_ms, "kind": kind, "swing_id": swing_id, "by": body["by"]}
