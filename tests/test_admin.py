"""Django admin: users with role and name, a read-only picture of sessions, ending sessions."""

import pytest
from django.conf import settings
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission
from django.test import Client

from coaching.events import LOBBY_TOPIC
from coaching.models import CoachingSession, Role, SessionEvent, Status, User
from coaching.services.annotations import annotation_save
from coaching.services.chat import chat_message_post
from coaching.services.checkpoints import checkpoint_save
from coaching.services.notices import notice_post
from coaching.services.swings import swing_attach
from tests.support.broadcasts import captured_broadcasts, events_named

SESSIONS = "/admin/coaching/coachingsession/"


@pytest.fixture
def admin_client(admin_user) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


@pytest.fixture
def bookmarked_card(feedback_card, active_session, coach) -> dict:
    """The active session's feedback card, bookmarked by its coach."""
    checkpoint_save(
        session_id=active_session.session_id,
        coach=coach,
        feedback_id=int(feedback_card["id"]),
        note="Key",
    )
    return feedback_card


def end_via_admin(client: Client, *sessions: CoachingSession):
    return client.post(
        SESSIONS,
        {"action": "end_sessions", ACTION_CHECKBOX_NAME: [s.pk for s in sessions], "index": 0},
        follow=True,
    )


def test_user_list_shows_role_and_name_and_filters_by_role(admin_client, coach, student):
    page = admin_client.get("/admin/coaching/user/?role=coach").content.decode()
    assert "IanPro" in page
    assert coach.username in page
    assert student.username not in page


def test_admin_creates_a_user_with_role_and_name(admin_client):
    response = admin_client.post(
        "/admin/coaching/user/add/",
        {
            "username": "newcoach",
            "name": "New Pro",
            "role": "coach",
            "usable_password": "true",
            "password1": "a-long-pass-123",
            "password2": "a-long-pass-123",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    user = User.objects.get(username="newcoach")
    assert (user.role, user.name) == (Role.COACH, "New Pro")


def test_session_list_filters_by_status_and_coach(admin_client, active_session, waiting_session):
    page = admin_client.get(f"{SESSIONS}?status=waiting").content.decode()
    assert waiting_session.session_id in page
    assert active_session.session_id not in page
    page = admin_client.get(f"{SESSIONS}?coach__id__exact={active_session.coach_id}").content
    assert active_session.session_id in page.decode()
    assert waiting_session.session_id not in page.decode()


@pytest.mark.parametrize("query", ["session_id", "student_username", "student_name"])
def test_session_search_by_id_or_student(admin_client, active_session, make_user, query):
    other = CoachingSession.objects.create(student=make_user(name="Zed Zulu"))
    term = {
        "session_id": active_session.session_id,
        "student_username": active_session.student.username,
        "student_name": "Ian",
    }[query]
    page = admin_client.get(SESSIONS, {"q": term}).content.decode()
    assert active_session.session_id in page
    assert other.session_id not in page


def test_session_page_shows_chat_feedback_and_event_log_read_only(
    admin_client, active_session, student, service, bookmarked_card
):
    chat_message_post(session_id=active_session.session_id, sender=student, text="Hello coach")
    notice_post(session_id=active_session.session_id, actor=service, text="Servers are busy")
    response = admin_client.get(f"{SESSIONS}{active_session.pk}/change/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Hello coach" in page  # chat inline
    assert "sw_1" in page  # feedback inline
    assert "system:notice" in page and "Servers are busy" in page  # event log inline
    assert 'name="_save"' not in page  # nothing here is edited by hand


def test_sessions_are_not_added_in_the_admin(admin_client):
    assert admin_client.get(f"{SESSIONS}add/").status_code == 403


def test_admin_action_ends_sessions_through_the_service(
    admin_client, active_session, waiting_session
):
    with captured_broadcasts() as sent:
        response = end_via_admin(admin_client, active_session, waiting_session)
    assert "세션 2개를 종료했습니다." in response.content.decode()
    for session in (active_session, waiting_session):
        session.refresh_from_db()
        assert session.status == Status.ENDED
        assert session.ended_at is not None
    states = events_named(sent, "session:state")
    assert {s["session_id"] for s in states} == {
        active_session.session_id,
        waiting_session.session_id,
    }
    assert {t for t, e, _ in sent if e == "session:ended"} == {LOBBY_TOPIC}


def test_ending_already_ended_sessions_changes_nothing(admin_client, student):
    ended = CoachingSession.objects.create(student=student, status=Status.ENDED)
    with captured_broadcasts() as sent:
        end_via_admin(admin_client, ended)
    assert sent == []


def test_staff_with_view_permission_may_end_sessions(make_user, active_session):
    staff = make_user(Role.STUDENT, name="Ops")
    staff.is_staff = True
    staff.save()
    staff.user_permissions.add(Permission.objects.get(codename="view_coachingsession"))
    client = Client()
    client.force_login(staff)
    end_via_admin(client, active_session)
    active_session.refresh_from_db()
    assert active_session.status == Status.ENDED


def test_non_staff_cannot_reach_the_admin(coach, active_session):
    client = Client()
    client.force_login(coach)
    response = end_via_admin(client, active_session)
    assert response.redirect_chain[-1][0].startswith("/admin/login/")
    active_session.refresh_from_db()
    assert active_session.status == Status.ACTIVE


@pytest.mark.parametrize("path", ["feedback", "checkpoint"])
def test_feedback_and_checkpoints_are_listed(admin_client, active_session, bookmarked_card, path):
    response = admin_client.get(f"/admin/coaching/{path}/", {"q": "sw_1"})
    assert response.status_code == 200
    assert active_session.session_id in response.content.decode()


def test_ending_from_the_admin_reaches_connected_sockets(
    connect, admin_user, active_session, student
):
    if not settings.REDIS_URL:
        pytest.skip("needs REDIS_URL: the admin's broadcasts reach the server only through it")
    client = Client()
    client.force_login(admin_user)
    with connect(student) as socket:
        socket.join_ok(active_session.topic)
        end_via_admin(client, active_session)
        state = socket.event(active_session.topic, "session:state")
        assert state["status"] == "ended"


@pytest.mark.parametrize("path", ["swing", "annotation"])
def test_swings_and_annotations_are_listed_read_only(
    admin_client, service, coach, active_session, path
):
    swing_attach(
        session_id=active_session.session_id,
        actor=service,
        swing={"swing_id": "sw_1", "video_url": "/media/a.mp4"},
    )
    annotation_save(
        session_id=active_session.session_id,
        coach=coach,
        swing_id="sw_1",
        time_ms=0,
        shapes=[],
        note="Look here",
    )
    response = admin_client.get(f"/admin/coaching/{path}/", {"q": "sw_1"})
    assert response.status_code == 200
    assert active_session.session_id in response.content.decode()
    assert admin_client.get(f"/admin/coaching/{path}/add/").status_code == 403


def test_event_log_is_a_table_with_long_values_shortened(admin_client, active_session, student):
    long_line = "x" * 1500
    chat_message_post(session_id=active_session.session_id, sender=student, text=long_line)
    page = admin_client.get(f"{SESSIONS}{active_session.pk}/change/").content.decode()
    assert 'class="inswing-log"' in page
    assert "<th>message</th>" in page  # the payload as key/value rows, not a JSON blob
    start = page.index('class="inswing-log"')
    log = page[start : page.index("inline-group", start)]  # the chat inline shows it whole
    assert long_line not in log and "x" * 299 + "…" in log
    assert "coaching/admin.css" in page


def test_times_are_shown_in_the_local_time_zone(admin_client, active_session, service):
    from datetime import UTC, datetime

    from django.test import override_settings

    notice_post(session_id=active_session.session_id, actor=service, text="Servers are busy")
    SessionEvent.objects.filter(session=active_session).update(
        created_at=datetime(2026, 11, 28, 1, 2, 3, tzinfo=UTC)
    )
    with override_settings(TIME_ZONE="Asia/Seoul"):
        page = admin_client.get(f"{SESSIONS}{active_session.pk}/change/").content.decode()
    assert "2026-11-28 10:02:03" in page


def test_feedback_page_renders_metrics_as_a_table_from_the_catalog(
    admin_client, active_session, service
):
    from coaching.services.analysis import feedback_record

    card, _ = feedback_record(
        session_id=active_session.session_id,
        actor=service,
        swing_id="sw_m",
        summary="Open face.",
        metrics={"tempo_ratio": 3.14159, "face_angle": 5.2, "carry": {"driver": -1.2}},
        recommendations=["Grip stronger."],
        level="intermediate",
    )
    page = admin_client.get(f"/admin/coaching/feedback/{card['id']}/change/").content.decode()
    assert "<th>페이스 각도</th><td>5.2°</td><td>-2.0~2.0°</td>" in page
    assert "<th>템포 비율</th><td>3.14:1</td>" in page
    assert "<th>캐리 거리 · Driver</th><td>-1.2</td>" in page  # nested values as sub-rows
    assert page.index("페이스 각도") < page.index("템포 비율")  # catalog order
    assert '{"driver"' not in page
    assert "중급 (Intermediate)" in page
    assert "<li>Grip stronger.</li>" in page


def test_admin_tables_speak_the_viewers_language(admin_client, active_session, service):
    from coaching.services.analysis import feedback_record

    card, _ = feedback_record(
        session_id=active_session.session_id,
        actor=service,
        swing_id="sw_l",
        summary="Open face.",
        metrics={"face_angle": 5.2},
        recommendations=[],
        level="",
    )
    url = f"/admin/coaching/feedback/{card['id']}/change/"
    korean = admin_client.get(url).content.decode()
    english = admin_client.get(url, headers={"accept-language": "en"}).content.decode()
    assert "<th>지표</th>" in korean and "범위 안이 가장 좋음" in korean
    assert "<th>metric</th>" in english and "best within the range" in english
    assert "<th>Face angle</th>" in english  # the catalog's English label
