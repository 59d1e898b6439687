from typing import Any

from django.db import transaction

from coaching import events, policy, state
from coaching.errors import invalid
from coaching.models import ChatMessage, User
from coaching.realtime.publish import broadcast_on_commit
from coaching.services.lookup import locked_session

MAX_MESSAGE_CHARS = 2000
MAX_CLIENT_MSG_ID_CHARS = 64


def clean_message(text: Any) -> str:
    if not isinstance(text, str):
        raise invalid("message", "message must be a string.")
    text = text.strip()
    if not text:
        raise invalid("message", "message is empty.")
    if len(text) > MAX_MESSAGE_CHARS:
        raise invalid("message", f"message is longer than {MAX_MESSAGE_CHARS} characters.")
    return text


def clean_client_msg_id(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= MAX_CLIENT_MSG_ID_CHARS:
        raise invalid(
            "client_msg_id", f"client_msg_id must be a string of 1-{MAX_CLIENT_MSG_ID_CHARS} chars."
        )
    return value


@transaction.atomic
def chat_message_post(
    *, session_id: str, sender: User, text: Any, client_msg_id: Any = None
) -> dict:
    """Store a chat line and broadcast `chat:added`; a resent `client_msg_id` is stored once."""
    text = clean_message(text)
    client_msg_id = clean_client_msg_id(client_msg_id)
    session = locked_session(session_id)
    policy.check_chat(sender, session)
    if client_msg_id is not None:
        existing = (
            ChatMessage.objects.filter(session=session, sender=sender, client_msg_id=client_msg_id)
            .select_related("session", "sender")
            .first()
        )
        if existing is not None:
            return events.chat_added(existing)
    state.ensure_open(session)
    seq = events.next_seq(session)
    message = ChatMessage.objects.create(
        session=session, seq=seq, sender=sender, message=text, client_msg_id=client_msg_id
    )
    payload = events.log_event(session, "chat:added", events.chat_added(message), seq=seq)
    broadcast_on_commit(session.topic, "chat:added", payload)
    return payload
