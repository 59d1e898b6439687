"""Chat: validate, store with a seq, broadcast `chat:added` after commit.

Messages are stored in batches: `chat_messages_post` writes any number of
messages, for any sessions, in one transaction, so one durable commit (≈9 ms of
fsync on this machine) serves them all. Each message still succeeds or fails on
its own. `chat_message_post` is the one-message form.
"""

import logging
from dataclasses import dataclass
from typing import Any

from django.db import DatabaseError, transaction

from coaching import events, policy, state
from coaching.errors import ServiceError, invalid
from coaching.models import ChatMessage, CoachingSession, SessionEvent, User
from coaching.outage import is_database_down
from coaching.realtime.publish import broadcast_on_commit
from coaching.text import clean_text

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 2000
MAX_CLIENT_MSG_ID_CHARS = 64


def clean_message(text: Any) -> str:
    """The chat line as stored, under the text rules REST fields follow too."""
    return clean_text(text, field="message", max_chars=MAX_MESSAGE_CHARS)


def clean_client_msg_id(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= MAX_CLIENT_MSG_ID_CHARS:
        raise invalid(
            "client_msg_id",
            f"client_msg_id must be a string of 1-{MAX_CLIENT_MSG_ID_CHARS} chars.",
        )
    return value


@dataclass(frozen=True)
class ChatPost:
    """One message to store: raw input, validated by the service."""

    session_id: str
    sender: User
    text: Any
    client_msg_id: Any = None


def chat_message_post(
    *, session_id: str, sender: User, text: Any, client_msg_id: Any = None
) -> dict:
    """Store one chat line and broadcast `chat:added`; a resent `client_msg_id` is stored once."""
    [result] = chat_messages_post([ChatPost(session_id, sender, text, client_msg_id)])
    if isinstance(result, ServiceError):
        raise result
    return result


def chat_messages_post(posts: list[ChatPost]) -> list[dict | ServiceError]:
    """Store many messages in one transaction; returns, per post, its payload or its error.

    A message never fails because of another: should the database refuse the batch,
    each message is stored in a transaction of its own, and only the refused one gets
    an `internal_error`. Only when the database is down do all fail (the error is
    raised, for the caller to answer `unavailable`).

    Rules per message: 1-2000 characters after trimming; only the session's student
    and coach; not after `ended`; a `client_msg_id` already stored for that sender in
    that session returns the stored message and is not broadcast again.
    """
    results: list[dict | ServiceError | None] = [None] * len(posts)
    valid: list[tuple[int, ChatPost, str, str | None]] = []
    for i, post in enumerate(posts):
        try:
            valid.append(
                (i, post, clean_message(post.text), clean_client_msg_id(post.client_msg_id))
            )
        except ServiceError as exc:
            results[i] = exc
    if valid:
        try:
            with transaction.atomic():
                _store(valid, results)
        except DatabaseError as exc:
            if is_database_down(exc) or len(valid) == 1:
                raise  # every message fails alike; the caller reports it
            # The database refused something in this batch: store each message on its
            # own, so that only the one it refuses fails.
            for entry in valid:
                results[entry[0]] = None  # what the failed batch had put there
            for entry in valid:
                _store_alone(entry, results)
    return results  # type: ignore[return-value]


def _store_alone(entry: tuple[int, ChatPost, str, str | None], results: list) -> None:
    try:
        with transaction.atomic():
            _store([entry], results)
    except DatabaseError as exc:
        if is_database_down(exc):
            raise
        logger.exception("chat message %d of a batch could not be stored", entry[0])
        results[entry[0]] = ServiceError("internal_error", "This message could not be stored.")


def _store(valid: list[tuple[int, ChatPost, str, str | None]], results: list) -> None:
    # Lock every session concerned, in one order (pk) in every process: no deadlocks.
    sessions = {
        s.session_id: s
        for s in CoachingSession.objects.select_for_update(of=("self",))
        .select_related("student", "coach")
        .filter(session_id__in={post.session_id for _, post, _, _ in valid})
        .order_by("pk")
    }
    # Values: a payload (stored before) or a ChatMessage (earlier in this batch).
    stored = _stored_by_client_id(valid, sessions)
    new: list[ChatMessage] = []
    for i, post, text, client_msg_id in valid:
        session = sessions.get(post.session_id)
        try:
            if session is None:
                raise ServiceError("not_found", "No such session.")
            policy.check_chat(post.sender, session)
            key = (session.pk, post.sender.pk, client_msg_id)
            if client_msg_id is not None and key in stored:
                results[i] = stored[key]  # a resend: the stored message, no broadcast
                continue
            state.ensure_open(session)
        except ServiceError as exc:
            results[i] = exc
            continue
        session.last_seq += 1
        message = ChatMessage(
            session=session,
            seq=session.last_seq,
            sender=post.sender,
            message=text,
            client_msg_id=client_msg_id,
        )
        if client_msg_id is not None:
            stored[key] = message
        results[i] = message
        new.append(message)
    if not new:
        return
    ChatMessage.objects.bulk_create(new)
    # One plain UPDATE per session: bulk_update's CASE expression costs more to build.
    for session in {m.session for m in new}:
        CoachingSession.objects.filter(pk=session.pk).update(last_seq=session.last_seq)
    payloads = {id(m): events.chat_added(m) for m in new}
    SessionEvent.objects.bulk_create(
        SessionEvent(session=m.session, seq=m.seq, event="chat:added", payload=payloads[id(m)])
        for m in new
    )
    for m in new:
        broadcast_on_commit(m.session.topic, "chat:added", payloads[id(m)])
    for i, result in enumerate(results):
        if isinstance(result, ChatMessage):
            results[i] = payloads[id(result)]


def _stored_by_client_id(
    valid: list[tuple[int, ChatPost, str, str | None]], sessions: dict[str, CoachingSession]
) -> dict[tuple[int, int, str], Any]:
    """Messages already stored under the posts' client ids, by (session, sender, id)."""
    wanted = {cid for _, _, _, cid in valid if cid is not None}
    if not wanted:
        return {}
    rows = ChatMessage.objects.filter(
        session__in=list(sessions.values()), client_msg_id__in=wanted
    ).select_related("session", "sender")
    return {(m.session_id, m.sender_id, m.client_msg_id): events.chat_added(m) for m in rows}
