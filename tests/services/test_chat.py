"""Chat storage: per-message rules, seqs, idempotent resends, and batches of many."""

import pytest

from coaching.errors import ServiceError
from coaching.models import ChatMessage, CoachingSession, Role, SessionEvent
from coaching.services.chat import ChatPost, chat_message_post, chat_messages_post
from tests.support.broadcasts import captured_broadcasts


def test_message_gets_the_next_seq_and_is_logged(student, active_session):
    first = chat_message_post(session_id=active_session.session_id, sender=student, text="a")
    second = chat_message_post(session_id=active_session.session_id, sender=student, text="b")
    assert (first["seq"], second["seq"]) == (1, 2)
    active_session.refresh_from_db()
    assert active_session.last_seq == 2
    assert SessionEvent.objects.get(seq=2).payload == second


def test_a_batch_stores_each_message_on_its_own_merits(student, coach, make_user, active_session):
    ended = CoachingSession.objects.create(student=student, coach=coach, status="ended")
    other = CoachingSession.objects.create(student=student, coach=coach, status="active")
    sid = active_session.session_id
    posts = [
        ChatPost(sid, student, "one"),
        ChatPost(sid, coach, "   "),
        ChatPost(other.session_id, coach, "elsewhere"),
        ChatPost(sid, make_user(Role.STUDENT), "intruder"),
        ChatPost(ended.session_id, student, "too late"),
        ChatPost("sess_nope", student, "lost"),
        ChatPost(sid, coach, "two"),
    ]
    with captured_broadcasts() as published:
        results = chat_messages_post(posts)
    codes = [r.code if isinstance(r, ServiceError) else r["message"] for r in results]
    assert codes == [
        "one",
        "invalid_input",
        "elsewhere",
        "forbidden",
        "session_ended",
        "not_found",
        "two",
    ]
    assert (results[0]["seq"], results[6]["seq"]) == (1, 2)
    assert results[2]["seq"] == 1
    assert [(topic, p["message"]) for topic, _, p in published] == [
        (active_session.topic, "one"),
        (other.topic, "elsewhere"),
        (active_session.topic, "two"),
    ]
    assert ChatMessage.objects.count() == 3
    assert SessionEvent.objects.filter(event="chat:added").count() == 3
    active_session.refresh_from_db()
    assert active_session.last_seq == 2


def test_a_resent_client_msg_id_returns_the_stored_message_without_broadcast(
    student, active_session
):
    sid = active_session.session_id
    with captured_broadcasts() as published:
        first = chat_message_post(session_id=sid, sender=student, text="hi", client_msg_id="c1")
        again = chat_message_post(session_id=sid, sender=student, text="hi", client_msg_id="c1")
    assert again == first
    assert len(published) == 1 and ChatMessage.objects.count() == 1


def test_the_same_client_msg_id_twice_in_one_batch_is_stored_once(student, active_session):
    post = ChatPost(active_session.session_id, student, "hi", "c1")
    with captured_broadcasts() as published:
        results = chat_messages_post([post, post])
    assert results[0] == results[1]
    assert len(published) == 1 and ChatMessage.objects.count() == 1


def test_client_msg_ids_are_per_sender(student, coach, active_session):
    sid = active_session.session_id
    a = chat_message_post(session_id=sid, sender=student, text="hi", client_msg_id="same")
    b = chat_message_post(session_id=sid, sender=coach, text="yo", client_msg_id="same")
    assert a["id"] != b["id"]


def test_an_observer_cannot_chat(admin_user, active_session):
    with pytest.raises(ServiceError) as info:
        chat_message_post(session_id=active_session.session_id, sender=admin_user, text="hi")
    assert info.value.code == "forbidden"
