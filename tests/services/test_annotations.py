"""Annotations as the lesson's record: what the recap lists."""

from coaching.selectors import annotations_for_recap
from coaching.services.annotations import annotation_save
from coaching.services.swings import swing_attach

LINE = {"kind": "line", "points": [[0.1, 0.1], [0.9, 0.9]]}


def test_recap_lists_every_annotation_in_order(service, coach, active_session):
    for swing_id in ("sw_1", "sw_2"):
        swing_attach(
            session_id=active_session.session_id,
            actor=service,
            swing={"swing_id": swing_id, "video_url": "/media/a.mp4"},
        )
    saved = [
        annotation_save(
            session_id=active_session.session_id,
            coach=coach,
            swing_id=swing_id,
            time_ms=time_ms,
            shapes=[LINE],
            note=note,
        )
        for swing_id, time_ms, note in [("sw_2", 900, "first"), ("sw_1", 1200, "second")]
    ]
    assert annotations_for_recap(active_session) == saved
    assert [a["note"] for a in annotations_for_recap(active_session)] == ["first", "second"]


def test_recap_of_a_lesson_without_drawings_is_empty(active_session):
    assert annotations_for_recap(active_session) == []


def test_a_note_that_shows_nothing_is_stored_blank(service, coach, active_session):
    swing_attach(
        session_id=active_session.session_id,
        actor=service,
        swing={"swing_id": "sw_1", "video_url": "/media/a.mp4"},
    )
    saved = annotation_save(
        session_id=active_session.session_id,
        coach=coach,
        swing_id="sw_1",
        time_ms=0,
        shapes=[LINE],
        note="\u200b \u3164",
    )
    assert saved["note"] == ""
