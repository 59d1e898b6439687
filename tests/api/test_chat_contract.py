"""One chat store: the same input posted through the socket's writer and through REST is
stored as the same rows, answered with the same payload, or refused with the same error."""

import asyncio
import json
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from coaching.errors import ServiceError
from coaching.models import ChatMessage, CoachingSession, SessionEvent
from coaching.realtime.chat_writer import ChatWriter, chat_writer
from coaching.services.chat import ChatPost, Resend
from tests.api.support import session_url
from tests.support.auth import api_client_for
from tests.support.broadcasts import captured_broadcasts

pytestmark = pytest.mark.django_db(transaction=True)

texts = st.text(max_size=40) | st.sampled_from(
    ["", "   ", "\u200b", "a\x00b", "\ud800", "x" * 2001]
)
inputs = st.one_of(
    st.none(),
    texts,
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.lists(st.text(max_size=3), max_size=2),
)
client_ids = st.one_of(st.none(), texts, st.integers(), st.just("c-1"))


@pytest.fixture
def socket_writer() -> Iterator[tuple[asyncio.AbstractEventLoop, ChatWriter]]:
    """The socket's writer on one event loop for the whole test."""
    loop = asyncio.new_event_loop()
    writer = chat_writer()
    yield loop, writer
    loop.run_until_complete(writer.close())
    loop.close()


def outcome(result: dict | Resend | ServiceError) -> tuple:
    """What a client sees, less what differs by session (ids, times) and who sent it."""
    if isinstance(result, ServiceError):
        return ("error", result.code, result.field)
    if isinstance(result, Resend):  # the socket answers a resend with the stored line
        result = result.payload
    return (
        "ok",
        result["seq"],
        result["message"],
        result["client_msg_id"],
        result["sender"]["role"],
    )


def stored(session: CoachingSession) -> list[tuple]:
    """The session's chat rows and their log rows, less ids and times."""
    messages = ChatMessage.objects.filter(session=session).order_by("seq")
    logged = SessionEvent.objects.filter(session=session).order_by("seq")
    return [(m.seq, m.sender.role, m.message, m.client_msg_id) for m in messages] + [
        (e.seq, e.event, e.payload["message"], e.payload["seq"]) for e in logged
    ]


def via_rest(session: CoachingSession, user, body: dict) -> dict | ServiceError:
    # As a client sends it: JSON with \u escapes (a lone surrogate has no UTF-8 form).
    response = api_client_for(user).post(
        session_url(session, "messages"), json.dumps(body), content_type="application/json"
    )
    data = response.json()
    if response.status_code == 201:
        return data
    error = data["error"]
    fields = list(error.get("fields", {}))
    return ServiceError(error["code"], error["message"], field=fields[0] if fields else None)


@given(message=inputs, client_msg_id=client_ids, twice=st.booleans())
@example(message="  hello  ", client_msg_id="c-1", twice=True)
@settings(
    max_examples=40,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_socket_and_rest_store_and_answer_the_same(
    socket_writer, student, coach, message, client_msg_id, twice
):
    loop, writer = socket_writer
    by_socket = CoachingSession.objects.create(student=student, coach=coach, status="active")
    by_rest = CoachingSession.objects.create(student=student, coach=coach, status="active")
    body = {"message": message, "client_msg_id": client_msg_id}
    with captured_broadcasts():
        for _ in range(2 if twice else 1):  # a resend answers what was stored, once
            post = ChatPost(by_socket.session_id, student, message, client_msg_id)
            socket_result = loop.run_until_complete(writer.submit(post))
            rest_result = via_rest(by_rest, student, body)
            assert outcome(socket_result) == outcome(rest_result)
    assert stored(by_socket) == stored(by_rest)


@pytest.mark.parametrize("status", ["waiting", "ended"])
def test_the_rules_refuse_alike_on_both_paths(socket_writer, student, coach, make_user, status):
    loop, writer = socket_writer
    outsider = make_user()

    def session(student) -> CoachingSession:
        with_coach = coach if status == "ended" else None
        return CoachingSession.objects.create(student=student, coach=with_coach, status=status)

    # A student waits in one session at a time: one student each.
    other_student = make_user()
    by_socket, by_rest = session(student), session(other_student)
    with captured_broadcasts():
        for socket_user, rest_user in ((student, other_student), (coach, coach), (outsider,) * 2):
            post = ChatPost(by_socket.session_id, socket_user, "hello")
            socket_result = loop.run_until_complete(writer.submit(post))
            rest_result = via_rest(by_rest, rest_user, {"message": "hello"})
            if outcome(rest_result)[1] == "not_found":  # REST hides what a user cannot see
                assert outcome(socket_result)[1] == "forbidden"
                continue
            assert outcome(socket_result) == outcome(rest_result)
    assert stored(by_socket) == stored(by_rest)
