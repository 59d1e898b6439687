"""The socket's chat writer: the chat store's rules from the event loop, on asyncpg
connections of its own, batching what queues up while it writes."""

import asyncio
import time

import asyncpg
import pytest
from asgiref.sync import sync_to_async

from coaching.errors import ServiceError
from coaching.models import ChatMessage, CoachingSession, Role, SessionEvent
from coaching.realtime import pg
from coaching.realtime.chat_writer import ChatWriter, chat_writer
from coaching.services.chat import ChatPost, Resend
from tests.support.broadcasts import captured_broadcasts
from tests.support.proxy import TcpProxy
from tests.support.waiting import eventually

pytestmark = pytest.mark.django_db(transaction=True)


def submit_all(posts: list[ChatPost]) -> list:
    """Submit every post at once (so they share batches) and wait for all results.
    Broadcasts are captured (the caller may capture them itself)."""
    with captured_broadcasts():
        return _submit_all(posts)


def _submit_all(posts: list[ChatPost]) -> list:

    async def run() -> list:
        writer = chat_writer()
        try:
            return await asyncio.gather(
                *(writer.submit(post) for post in posts), return_exceptions=True
            )
        finally:
            await writer.close()

    return asyncio.run(run())


def test_messages_get_consecutive_seqs_and_are_logged_as_broadcast(student, coach, active_session):
    sid = active_session.session_id
    with captured_broadcasts() as published:
        results = _submit_all(
            [ChatPost(sid, student, f"m{i}") for i in range(5)]
            + [ChatPost(sid, coach, "  reply  ")]
        )
    assert [r["seq"] for r in results] == [1, 2, 3, 4, 5, 6]
    assert results[5]["message"] == "reply"
    assert results[5]["sender"] == {"id": str(coach.pk), "role": "coach", "name": "IanPro"}
    active_session.refresh_from_db()
    assert active_session.last_seq == 6
    logged = {e.seq: e.payload for e in SessionEvent.objects.filter(event="chat:added")}
    assert [logged[r["seq"]] for r in results] == results
    assert [p for _, _, p in published] == results
    stored = ChatMessage.objects.get(seq=6)
    assert (str(stored.pk), stored.message, stored.sender_id) == (
        results[5]["id"],
        "reply",
        coach.pk,
    )


def test_each_message_succeeds_or_fails_on_its_own(student, coach, make_user, active_session):
    ended = CoachingSession.objects.create(student=student, coach=coach, status="ended")
    sid = active_session.session_id
    results = submit_all(
        [
            ChatPost(sid, student, "one"),
            ChatPost(sid, coach, ""),
            ChatPost(sid, make_user(Role.STUDENT), "intruder"),
            ChatPost(ended.session_id, student, "too late"),
            ChatPost("sess_nope", student, "lost"),
            ChatPost(sid, coach, "two"),
        ]
    )
    codes = [r.code if isinstance(r, ServiceError) else r["message"] for r in results]
    assert codes == ["one", "invalid_input", "forbidden", "session_ended", "not_found", "two"]
    assert sorted(m.seq for m in ChatMessage.objects.all()) == [1, 2]


def test_a_message_the_database_refuses_fails_alone_and_its_batch_is_stored(
    student, coach, active_session
):
    """The batch is written again message by message: only the refused one fails."""
    poisoned = CoachingSession.objects.create(student=student, coach=coach, status="active")
    # A log entry its counter does not know of: the session's next seq is refused.
    SessionEvent.objects.create(session=poisoned, seq=1, event="system:notice", payload={})
    sid = active_session.session_id
    with captured_broadcasts() as published:
        results = _submit_all(
            [
                ChatPost(sid, student, "before"),
                ChatPost(poisoned.session_id, student, "refused"),
                ChatPost(sid, coach, "after"),
            ]
        )
    assert isinstance(results[1], ServiceError) and results[1].code == "internal_error"
    assert (results[0]["seq"], results[2]["seq"]) == (1, 2)
    assert [p["message"] for _, _, p in published] == ["before", "after"]
    assert not ChatMessage.objects.filter(session=poisoned).exists()


def test_a_resent_client_msg_id_returns_the_stored_message_without_broadcast(
    student, coach, active_session
):
    sid = active_session.session_id
    [first] = submit_all([ChatPost(sid, student, "hi", "c1")])
    with captured_broadcasts() as published:
        again, twice, other = _submit_all(
            [
                ChatPost(sid, student, "hi", "c1"),
                ChatPost(sid, coach, "yo", "c2"),
                ChatPost(sid, coach, "yo", "c2"),
            ]
        )
    assert again == Resend(first)  # answered with the stored message
    assert other == Resend(twice) and twice["seq"] == 2
    assert [p["client_msg_id"] for _, _, p in published] == ["c2"]
    assert ChatMessage.objects.count() == 2


def test_a_database_it_cannot_reach_answers_unavailable(monkeypatch, student, active_session):
    monkeypatch.setattr(
        pg,
        "connection_params",
        lambda: {"host": "127.0.0.1", "port": 1, "database": "x", "timeout": 5},
    )
    [result] = submit_all([ChatPost(active_session.session_id, student, "hello")])
    assert isinstance(result, ServiceError) and result.code == "unavailable"


def test_a_database_that_stops_answering_answers_unavailable_within_the_statement_timeout(
    monkeypatch, student, active_session
):
    monkeypatch.setattr(pg, "STATEMENT_TIMEOUT", 1)
    params = pg.connection_params()
    proxy = TcpProxy(int(params["port"] or 5432), params["host"] or "127.0.0.1")
    monkeypatch.setattr(pg, "connection_params", lambda: {**params, "port": proxy.port})
    sid = active_session.session_id

    async def run() -> list:
        writer = chat_writer()
        try:
            before = await writer.submit(ChatPost(sid, student, "before"))
            proxy.blackhole()  # the connection stays open, nothing comes back
            started = time.monotonic()
            during = await writer.submit(ChatPost(sid, student, "during"))
            waited = time.monotonic() - started
            proxy.restore()
            after = await writer.submit(ChatPost(sid, student, "after"))
            return [before, during, waited, after]
        finally:
            await writer.close()

    try:
        with captured_broadcasts():
            before, during, waited, after = asyncio.run(run())
    finally:
        proxy.close()
    assert before["message"] == "before" and after["message"] == "after"
    assert isinstance(during, ServiceError) and during.code == "unavailable"
    assert waited < 5
    assert sorted(ChatMessage.objects.values_list("message", flat=True)) == ["after", "before"]


def test_a_connection_the_server_ends_is_replaced_and_a_resend_is_stored_once(
    student, active_session
):
    """A restart or failover ends the writer's connection: the line in flight is answered
    `unavailable` at worst, the client's resend (same `client_msg_id`) is stored once."""
    sid = active_session.session_id

    async def run() -> list:
        writer = chat_writer()
        try:
            first = await writer.submit(ChatPost(sid, student, "one", "k1"))
            admin = await asyncpg.connect(**pg.connection_params())
            try:
                for conn in writer._connections:
                    if conn is not None:
                        await admin.fetchval(
                            "SELECT pg_terminate_backend($1)", conn.get_server_pid()
                        )
            finally:
                await admin.close()
            second = await writer.submit(ChatPost(sid, student, "two", "k2"))
            if isinstance(second, ServiceError):
                assert second.code == "unavailable"
                second = await writer.submit(ChatPost(sid, student, "two", "k2"))
                if isinstance(second, Resend):  # stored before the connection went
                    second = second.payload
            again = await writer.submit(ChatPost(sid, student, "two", "k2"))
            return [first, second, again]
        finally:
            await writer.close()

    with captured_broadcasts():
        first, second, again = asyncio.run(run())
    assert (first["message"], second["message"]) == ("one", "two")
    assert again == Resend(second)
    assert sorted(ChatMessage.objects.values_list("message", flat=True)) == ["one", "two"]


async def until_a_lock_is_awaited(conn: asyncpg.Connection) -> None:
    await eventually(
        "a transaction to wait for a lock",
        lambda: conn.fetchval("SELECT count(*) FROM pg_locks WHERE NOT granted"),
        every=0.02,
    )


def test_a_resend_stored_by_another_writer_while_this_one_waited_is_not_stored_twice(
    student, active_session
):
    """A client that resent through another process while this writer's batch waited
    for the session's row: the unique client_msg_id sends the batch round again, and
    the second read finds the stored message."""
    result, published = submitted_while_another_writer_holds_the_session(
        ChatPost(active_session.session_id, student, "hi", "c1"),
        seq_1_taken_by(
            "INSERT INTO coaching_chatmessage"
            " (session_id, seq, sender_id, message, client_msg_id, created_at)"
            " VALUES ($1, 1, $2, 'hi', 'c1', now())"
        ),
        student.pk,
    )
    assert isinstance(result, Resend)
    assert (result.payload["seq"], result.payload["client_msg_id"]) == (1, "c1")
    assert ChatMessage.objects.count() == 1
    assert published == []  # the other writer's message, not broadcast again


def seq_1_taken_by(insert: str) -> str:
    """SQL for another writer storing `insert` (`$1`: the session's pk) as seq 1."""
    return (
        f"WITH taken AS ({insert}) UPDATE coaching_coachingsession SET last_seq = 1 WHERE id = $1"
    )


def submitted_while_another_writer_holds_the_session(
    post: ChatPost, change: str, *args: object
) -> tuple[object, list]:
    """Submit `post` while another connection holds its session's row; that connection
    runs `change` (SQL: `$1` is the session's pk, then `args`) and commits once the
    writer waits for the row. The result, and what was broadcast."""

    async def run() -> object:
        other = await asyncpg.connect(**pg.connection_params())
        writer = chat_writer()
        try:
            async with other.transaction():
                pk = await other.fetchval(
                    "SELECT id FROM coaching_coachingsession WHERE session_id = $1 FOR UPDATE",
                    post.session_id,
                )
                waiting = asyncio.ensure_future(writer.submit(post))
                await until_a_lock_is_awaited(other)
                await other.execute(change, pk, *args)
            return await waiting
        finally:
            await writer.close()
            await other.close()

    with captured_broadcasts() as published:
        result = asyncio.run(run())
    return result, published


def test_a_session_that_ends_while_a_batch_waits_stores_nothing_and_says_so(
    student, active_session
):
    """The rules ran on what the batch read; the session changed before it wrote, so the
    rules run again on the session as it is now."""
    result, published = submitted_while_another_writer_holds_the_session(
        ChatPost(active_session.session_id, student, "too late", "late-1"),
        "UPDATE coaching_coachingsession SET status = 'ended' WHERE id = $1",
    )
    assert isinstance(result, ServiceError) and result.code == "session_ended"
    assert not ChatMessage.objects.exists() and published == []
    active_session.refresh_from_db()
    assert active_session.last_seq == 0


def test_a_seq_taken_by_another_writer_meanwhile_is_not_taken_again(student, active_session):
    """Seqs come from the session's row as the write finds it, not as the batch read it."""
    result, published = submitted_while_another_writer_holds_the_session(
        ChatPost(active_session.session_id, student, "after the card", "after-1"),
        seq_1_taken_by(
            "INSERT INTO coaching_sessionevent (session_id, seq, event, payload, created_at)"
            " VALUES ($1, 1, 'feedback:added', '{}', now())"
        ),
    )
    assert result["seq"] == 2
    assert list(SessionEvent.objects.order_by("seq").values_list("seq", "event")) == [
        (1, "feedback:added"),
        (2, "chat:added"),
    ]
    assert SessionEvent.objects.get(seq=2).payload == result
    assert [payload for _topic, _event, payload in published] == [result]


def test_a_batch_locks_its_sessions_in_id_order(student, coach, active_session):
    """Waiting for one session's row, a batch holds none of the later ones: writers of
    several processes (and the notices' statement) that share sessions wait for each
    other in one order instead of deadlocking."""
    first = active_session
    later = CoachingSession.objects.create(student=student, coach=coach, status="active")
    assert first.pk < later.pk
    # Rewritten, the first session's row now lies after the later one's in the table: a
    # statement that locked rows as it scanned them would take the later one first.
    CoachingSession.objects.filter(pk=first.pk).update(current_step="analysis")

    async def run() -> tuple[list, bool]:
        holder = await asyncpg.connect(**pg.connection_params())
        prober = await asyncpg.connect(**pg.connection_params())
        writer = ChatWriter(writers=1)
        try:
            async with holder.transaction():
                await holder.execute(
                    "SELECT 1 FROM coaching_coachingsession WHERE id = $1 FOR UPDATE", first.pk
                )
                posts = [
                    ChatPost(later.session_id, coach, "b"),
                    ChatPost(first.session_id, student, "a"),
                ]
                waiting = asyncio.gather(*(writer.submit(post) for post in posts))
                await until_a_lock_is_awaited(holder)
                async with prober.transaction():
                    later_free = await prober.fetchval(
                        "SELECT count(*) FROM (SELECT 1 FROM coaching_coachingsession"
                        " WHERE id = $1 FOR UPDATE SKIP LOCKED) AS free",
                        later.pk,
                    )
            return await waiting, later_free == 1
        finally:
            await writer.close()
            await holder.close()
            await prober.close()

    with captured_broadcasts():
        results, later_free = asyncio.run(run())
    assert later_free
    assert [r["message"] for r in results] == ["b", "a"]


def submitted_in_turn(steps: list) -> list:
    """On one writer (one connection), in order: each step a `ChatPost` (its result is
    kept) or a function changing the database in between (run on a thread). The results,
    each with the statements the writer ran for it."""

    async def run() -> list:
        writer = ChatWriter(writers=1)
        ran: list[str] = []
        fetch = asyncpg.Connection.fetch

        async def counting(conn: asyncpg.Connection, sql: str, *args: object) -> list:
            ran.append(sql)
            return await fetch(conn, sql, *args)

        asyncpg.Connection.fetch = counting
        out = []
        try:
            for step in steps:
                if isinstance(step, ChatPost):
                    ran.clear()
                    out.append((await writer.submit(step), len(ran)))
                else:
                    await sync_to_async(step)()
        finally:
            asyncpg.Connection.fetch = fetch
            await writer.close()
        return out

    with captured_broadcasts():
        return asyncio.run(run())


def test_a_line_to_a_session_the_writer_has_read_is_stored_in_one_statement(
    student, coach, active_session
):
    sid = active_session.session_id
    first, second, third = submitted_in_turn(
        [
            ChatPost(sid, student, "one", "k1"),
            ChatPost(sid, coach, "two", "k2"),
            ChatPost(sid, student, "three"),
        ]
    )
    assert [r["seq"] for r, _ in (first, second, third)] == [1, 2, 3]
    assert [statements for _, statements in (first, second, third)] == [2, 1, 1]
    logged = {e.seq: e.payload for e in SessionEvent.objects.filter(event="chat:added")}
    assert [logged[r["seq"]] for r, _ in (first, second, third)] == [
        r for r, _ in (first, second, third)
    ]
    assert sorted(ChatMessage.objects.values_list("id", flat=True)) == sorted(
        int(r["id"]) for r, _ in (first, second, third)
    )


def test_a_session_that_ended_since_the_writer_read_it_refuses_the_next_line(
    student, active_session
):
    """What the writer knows of a session is checked by the write's guard: the line is
    refused on the session as it is now, and nothing is stored."""
    sid = active_session.session_id
    (first, _), (late, statements) = submitted_in_turn(
        [
            ChatPost(sid, student, "one"),
            lambda: CoachingSession.objects.filter(pk=active_session.pk).update(status="ended"),
            ChatPost(sid, student, "too late"),
        ]
    )
    assert first["seq"] == 1
    assert isinstance(late, ServiceError) and late.code == "session_ended"
    assert statements == 2  # the guarded write (it moved nothing), then a fresh read
    assert list(ChatMessage.objects.values_list("message", flat=True)) == ["one"]


def test_a_coach_who_took_the_session_since_the_writer_read_it_may_chat(
    student, coach, make_user, active_session
):
    """A refusal is never made on what the writer knew: it reads the session afresh."""
    sid = active_session.session_id
    other = make_user(Role.COACH)
    (_, _), (new_coach, _), (old_coach, _) = submitted_in_turn(
        [
            ChatPost(sid, student, "one"),
            lambda: CoachingSession.objects.filter(pk=active_session.pk).update(coach=other),
            ChatPost(sid, other, "I am your coach now"),
            ChatPost(sid, coach, "not any more"),
        ]
    )
    assert new_coach["seq"] == 2
    assert isinstance(old_coach, ServiceError) and old_coach.code == "forbidden"


def test_a_resend_to_a_session_the_writer_knows_is_answered_with_the_stored_message(
    student, active_session
):
    """The write skipped the resend look-up: the unique client_msg_id sends it round
    again, read afresh, and the read finds the stored message."""
    sid = active_session.session_id
    (first, _), (again, statements) = submitted_in_turn(
        [ChatPost(sid, student, "hi", "c1"), ChatPost(sid, student, "hi", "c1")]
    )
    assert again == Resend(first)
    assert statements == 2  # the write the constraint refused, then the read
    assert ChatMessage.objects.count() == 1
