"""Session lifecycle services: create, claim (atomic), control, end — and what they publish."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, transaction

from coaching.errors import ServiceError
from coaching.events import LOBBY_TOPIC
from coaching.models import CoachingSession, Role, SessionEvent
from coaching.services.sessions import session_claim, session_control, session_create
from tests.support.broadcasts import captured_broadcasts


def test_student_creates_a_waiting_session_announced_to_the_lobby(student):
    with captured_broadcasts() as published:
        session, created = session_create(creator=student, title="  Driver  ")
    assert created
    assert (session.status, session.current_step, session.title) == ("waiting", "upload", "Driver")
    assert session.session_id.startswith("sess_") and len(session.session_id) > 20
    assert [(t, e) for t, e, _ in published] == [(LOBBY_TOPIC, "session:waiting")]


def test_service_creates_for_a_student_and_must_name_one(service, student):
    assert session_create(creator=service, student=student)[0].student == student
    with pytest.raises(ServiceError) as info:
        session_create(creator=service)
    # A session for oneself is a student's action: the service account's role refuses it.
    assert info.value.code == "forbidden" and "student_id" in info.value.message


@pytest.mark.parametrize("role", [Role.COACH])
def test_coaches_cannot_create_sessions(make_user, role):
    with pytest.raises(ServiceError) as info:
        session_create(creator=make_user(role))
    assert info.value.code == "forbidden"


def test_claim_activates_and_publishes_state_then_lobby(coach, waiting_session):
    with captured_broadcasts() as published:
        session = session_claim(session_id=waiting_session.session_id, coach=coach)
    assert (session.status, session.coach) == ("active", coach)
    assert [(t, e) for t, e, _ in published] == [
        (waiting_session.topic, "session:state"),
        (LOBBY_TOPIC, "session:claimed"),
    ]
    assert published[0][2]["seq"] == 1
    assert SessionEvent.objects.get(seq=1).payload == published[0][2]


def test_claim_by_the_winner_again_changes_nothing(coach, waiting_session):
    session_claim(session_id=waiting_session.session_id, coach=coach)
    session_claim(session_id=waiting_session.session_id, coach=coach)
    assert SessionEvent.objects.count() == 1


def test_second_coach_gets_already_claimed(make_user, coach, waiting_session):
    session_claim(session_id=waiting_session.session_id, coach=coach)
    with pytest.raises(ServiceError) as info:
        session_claim(session_id=waiting_session.session_id, coach=make_user(Role.COACH))
    assert info.value.code == "already_claimed"


def test_student_cannot_claim(student, waiting_session):
    with pytest.raises(ServiceError) as info:
        session_claim(session_id=waiting_session.session_id, coach=student)
    assert info.value.code == "forbidden"


@pytest.mark.django_db(transaction=True)
def test_two_coaches_claiming_at_the_same_moment_exactly_one_wins(make_user, student):
    coaches = [make_user(Role.COACH), make_user(Role.COACH)]
    for _round in range(10):
        session = CoachingSession.objects.create(student=student)
        barrier = threading.Barrier(2)

        def claim(coach, session_id=session.session_id, barrier=barrier) -> str:
            try:
                barrier.wait()
                session_claim(session_id=session_id, coach=coach)
                return "won"
            except ServiceError as exc:
                return exc.code
            finally:
                connection.close()

        with ThreadPoolExecutor(2) as pool:
            results = sorted(pool.map(claim, coaches))
        assert results == ["already_claimed", "won"]
        session.refresh_from_db()
        assert session.coach in coaches and session.status == "active"
        assert SessionEvent.objects.filter(session=session).count() == 1


def test_control_without_changes_is_ok_and_publishes_nothing(coach, active_session):
    with captured_broadcasts() as published:
        state = session_control(session_id=active_session.session_id, actor=coach, status="active")
    assert state["status"] == "active" and published == []


def test_control_needs_status_or_step(coach, active_session):
    with pytest.raises(ServiceError) as info:
        session_control(session_id=active_session.session_id, actor=coach)
    assert info.value.code == "invalid_input"


def test_end_sets_ended_at_and_tells_the_lobby(coach, active_session):
    with captured_broadcasts() as published:
        session_control(session_id=active_session.session_id, actor=coach, status="ended")
    active_session.refresh_from_db()
    assert active_session.ended_at is not None
    assert [e for _, e, _ in published] == ["session:state", "session:ended"]


def test_a_rolled_back_action_publishes_nothing(coach, active_session):
    with captured_broadcasts() as published:
        with pytest.raises(RuntimeError), transaction.atomic():
            session_control(session_id=active_session.session_id, actor=coach, status="paused")
            raise RuntimeError("boom")
    assert published == []
    active_session.refresh_from_db()
    assert active_session.status == "active"


def test_claim_sets_started_at_in_the_state(coach, waiting_session):
    with captured_broadcasts() as published:
        session = session_claim(session_id=waiting_session.session_id, coach=coach)
    state = published[0][2]
    assert session.started_at is not None
    assert state["started_at"] == int(session.started_at.timestamp() * 1000)
    assert state["created_at"] == int(session.created_at.timestamp() * 1000)
    assert (state["ended_at"], state["step_source"]) == (None, "auto")


def test_state_before_claim_has_no_start_and_no_end(waiting_session):
    from coaching.events import session_state

    state = session_state(waiting_session)
    assert (state["started_at"], state["ended_at"]) == (None, None)


def test_end_puts_ended_at_in_the_state(coach, active_session):
    state = session_control(session_id=active_session.session_id, actor=coach, status="ended")
    active_session.refresh_from_db()
    assert state["ended_at"] == int(active_session.ended_at.timestamp() * 1000)


def test_coach_setting_the_step_makes_it_the_coachs(coach, active_session):
    state = session_control(
        session_id=active_session.session_id, actor=coach, current_step="analysis"
    )
    assert (state["current_step"], state["step_source"]) == ("analysis", "coach")


def test_coach_confirming_the_current_step_also_takes_it_over(coach, active_session):
    with captured_broadcasts() as published:
        state = session_control(
            session_id=active_session.session_id, actor=coach, current_step="upload"
        )
    assert (state["current_step"], state["step_source"]) == ("upload", "coach")
    assert [e for _, e, _ in published] == ["session:state"]


class TestOneWaitingSessionPerStudent:
    @pytest.mark.parametrize("title", ["", "   ", "Driver", " Driver "])
    def test_starting_again_without_a_new_topic_returns_it_unannounced(self, student, title):
        first, created = session_create(creator=student, title="Driver")
        with captured_broadcasts() as published:
            again, created_again = session_create(creator=student, title=title)
        assert (created, created_again) == (True, False)
        assert again.pk == first.pk and again.title == "Driver"
        assert published == []
        assert CoachingSession.objects.filter(student=student).count() == 1

    def test_starting_again_with_a_new_topic_keeps_it_and_tells_the_coaches(self, student):
        """The topic typed the second time is the lesson's topic now: stored, in the answer,
        and in the coaches' waiting list at once (`session:updated`)."""
        first, _ = session_create(creator=student, title="Driver")
        with captured_broadcasts() as published:
            again, created = session_create(creator=student, title="  Irons off the deck ")
        assert (again.pk, created) == (first.pk, False)
        assert again.title == "Irons off the deck"
        first.refresh_from_db()
        assert first.title == "Irons off the deck"
        assert [(topic, event) for topic, event, _ in published] == [
            (LOBBY_TOPIC, "session:updated")
        ]
        entry = published[0][2]
        assert (entry["session_id"], entry["title"], entry["status"]) == (
            first.session_id,
            "Irons off the deck",
            "waiting",
        )
        assert entry["updated_at"] >= entry["created_at"]

    def test_a_topic_given_after_none_becomes_the_topic(self, student, service):
        first, _ = session_create(creator=student)
        again, _ = session_create(creator=service, student=student, title="Putting")
        assert (again.pk, again.title) == (first.pk, "Putting")

    def test_a_topic_given_as_the_lesson_is_claimed_opens_a_new_lesson(self, student, coach):
        """Claimed meanwhile: the student no longer waits, so the topic is a new lesson's,
        and the claimed lesson keeps its own."""
        first, _ = session_create(creator=student, title="Driver")
        session_claim(session_id=first.session_id, coach=coach)
        second, created = session_create(creator=student, title="Irons")
        assert created and second.pk != first.pk and second.title == "Irons"
        first.refresh_from_db()
        assert first.title == "Driver"

    def test_the_service_gets_the_students_waiting_session_too(self, service, student):
        first, _ = session_create(creator=student)
        again, created = session_create(creator=service, student=student)
        assert (again.pk, created) == (first.pk, False)

    def test_a_new_session_once_the_last_one_is_claimed(self, student, coach):
        first, _ = session_create(creator=student)
        session_claim(session_id=first.session_id, coach=coach)
        second, created = session_create(creator=student)
        assert created and second.pk != first.pk

    def test_the_database_refuses_a_second_waiting_session(self, student, waiting_session):
        from django.db import IntegrityError

        with pytest.raises(IntegrityError), transaction.atomic():
            CoachingSession.objects.create(student=student)

    @pytest.mark.django_db(transaction=True)
    def test_two_requests_at_the_same_moment_make_one_session(self, make_user):
        students = [make_user(Role.STUDENT) for _ in range(5)]
        for student in students:
            barrier = threading.Barrier(2)

            def start(_: int, student=student, barrier=barrier) -> tuple[int, bool]:
                try:
                    barrier.wait()
                    session, created = session_create(creator=student)
                    return session.pk, created
                finally:
                    connection.close()

            with ThreadPoolExecutor(2) as pool:
                results = list(pool.map(start, range(2)))
            assert len({pk for pk, _ in results}) == 1
            assert sorted(created for _, created in results) == [False, True]
            assert CoachingSession.objects.filter(student=student).count() == 1
