"""Chat history over REST: what a client that missed messages reads."""

import pytest

from coaching.services.chat import chat_message_post
from tests.api.support import PARTICIPANT_READS, session_url
from tests.support.auth import api_client_for


@pytest.fixture
def chat(active_session, student, coach) -> list[dict]:
    lines = [(student, "Hi coach"), (coach, "Hi Ian"), (student, "My driver slices")]
    return [
        chat_message_post(session_id=active_session.session_id, sender=who, text=text)
        for who, text in lines
    ]


def test_participant_reads_chat_in_seq_order_as_chat_added_payloads(student, active_session, chat):
    response = api_client_for(student).get(session_url(active_session, "messages"))
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert body["results"] == chat
    assert [m["seq"] for m in body["results"]] == sorted(m["seq"] for m in chat)


def test_after_seq_returns_only_later_messages(coach, active_session, chat):
    response = api_client_for(coach).get(
        session_url(active_session, "messages") + f"?after_seq={chat[0]['seq']}"
    )
    assert [m["message"] for m in response.json()["results"]] == ["Hi Ian", "My driver slices"]


def test_after_seq_beyond_the_last_message_is_empty(student, active_session, chat):
    response = api_client_for(student).get(
        session_url(active_session, "messages") + "?after_seq=99"
    )
    assert response.status_code == 200
    assert response.json()["results"] == []


@pytest.mark.parametrize("value", ["abc", "-1", "1.5"])
def test_bad_after_seq_is_refused_naming_the_field(student, active_session, value):
    response = api_client_for(student).get(
        session_url(active_session, "messages") + f"?after_seq={value}"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_input"
    assert list(error["fields"]) == ["after_seq"]


def test_chat_history_is_paginated(student, active_session, chat):
    response = api_client_for(student).get(session_url(active_session, "messages") + "?page_size=2")
    body = response.json()
    assert [m["message"] for m in body["results"]] == ["Hi coach", "Hi Ian"]
    assert body["next"] is not None


@pytest.mark.parametrize(("who", "status"), PARTICIPANT_READS)
def test_chat_history_is_for_participants_and_admins(request, active_session, who, status):
    user = request.getfixturevalue(who)
    response = api_client_for(user).get(session_url(active_session, "messages"))
    assert response.status_code == status


def test_coach_previews_chat_of_a_waiting_session_before_claiming_it(coach, waiting_session):
    response = api_client_for(coach).get(session_url(waiting_session, "messages"))
    assert response.status_code == 200
