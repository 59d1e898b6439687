"""Participant notices: the coach's and student's comings and goings, logged with the
next seq and broadcast, in one asyncpg statement from the event loop."""

import asyncio

import pytest

from coaching.models import CoachingSession, SessionEvent
from coaching.realtime import pg
from coaching.realtime.notices import participant_announce
from coaching.services.notices import PARTICIPANT_JOINED, PARTICIPANT_LEFT
from coaching.services.sessions import session_end
from tests.realtime.test_socket_reads import together
from tests.support.broadcasts import captured_broadcasts
from tests.support.event_log import is_eid

pytestmark = pytest.mark.django_db(transaction=True)


def announce(code: str, session_id: str, user, role: str) -> tuple[dict | None, list]:
    async def run():
        try:
            return await participant_announce(code, session_id=session_id, user=user, role=role)
        finally:
            await pg.socket_pool().close()

    with captured_broadcasts() as sent:
        notice = asyncio.run(run())
    return notice, sent


def test_an_entry_is_logged_with_the_next_seq_and_broadcast(student, coach, active_session):
    sid = active_session.session_id
    notice, sent = announce(PARTICIPANT_JOINED, sid, coach, "coach")
    assert notice == {
        "type": "system",
        "text": f"코치 {coach.display_name}님이 세션에 입장했습니다.",
        "level": "info",
        "code": "participant_joined",
        "params": {"name": coach.display_name, "role": "coach"},
        "seq": 1,
        "eid": notice["eid"],
    }
    assert is_eid(notice["eid"])
    assert sent == [(f"session:{sid}", "system:notice", notice)]
    [logged] = SessionEvent.objects.filter(session=active_session)
    assert (logged.seq, logged.event, logged.payload) == (1, "system:notice", notice)
    assert CoachingSession.objects.get(pk=active_session.pk).last_seq == 1


def test_a_leave_takes_the_seq_after_the_entry(student, active_session):
    sid = active_session.session_id
    announce(PARTICIPANT_JOINED, sid, student, "student")
    notice, _ = announce(PARTICIPANT_LEFT, sid, student, "student")
    assert notice["seq"] == 2 and notice["code"] == "participant_left"
    assert notice["text"] == f"{student.display_name}님이 세션에서 나갔습니다."
    assert list(SessionEvent.objects.order_by("seq").values_list("seq", flat=True)) == [1, 2]


@pytest.mark.parametrize("role", ["observer", "preview"])
def test_other_roles_come_and_go_silently(coach, active_session, role):
    assert announce(PARTICIPANT_JOINED, active_session.session_id, coach, role) == (None, [])
    assert not SessionEvent.objects.exists()


def test_an_ended_session_announces_nothing_more(coach, active_session):
    with captured_broadcasts():
        session_end(session_id=active_session.session_id, actor=coach)
    seq = CoachingSession.objects.get(pk=active_session.pk).last_seq
    assert announce(PARTICIPANT_LEFT, active_session.session_id, coach, "coach") == (None, [])
    assert CoachingSession.objects.get(pk=active_session.pk).last_seq == seq


def test_a_session_that_is_gone_announces_nothing(coach):
    assert announce(PARTICIPANT_JOINED, "sess_gone", coach, "coach") == (None, [])


def test_notices_asked_together_go_in_one_statement_each_session_in_the_order_asked(
    student, coach, active_session, monkeypatch
):
    """A storm's entries: one statement for every notice asked while none is written;
    each session's seqs in the order its notices were asked, broadcast in that order; an
    ended session's notice logs nothing."""
    other = CoachingSession.objects.create(student=student, coach=coach, status="active")
    ended = CoachingSession.objects.create(student=student, coach=coach, status="ended")
    asked = [
        (active_session, student, "student"),
        (other, coach, "coach"),
        (ended, coach, "coach"),
        (active_session, coach, "coach"),
    ]
    calls = [
        lambda _, s=s, u=u, role=role: participant_announce(
            PARTICIPANT_JOINED, session_id=s.session_id, user=u, role=role
        )
        for s, u, role in asked
    ]
    with captured_broadcasts() as sent:
        notices, statements = together(calls, monkeypatch)
    assert statements == 1
    assert [n and (n["seq"], n["params"]["role"]) for n in notices] == [
        (1, "student"),
        (1, "coach"),
        None,
        (2, "coach"),
    ]
    assert [(topic, payload["seq"]) for topic, _, payload in sent] == [
        (active_session.topic, 1),
        (other.topic, 1),
        (active_session.topic, 2),
    ]
    logged = SessionEvent.objects.filter(session=active_session).order_by("seq")
    assert [e.payload for e in logged] == [notices[0], notices[3]]
    assert CoachingSession.objects.get(pk=ended.pk).last_seq == 0
