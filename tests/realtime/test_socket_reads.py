"""The socket's hot-path reads (asyncpg from the event loop, a snapshot in one
statement) give what the selectors give REST."""

import asyncio

import asyncpg
import pytest

from coaching import selectors
from coaching.errors import ServiceError
from coaching.models import CoachingSession, Status
from coaching.outage import is_database_down
from coaching.realtime import pg
from coaching.realtime.socket_reads import SocketReads, socket_reads
from coaching.services.analysis import feedback_record
from coaching.services.annotations import annotation_save
from coaching.services.chat import chat_message_post
from coaching.services.checkpoints import checkpoint_save
from coaching.services.sessions import session_end
from coaching.services.swings import swing_attach
from tests.support import reference_reads
from tests.support.broadcasts import captured_broadcasts

pytestmark = pytest.mark.django_db(transaction=True)

LINE = {"kind": "line", "points": [[0.1, 0.1], [0.9, 0.9]]}


def read(call):
    """Run `call(reads)` on a fresh loop, closing the asyncpg pool afterwards."""

    async def run():
        reads = socket_reads()
        try:
            return await call(reads)
        finally:
            await pg.socket_pool().close()

    return asyncio.run(run())


def without_clock(snapshot: dict) -> dict:
    return {key: value for key, value in snapshot.items() if key != "server_time"}


@pytest.fixture
def lesson(student, coach, service, active_session) -> CoachingSession:
    """A session with something of every kind a snapshot holds, more of some than it
    shows (earlier events, feedback cards past the newest twenty)."""
    sid = active_session.session_id
    with captured_broadcasts():
        for n in range(3):
            swing_attach(
                session_id=sid,
                actor=service,
                swing={
                    "swing_id": f"sw_{n}",
                    "video_url": f"/media/{n}.mp4",
                    "fps": 60,
                    "duration_ms": 1800,
                    "key_frames": {"top": 900, "impact": 1200},
                },
            )
        for n in range(selectors.SNAPSHOT_FEEDBACK + 2):
            payload, _ = feedback_record(
                session_id=sid,
                actor=service,
                swing_id=f"card_{n}",
                summary=f"카드 {n}",
                metrics={"face_angle": n + 0.5, "big": 2**70},
                recommendations=["그립을 강하게"],
                level="intermediate",
            )
            if n in (0, selectors.SNAPSHOT_FEEDBACK + 1):  # one card too old, one shown
                checkpoint_save(
                    session_id=sid, coach=coach, feedback_id=int(payload["id"]), note=f"메모 {n}"
                )
        for n in range(selectors.SNAPSHOT_EVENTS):
            sender = student if n % 2 else coach
            chat_message_post(
                session_id=sid, sender=sender, text=f"안녕 {n}", client_msg_id=f"c{n}"
            )
        annotation_save(
            session_id=sid, coach=coach, swing_id="sw_1", time_ms=900, shapes=[LINE], note="탑"
        )
    return CoachingSession.objects.get(pk=active_session.pk)


def test_a_snapshot_is_the_selectors_snapshot(lesson):
    session, snapshot = read(lambda reads: reads.snapshot(lesson.session_id))
    expected = reference_reads.session_snapshot(lesson)
    assert without_clock(snapshot) == without_clock(expected)
    assert snapshot["has_more_before"] is True
    assert len(snapshot["messages"]) == selectors.SNAPSHOT_MESSAGES
    assert len(snapshot["checkpoints"]) == 1  # the other bookmarks a card not shown
    assert (session.pk, session.last_seq) == (lesson.pk, expected["last_seq"])


def test_an_ended_lesson_comes_with_its_recap(lesson, coach):
    with captured_broadcasts():
        session_end(session_id=lesson.session_id, actor=coach)
    _, snapshot = read(lambda reads: reads.snapshot(lesson.session_id))
    ended = CoachingSession.objects.get(pk=lesson.pk)
    assert ended.status == Status.ENDED
    expected = reference_reads.session_snapshot(ended)
    assert snapshot["recap"]["practice"] == ["그립을 강하게"]
    assert without_clock(snapshot)["recap"] == {
        **expected["recap"],
        "duration_ms": snapshot["recap"]["duration_ms"],
    }


def test_a_new_session_has_an_empty_snapshot(waiting_session):
    _, snapshot = read(lambda reads: reads.snapshot(waiting_session.session_id))
    assert without_clock(snapshot) == without_clock(
        reference_reads.session_snapshot(waiting_session)
    )
    assert snapshot["session"]["coach"] is None and snapshot["messages"] == []


def test_an_unknown_session_is_not_found(db):
    with pytest.raises(ServiceError) as raised:
        read(lambda reads: reads.snapshot("sess_nope"))
    assert raised.value.code == "not_found"


def test_events_after_are_the_selectors_events(lesson):
    for seq in (0, 10, lesson.last_seq - 1, lesson.last_seq):
        expected = reference_reads.events_after(lesson, seq)
        assert read(lambda reads, seq=seq: reads.events_after(lesson.session_id, seq)) == expected


def test_too_many_events_after_is_none(monkeypatch, lesson):
    monkeypatch.setattr(selectors, "MAX_REPLAY", 5)
    assert read(lambda reads: reads.events_after(lesson.session_id, lesson.last_seq - 5))
    assert read(lambda reads: reads.events_after(lesson.session_id, lesson.last_seq - 6)) is None


def test_the_user_at_connect_is_active_only(student, coach):
    assert read(lambda reads: reads.active_user(student.pk)) == student
    loaded = read(lambda reads: reads.active_user(student.pk))
    assert (loaded.display_name, loaded.token_generation, loaded.role) == (
        student.display_name,
        student.token_generation,
        student.role,
    )
    coach.is_active = False
    coach.save()
    assert read(lambda reads: reads.active_user(coach.pk)) is None
    assert read(lambda reads: reads.active_user(10**9)) is None


def together(calls: list, monkeypatch) -> tuple[list, int]:
    """Run the coroutine functions `calls(pool)` at once on a fresh loop: their outcomes
    (an exception as itself) and how many statements the socket's pool ran."""
    statements = []

    async def run() -> list:
        pool = pg.socket_pool()
        fetch = pool.fetch

        async def counted(sql, *args):
            statements.append(args)
            return await fetch(sql, *args)

        monkeypatch.setattr(pool, "fetch", counted)
        try:
            return await asyncio.gather(*(call(pool) for call in calls), return_exceptions=True)
        finally:
            await pool.close()

    outcomes = asyncio.run(run())
    return outcomes, len(statements)


def test_the_users_of_connects_that_come_together_are_read_in_one_statement(
    student, coach, monkeypatch
):
    coach.is_active = False
    coach.save()
    reads = SocketReads(pg.socket_pool())
    asked = [student.pk, coach.pk, student.pk, 10**9, 2**70]
    users, statements = together(
        [lambda _, user_id=user_id: reads.active_user(user_id) for user_id in asked], monkeypatch
    )
    assert users == [student, None, student, None, None]
    assert users[0] is not users[2]  # each socket gets its own instance
    assert statements == 1


def test_the_snapshots_of_joins_that_come_together_are_read_in_one_statement(
    lesson, student, coach, monkeypatch
):
    other = CoachingSession.objects.create(student=student, coach=coach, status="active")
    reads = SocketReads(pg.socket_pool())
    asked = [lesson.session_id, other.session_id, "sess_gone", lesson.session_id]
    (one, two, gone, again), statements = together(
        [lambda _, sid=sid: reads.snapshot(sid) for sid in asked], monkeypatch
    )
    assert statements == 1
    alone = read(lambda reads: reads.snapshot(lesson.session_id))
    assert without_clock(one[1]) == without_clock(alone[1]) == without_clock(again[1])
    assert one[1] is not again[1]  # each join its own
    assert two[0].pk == other.pk and two[1]["last_seq"] == 0
    assert isinstance(gone, ServiceError) and gone.code == "not_found"


def test_a_database_it_cannot_reach_counts_as_down(monkeypatch, active_session):
    monkeypatch.setattr(
        pg, "connection_params", lambda: {"host": "127.0.0.1", "port": 1, "database": "x"}
    )
    with pytest.raises(Exception) as raised:
        asyncio.run(SocketReads(pg.LoopPool(1)).snapshot(active_session.session_id))
    assert is_database_down(raised.value)

    async def connects() -> list:
        reads = SocketReads(pg.LoopPool(1))
        return await asyncio.gather(*(reads.active_user(n) for n in (1, 2)), return_exceptions=True)

    assert [is_database_down(outcome) for outcome in asyncio.run(connects())] == [True, True]


def test_reads_carry_on_after_the_server_ends_their_connection(lesson):
    """A restart or failover ends the pool's connection: at most the read in flight
    counts as the database being down (the client is told `unavailable` and retries),
    and the next one reconnects."""
    sid = lesson.session_id

    async def run() -> list:
        pool = pg.LoopPool(1)
        reads = SocketReads(pool)
        outcomes = [(await reads.snapshot(sid))[1]["last_seq"]]
        async with (await pool._connected()).acquire() as conn:
            pid = conn.get_server_pid()
        admin = await asyncpg.connect(**pg.connection_params())
        try:
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
        finally:
            await admin.close()
        for _ in range(2):
            try:
                outcomes.append((await reads.snapshot(sid))[1]["last_seq"])
            except Exception as exc:
                outcomes.append("down" if is_database_down(exc) else repr(exc))
        await pool.close()
        return outcomes

    first, after, again = asyncio.run(run())
    assert first == lesson.last_seq
    assert after in (lesson.last_seq, "down")
    assert again == lesson.last_seq
