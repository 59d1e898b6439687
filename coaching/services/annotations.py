"""Annotations: the coach's drawings on a frame of a swing, saved with the lesson."""

import math
from typing import Any

from django.db import transaction

from coaching import broadcasts, eventlog, events, policy, state, text
from coaching.errors import invalid
from coaching.models import Annotation, Swing, User
from coaching.services.lookup import locked_session
from coaching.services.swings import MAX_DURATION_MS
from coaching.shapes import clean_shapes

MAX_NOTE_CHARS = 500


def clean_note(value: Any) -> str:
    if value is None:
        return ""
    return text.clean_text(value, field="note", max_chars=MAX_NOTE_CHARS, allow_blank=True)


def clean_time_ms(value: Any, duration_ms: int | None) -> int:
    """The frame's time in whole ms (a fractional time is rounded), within the swing."""
    high = duration_ms if duration_ms is not None else MAX_DURATION_MS
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise invalid("time_ms", "time_ms must be a number of milliseconds.")
    if not 0 <= value <= high:
        raise invalid("time_ms", f"time_ms must be from 0 to {high}.")
    return round(value)


@transaction.atomic
def annotation_save(
    *, session_id: str, coach: User, swing_id: Any, time_ms: Any, shapes: Any, note: Any = ""
) -> dict:
    """The session's coach saves a drawing on a swing's frame; broadcast `annotation:added`.

    Needs at least one shape or a note. Not after the session has ended.
    """
    session = locked_session(session_id)
    policy.check_annotate(coach, session)
    state.ensure_open(session)
    if not isinstance(swing_id, str):
        raise invalid("swing_id", "swing_id must be a string.")
    text.ensure_storable(swing_id, field="swing_id")
    swing = Swing.objects.filter(session=session, swing_id=swing_id).first()
    if swing is None:
        raise invalid("swing_id", "swing_id is not a swing of this session.")
    time_ms = clean_time_ms(time_ms, swing.duration_ms)
    shapes = clean_shapes(shapes)
    note = clean_note(note)
    if not shapes and not note:
        raise invalid("shapes", "Draw at least one shape or write a note.")
    seq = eventlog.next_seq(session)
    annotation = Annotation.objects.create(
        session=session,
        seq=seq,
        swing=swing,
        time_ms=time_ms,
        shapes=shapes,
        note=note,
        coach=coach,
    )
    payload = eventlog.append(
        session, "annotation:added", events.annotation_added(annotation), seq=seq
    )
    broadcasts.on_commit(session.topic, "annotation:added", payload)
    return payload
