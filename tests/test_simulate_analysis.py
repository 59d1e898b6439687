"""`simulate_analysis`: the Node API's part, played through the same services as its hooks."""

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from coaching.models import Feedback, Role, User
from tests.support.broadcasts import captured_broadcasts, events_named


def simulate(session, *args: str) -> None:
    call_command("simulate_analysis", session.session_id, "--delay", "0", *args)


def test_progress_ticks_then_one_feedback_card(active_session, service, capsys):
    with captured_broadcasts() as sent:
        simulate(active_session, "--swing-id", "sw_demo")
    names = [e for _, e, _ in sent]
    assert names.index("ai:feedback") > max(i for i, e in enumerate(names) if e == "swing:progress")
    ticks = events_named(sent, "swing:progress")
    assert [t["percent"] for t in ticks] == sorted(t["percent"] for t in ticks)
    assert (ticks[0]["percent"], ticks[-1]["percent"]) == (0, 100)
    assert {t["swing_id"] for t in ticks} == {"sw_demo"}
    assert all(topic == active_session.topic for topic, _, _ in sent)
    [card] = events_named(sent, "ai:feedback")
    assert card["swing_id"] == "sw_demo"
    assert Feedback.objects.get(session=active_session).swing_id == "sw_demo"
    assert "Sent ai:feedback for sw_demo" in capsys.readouterr().out


def test_acts_as_the_existing_service_account(active_session, service):
    simulate(active_session)
    assert not User.objects.filter(username="simulator").exists()
    assert Feedback.objects.filter(session=active_session).count() == 1


def test_creates_a_simulator_service_account_when_no_active_one_exists(active_session, make_user):
    retired = make_user(Role.SERVICE)
    retired.is_active = False
    retired.save()
    simulate(active_session)
    simulator = User.objects.get(username="simulator")
    assert simulator.role == Role.SERVICE
    assert not simulator.has_usable_password()
    simulate(active_session)  # and reuses it
    assert User.objects.filter(username="simulator").count() == 1


def test_a_random_swing_id_each_run(active_session, service):
    simulate(active_session)
    simulate(active_session)
    assert Feedback.objects.filter(session=active_session).count() == 2


def test_replaying_a_swing_stores_and_sends_its_card_once(active_session, service, capsys):
    simulate(active_session, "--swing-id", "sw_same")
    with captured_broadcasts() as sent:
        simulate(active_session, "--swing-id", "sw_same")
    assert events_named(sent, "ai:feedback") == []
    assert Feedback.objects.filter(session=active_session).count() == 1
    assert "Already stored" in capsys.readouterr().out


def test_unknown_session_is_a_command_error(db, service):
    with pytest.raises(CommandError, match="No such session"):
        call_command("simulate_analysis", "sess_nope", "--delay", "0")


def test_negative_delay_is_refused(active_session):
    with pytest.raises(CommandError, match="negative"):
        simulate(active_session, "--delay", "-1")


def test_overlong_swing_id_is_refused(active_session, service):
    with pytest.raises(CommandError, match="longer than 100"):
        simulate(active_session, "--swing-id", "s" * 101)


def test_warns_when_broadcasts_cannot_leave_the_process(active_session, service, settings, capsys):
    settings.REDIS_URL = ""
    simulate(active_session)
    assert "REDIS_URL is not set" in capsys.readouterr().err


def test_an_open_session_page_sees_the_whole_analysis(connect, active_session, student, service):
    if not settings.REDIS_URL:
        pytest.skip("needs REDIS_URL: the command's broadcasts reach the server only through it")
    with connect(student) as client:
        client.join_ok(active_session.topic)
        simulate(active_session, "--swing-id", "sw_live")
        last = client.event(
            active_session.topic, "swing:progress", where=lambda p: p["percent"] == 100
        )
        assert last["swing_id"] == "sw_live"
        card = client.event(active_session.topic, "ai:feedback")
        assert card["swing_id"] == "sw_live"
