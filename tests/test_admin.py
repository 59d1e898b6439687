"""Django admin: users with role and name, a read-only picture of sessions, ending sessions."""

import re

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
    log = page[start : page.index("</table>", page.index("</tbody>", start))]
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
    assert "<th>캐리 거리 · 드라이버</th><td>-1.2</td>" in page  # nested values as sub-rows
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


def event_log_of(page: str) -> str:
    return page[page.index('id="event-log"') : page.rindex("</details>")]


def test_session_page_shows_chat_and_feedback_before_the_folded_event_log(
    admin_client, active_session, student, bookmarked_card
):
    chat_message_post(session_id=active_session.session_id, sender=student, text="Hello coach")
    page = admin_client.get(f"{SESSIONS}{active_session.pk}/change/").content.decode()
    chat, feedback = page.index('id="messages-group"'), page.index('id="feedback-group"')
    log = page.index('id="event-log"')
    assert page.index("field-session_id") < chat < feedback < log
    assert '<details class="module inswing-log-box" id="event-log">' in page  # folded
    assert "<h2>이벤트 기록</h2>" in page
    # Chat columns: who and when on one line each (admin.css sizes them to that).
    sender = r'<td class="field-sender_name">\s*<p><span class="inswing-nowrap">Ian</span>'
    assert re.search(sender, page)


def test_event_log_is_paged_newest_first_and_opens_when_paging(
    admin_client, active_session, student
):
    from coaching.admin import EVENT_LOG_ROWS

    for n in range(EVENT_LOG_ROWS + 5):
        chat_message_post(session_id=active_session.session_id, sender=student, text=f"line {n}")
    last = SessionEvent.objects.filter(session=active_session).order_by("-seq")[0].seq
    total = SessionEvent.objects.filter(session=active_session).count()
    url = f"{SESSIONS}{active_session.pk}/change/"

    newest = event_log_of(admin_client.get(url).content.decode())
    seqs = [int(n) for n in re.findall(r'<td class="seq">(\d+)</td>', newest)]
    assert seqs == list(range(last, last - EVENT_LOG_ROWS, -1))
    assert f"전체 {total}개 중 seq {seqs[-1]}~{last}" in newest
    older = f'href="?log_before={seqs[-1]}#event-log"'
    assert older in newest and 'href="?#event-log"' not in newest

    page = admin_client.get(url, {"log_before": seqs[-1]}).content.decode()
    assert '<details class="module inswing-log-box" id="event-log" open>' in page
    rest = event_log_of(page)
    assert [int(n) for n in re.findall(r'<td class="seq">(\d+)</td>', rest)] == list(
        range(seqs[-1] - 1, 0, -1)
    )
    assert 'href="?#event-log"' in rest and "log_before=" not in rest  # no older page

    for nonsense in ("abc", "-3", "0", "²", "9" * 30, str(2**63)):
        page = admin_client.get(url, {"log_before": nonsense}).content.decode()
        assert f'<td class="seq">{last}</td>' in event_log_of(page)


def test_event_log_shows_payload_times_in_the_local_time_zone(
    admin_client, active_session, coach, settings
):
    """`updated_at`, `meta.ts` and the like are epoch ms on the wire, local times here."""
    from coaching.services.sessions import session_control

    settings.TIME_ZONE = "Asia/Seoul"
    session_control(session_id=active_session.session_id, actor=coach, status="paused")
    row = SessionEvent.objects.get(session=active_session, event="session:state")
    row.payload = {**row.payload, "updated_at": 1795834923456, "meta": {"ts": 1795834923000}}
    row.save()
    log = event_log_of(admin_client.get(f"{SESSIONS}{active_session.pk}/change/").content.decode())
    assert '<time data-epoch-ms="1795834923456">2026-11-28 12:02:03.456</time>' in log
    assert '<time data-epoch-ms="1795834923000">2026-11-28 12:02:03.000</time>' in log
    assert "1795834923456</td>" not in log
