"""Operator commands: create_user (as the contract gives it) and seed_demo."""

from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from coaching.management.commands.seed_demo import DEMO_SWING
from coaching.models import CoachingSession, SessionEvent, Swing, User


@pytest.fixture(autouse=True)
def fast_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_create_user_with_role_name_and_password(db, capsys):
    call_command(
        "create_user", "ian", "--role", "coach", "--name", "IanPro", "--password", "pw-12345"
    )
    user = User.objects.get(username="ian")
    assert (user.role, user.name, user.is_staff) == ("coach", "IanPro", False)
    assert user.check_password("pw-12345")
    assert "Created coach 'ian'" in capsys.readouterr().out


def test_create_user_staff_makes_an_admin(db):
    call_command("create_user", "boss", "--role", "student", "--password", "pw-12345", "--staff")
    user = User.objects.get(username="boss")
    assert user.is_staff and user.is_superuser and user.public_role == "admin"


def test_create_user_refuses_an_existing_username(db):
    call_command("create_user", "ian", "--role", "student", "--password", "pw-12345")
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_user", "ian", "--role", "student", "--password", "other-pw")


def test_create_user_refuses_an_unknown_role(db):
    with pytest.raises(CommandError):
        call_command("create_user", "x", "--role", "wizard", "--password", "pw-12345")


def test_seed_demo_is_idempotent_and_prints_credentials(db, capsys):
    call_command("seed_demo")
    call_command("seed_demo")
    out = capsys.readouterr().out
    assert "coach / coach-pass" in out and "student / student-pass" in out
    assert User.objects.filter(username__in=["student", "coach", "node-api", "admin"]).count() == 4
    assert CoachingSession.objects.filter(status="waiting").count() == 1
    assert User.objects.get(username="coach").check_password("coach-pass")
    assert User.objects.get(username="node-api").role == "service"


def test_seed_demo_attaches_the_demo_swing_once(db):
    call_command("seed_demo")
    call_command("seed_demo")
    session = CoachingSession.objects.get(status="waiting")
    [swing] = Swing.objects.filter(session=session)
    assert swing.video_url == DEMO_SWING["video_url"] == "/static/demo/swing-demo.mp4"
    assert swing.key_frames == {"address": 300, "top": 1500, "impact": 1800, "finish": 2500}
    assert SessionEvent.objects.filter(session=session, event="swing:added").count() == 1


def test_the_demo_clip_is_shipped_small(db):
    static = Path(settings.BASE_DIR) / "static"
    for url in (DEMO_SWING["video_url"], DEMO_SWING["poster_url"]):
        shipped = static / url.removeprefix("/static/")
        assert shipped.is_file(), shipped
        assert shipped.stat().st_size <= 1_000_000
