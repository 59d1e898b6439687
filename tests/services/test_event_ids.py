"""Every event stored in a session's log carries an `eid` (coaching/eventlog.py), whichever
writer stored it, and a record's payload carries the same one wherever it is built."""

import asyncio

import pytest

from coaching import events
from coaching.models import (
    Annotation,
    ChatMessage,
    Checkpoint,
    CoachingSession,
    Feedback,
    SessionEvent,
)
from coaching.realtime import pg
from coaching.realtime.chat_writer import chat_writer
from coaching.realtime.notices import participant_announce
from coaching.services.analysis import feedback_record, progress_post
from coaching.services.annotations import annotation_save
from coaching.services.chat import ChatPost, Resend, chat_message_post
from coaching.services.checkpoints import checkpoint_save
from coaching.services.notices import PARTICIPANT_JOINED, notice_post
from coaching.services.sessions import session_control
from coaching.services.swings import swing_attach
from tests.support.broadcasts import captured_broadcasts
from tests.support.event_log import is_eid
from tests.support.reference_reads import session_snapshot

pytestmark = pytest.mark.django_db(transaction=True)

LINE = {"kind": "line", "points": [[0.1, 0.1], [0.9, 0.9]]}
KINDS = {
    "chat:added",
    "system:notice",
    "session:state",
    "ai:feedback",
    "checkpoint:added",
    "analysis:milestone",
    "swing:added",
    "annotation:added",
}


def store_every_kind(sid: str, student, coach, service) -> list:
    """One event of every kind, by every writer (the ORM's `append`, the chat store on
    Django's connection and on the socket's writer, the participant notice's statement);
    what they answered and what they broadcast."""
    with captured_broadcasts() as sent:
        swing_attach(
            session_id=sid,
            actor=service,
            swing={"swing_id": "sw_1", "video_url": "/media/1.mp4", "duration_ms": 1800},
        )
        progress_post(session_id=sid, actor=service, swing_id="sw_1", percent=15, step="pose")
        card, _ = feedback_record(
            session_id=sid,
            actor=service,
            swing_id="sw_1",
            summary="The face is open.",
            metrics={},
            recommendations=["Grip stronger."],
            level="intermediate",
        )
        answers = [
            card,
            checkpoint_save(session_id=sid, coach=coach, feedback_id=int(card["id"]), note="!"),
            annotation_save(
                session_id=sid, coach=coach, swing_id="sw_1", time_ms=900, shapes=[LINE]
            ),
            chat_message_post(session_id=sid, sender=student, text="by REST", client_msg_id="r"),
            notice_post(session_id=sid, actor=service, text="공지")[0],
            session_control(session_id=sid, actor=coach, status="paused"),
        ]
        answers += asyncio.run(socket_writers(sid, coach))
    return answers, sent


async def socket_writers(sid: str, coach) -> list:
    writer = chat_writer()
    try:
        line = await writer.submit(ChatPost(sid, coach, "by the socket", "s"))
        resent = await writer.submit(ChatPost(sid, coach, "by the socket", "s"))
        notice = await participant_announce(
            PARTICIPANT_JOINED, session_id=sid, user=coach, role="coach"
        )
    finally:
        await writer.close()
        await pg.socket_pool().close()
    assert isinstance(resent, Resend) and resent.payload == line  # the stored eid
    return [line, notice]


def test_every_kind_of_event_is_stored_with_an_eid_of_its_own(
    student, coach, service, active_session
):
    sid = active_session.session_id
    answers, sent = store_every_kind(sid, student, coach, service)
    logged = list(SessionEvent.objects.filter(session=active_session).order_by("seq"))
    assert {row.event for row in logged} == KINDS
    assert all(is_eid(row.payload.get("eid")) for row in logged)
    assert len({row.payload["eid"] for row in logged}) == len(logged)
    by_seq = {row.seq: row.payload for row in logged}
    # What the writers answered and broadcast is what they logged, eid and all.
    for answer in answers:
        assert by_seq[answer["seq"]] == answer
    logged_sent = [payload for _, _, payload in sent if "seq" in payload]
    assert logged_sent == [by_seq[payload["seq"]] for payload in logged_sent]
    assert {payload["seq"] for payload in logged_sent} == set(by_seq)


def test_a_records_payload_carries_its_log_rows_eid(student, coach, service, active_session):
    """A card, checkpoint, annotation or chat line rebuilt from its row (history, the
    snapshot's lists, the recap, a resend) names the same event as its log row."""
    sid = active_session.session_id
    store_every_kind(sid, student, coach, service)
    by_seq = {row.seq: row.payload for row in SessionEvent.objects.filter(session=active_session)}
    builders = [
        (ChatMessage, events.chat_added),
        (Feedback, events.ai_feedback),
        (Checkpoint, events.checkpoint_added),
        (Annotation, events.annotation_added),
    ]
    for model, payload_of in builders:
        records = list(model.objects.filter(session=active_session))
        assert records, model
        for record in records:
            assert is_eid(record.eid)
            assert payload_of(record) == by_seq[record.seq]
    session = CoachingSession.objects.get(pk=active_session.pk)
    snapshot = session_snapshot(session)
    assert snapshot["last_eid"] == by_seq[session.last_seq]["eid"]
    for key in ("messages", "feedback", "checkpoints", "annotations"):
        assert [by_seq[p["seq"]] for p in snapshot[key]] == snapshot[key]
    assert [e["payload"] for e in snapshot["events"]] == [by_seq[s] for s in sorted(by_seq)]


def test_a_session_without_events_has_no_last_eid(waiting_session):
    assert session_snapshot(waiting_session)["last_eid"] is None
