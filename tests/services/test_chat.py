"""Chat storage: per-message rules, seqs, idempotent resends, and batches of many."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coaching.errors import ServiceError
from coaching.models import ChatMessage, CoachingSession, Role, SessionEvent
from coaching.services.chat import (
    MAX_MESSAGE_CHARS,
    ChatPost,
    chat_message_post,
    chat_messages_post,
)
from coaching.text import clean_text
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


@pytest.mark.parametrize("text", ["bad\u0000line", "lone \ud800 surrogate", "\udfff"])
def test_unstorable_text_is_refused_and_the_rest_of_its_batch_is_stored(
    student, coach, active_session, text
):
    sid = active_session.session_id
    posts = [
        ChatPost(sid, student, "before"),
        ChatPost(sid, student, text),
        ChatPost(sid, coach, "after"),
    ]
    with captured_broadcasts() as published:
        results = chat_messages_post(posts)
    assert results[1].code == "invalid_input" and results[1].field == "message"
    assert [results[0]["message"], results[2]["message"]] == ["before", "after"]
    assert [p["message"] for _, _, p in published] == ["before", "after"]
    assert list(ChatMessage.objects.order_by("seq").values_list("message", flat=True)) == [
        "before",
        "after",
    ]


def test_a_message_the_database_refuses_fails_alone_and_its_batch_is_stored(
    student, coach, active_session
):
    """Whatever the database refuses in a batch, only that message gets the error."""
    poisoned = CoachingSession.objects.create(student=student, coach=coach, status="active")
    # A log entry its counter does not know of: the session's next seq is refused.
    SessionEvent.objects.create(session=poisoned, seq=1, event="system:notice", payload={})
    sid = active_session.session_id
    posts = [
        ChatPost(sid, student, "before"),
        ChatPost(poisoned.session_id, student, "refused"),
        ChatPost(sid, coach, "after"),
    ]
    with captured_broadcasts() as published:
        results = chat_messages_post(posts)
    assert isinstance(results[1], ServiceError) and results[1].code == "internal_error"
    assert [(results[0]["seq"], results[2]["seq"])] == [(1, 2)]
    assert [(topic, p["message"]) for topic, _, p in published] == [
        (active_session.topic, "before"),
        (active_session.topic, "after"),
    ]
    assert not ChatMessage.objects.filter(session=poisoned).exists()
    poisoned.refresh_from_db()
    assert poisoned.last_seq == 0


def test_text_is_normalized_and_trimmed_before_it_is_stored(student, active_session):
    decomposed = "  Cafe\u0301 \u1100\u1161  "  # "Café 가" in decomposed form
    message = chat_message_post(
        session_id=active_session.session_id, sender=student, text=decomposed
    )
    assert message["message"] == "Caf\u00e9 \uac00"
    assert ChatMessage.objects.get().message == "Caf\u00e9 \uac00"


# --- Fuzzing: any input either round-trips or is refused without a write ----------------

any_text = st.text(alphabet=st.characters(exclude_categories=()), max_size=2100)
any_input = st.one_of(
    any_text,
    st.none(),
    st.integers(),
    st.floats(),
    st.booleans(),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3),
)


@given(value=any_input, client_msg_id=st.one_of(st.none(), any_text, st.integers()))
@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_any_chat_input_is_stored_as_cleaned_or_refused_without_a_write(
    student, active_session, value, client_msg_id
):
    ChatMessage.objects.all().delete()  # a client_msg_id of an earlier example is not a resend
    try:
        expected = clean_text(value, field="message", max_chars=MAX_MESSAGE_CHARS)
    except ServiceError:
        expected = None
    [result] = chat_messages_post(
        [ChatPost(active_session.session_id, student, value, client_msg_id)]
    )
    if isinstance(result, ServiceError):
        assert result.code == "invalid_input"
        assert not ChatMessage.objects.exists()
        return
    assert result["message"] == expected
    stored = ChatMessage.objects.get(pk=int(result["id"]))
    assert stored.message == expected
