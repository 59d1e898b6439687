"""The step follows the analysis events unless the coach has set it."""

from coaching.models import CoachingSession
from coaching.services.analysis import feedback_record, progress_post
from coaching.services.sessions import session_control
from tests.support.broadcasts import captured_broadcasts, events_named


def tick(session: CoachingSession, service, swing_id: str = "sw_1", percent: int = 40) -> None:
    progress_post(
        session_id=session.session_id,
        actor=service,
        swing_id=swing_id,
        percent=percent,
        step="club_tracking",
    )


def card(session: CoachingSession, service, swing_id: str = "sw_1") -> None:
    feedback_record(
        session_id=session.session_id,
        actor=service,
        swing_id=swing_id,
        summary="Open face.",
        metrics={},
        recommendations=[],
    )


def step_of(session: CoachingSession) -> tuple[str, str]:
    session.refresh_from_db()
    return session.current_step, session.step_source


def test_progress_moves_the_step_to_analysis_and_tells_everyone(service, active_session):
    with captured_broadcasts() as sent:
        tick(active_session, service)
    assert step_of(active_session) == ("analysis", "auto")
    [state] = events_named(sent, "session:state")
    assert (state["current_step"], state["step_source"]) == ("analysis", "auto")


def test_feedback_moves_the_step_to_feedback(service, active_session):
    tick(active_session, service)
    with captured_broadcasts() as sent:
        card(active_session, service)
    assert step_of(active_session) == ("feedback", "auto")
    assert [s["current_step"] for s in events_named(sent, "session:state")] == ["feedback"]


def test_a_late_tick_of_an_analysed_swing_does_not_move_the_step_back(service, active_session):
    card(active_session, service)
    tick(active_session, service, percent=100)
    assert step_of(active_session) == ("feedback", "auto")


def test_the_next_swing_moves_the_step_back_to_analysis(service, active_session):
    card(active_session, service)
    tick(active_session, service, swing_id="sw_2")
    assert step_of(active_session) == ("analysis", "auto")


def test_a_tick_in_the_same_step_publishes_no_state(service, active_session):
    tick(active_session, service)
    with captured_broadcasts() as sent:
        tick(active_session, service, percent=60)
    assert events_named(sent, "session:state") == []


def test_the_coachs_step_stays_whatever_the_analysis_does(service, coach, active_session):
    session_control(session_id=active_session.session_id, actor=coach, current_step="upload")
    with captured_broadcasts() as sent:
        tick(active_session, service)
        card(active_session, service)
    assert step_of(active_session) == ("upload", "coach")
    assert events_named(sent, "session:state") == []


def test_an_ended_session_keeps_its_step(service, coach, active_session):
    session_control(session_id=active_session.session_id, actor=coach, status="ended")
    card(active_session, service)
    assert step_of(active_session) == ("upload", "auto")


def test_a_card_for_a_waiting_session_refreshes_its_lobby_entry(service, waiting_session):
    from coaching.events import LOBBY_TOPIC

    with captured_broadcasts() as sent:
        card(waiting_session, service)
    [(topic, entry)] = [(t, p) for t, e, p in sent if e == "session:updated"]
    assert topic == LOBBY_TOPIC
    assert entry["swing_summary"]["summary"] == "Open face."


def test_a_card_for_an_active_session_leaves_the_lobby_alone(service, active_session):
    with captured_broadcasts() as sent:
        card(active_session, service)
    assert [e for _, e, _ in sent if e.startswith("session:") and e != "session:state"] == []
