"""Django admin: users with role and name, a read-only picture of sessions, ending sessions;
the operator tools (closing a user's sockets, who is connected now, End lesson)."""

import re
import time
from unittest import mock

import pytest
from django.conf import settings
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission
from django.test import Client, override_settings

from coaching.events import LOBBY_TOPIC
from coaching.models import (
    CallRecording,
    CoachingSession,
    RecordingConsent,
    ReviewRecord,
    Role,
    SessionEvent,
    Status,
    User,
)
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


def test_session_page_counts_the_recorded_review(admin_client, active_session, coach):
    by = {"id": str(coach.pk), "name": coach.display_name}
    for at_ms in (1, 2, 3):
        ReviewRecord.objects.create(
            session=active_session, at_ms=at_ms, kind="clear", swing_id="sw_1", body={"by": by}
        )
    response = admin_client.get(f"{SESSIONS}{active_session.pk}/change/")
    fields = {
        field.field["name"]: field
        for fieldset in response.context["adminform"]
        for line in fieldset
        for field in line
    }
    assert fields["review_rows"].contents() == "3"


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


def staff_client(make_user, codename: str) -> Client:
    """Logged in as staff (not a superuser) granted only the permission `codename`."""
    staff = make_user(Role.STUDENT, name="Ops")
    staff.is_staff = True
    staff.save()
    staff.user_permissions.add(Permission.objects.get(codename=codename))
    client = Client()
    client.force_login(staff)
    return client


def test_staff_with_view_permission_may_end_sessions(make_user, active_session):
    end_via_admin(staff_client(make_user, "view_coachingsession"), active_session)
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


# -- Operator tools: close a user's sockets; who is connected to a session; End lesson --

USERS = "/admin/coaching/user/"


def staff_with(make_user, *codenames: str) -> Client:
    """A client of a staff user (not a superuser) holding just these permissions."""
    staff = make_user(Role.STUDENT, name="Ops")
    staff.is_staff = True
    staff.save()
    staff.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(staff)
    return client


def wait_listed(topic: str, user: User, sockets: int) -> None:
    """Until presence (Redis, shared with the server process) lists `user`'s `sockets`
    connections to `topic`: a join's entry is written just after its reply."""
    from coaching.admin import presence_now

    deadline = time.monotonic() + 5
    while True:
        metas = presence_now([topic])[topic].get(str(user.pk), {}).get("metas", [])
        if len(metas) == sockets:
            return
        assert time.monotonic() < deadline, f"presence lists {len(metas)} of {sockets}"
        time.sleep(0.02)


def test_user_page_offers_closing_the_users_sockets_behind_a_confirm_page(admin_client, student):
    page = admin_client.get(f"{USERS}{student.pk}/change/").content.decode()
    url = f"{USERS}{student.pk}/close-sockets/"
    assert f'<a href="{url}">이 사용자의 소켓 닫기</a>' in page
    with captured_broadcasts() as sent:
        confirm = admin_client.get(url)
    assert sent == []  # a GET only asks
    page = confirm.content.decode()
    assert confirm.status_code == 200
    assert f"모든 서버 프로세스에서 {student.username}의 소켓을 지금 모두 닫을까요?" in page
    assert "지금 레슨 연결 0개가 열려 있습니다." in page
    assert re.search(r'<form method="post"><input type="hidden" name="csrfmiddlewaretoken"', page)
    assert 'value="예, 소켓을 닫습니다"' in page


def test_closing_a_users_sockets_ends_their_access_and_logs_who_did_it(
    admin_client, admin_user, student, coach
):
    from django.contrib.admin.models import LogEntry

    with captured_broadcasts() as sent:
        response = admin_client.post(f"{USERS}{student.pk}/close-sockets/", follow=True)
    assert response.redirect_chain[-1][0] == f"{USERS}{student.pk}/change/"
    assert (
        f"모든 서버 프로세스에서 {student.username}의 소켓을 모두 닫는 중입니다(레슨 연결 0개가"
        in response.content.decode()
    )
    # The one path that closes a user's sockets: a `disconnect` on their own topic,
    # which every process's sockets of theirs listen to; their tokens are void too.
    assert sent == [(f"user_socket:{student.pk}", "disconnect", {"reason": "closed_by_admin"})]
    student.refresh_from_db()
    coach.refresh_from_db()
    assert (student.token_generation, coach.token_generation) == (1, 0)
    entry = LogEntry.objects.get(object_id=str(student.pk))
    assert entry.user_id == admin_user.pk
    assert entry.change_message == "모든 서버 프로세스에서 이 사용자의 소켓을 닫았습니다."


def test_operator_tools_refuse_a_post_without_the_csrf_token(admin_user, student, active_session):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    with captured_broadcasts() as sent:
        assert client.post(f"{USERS}{student.pk}/close-sockets/").status_code == 403
        assert client.post(f"{SESSIONS}{active_session.pk}/end/").status_code == 403
    assert sent == []
    active_session.refresh_from_db()
    assert active_session.status == Status.ACTIVE
    # With the token from the confirm page, the same POST goes through.
    page = client.get(f"{SESSIONS}{active_session.pk}/end/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    response = client.post(f"{SESSIONS}{active_session.pk}/end/", {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    active_session.refresh_from_db()
    assert active_session.status == Status.ENDED


def test_closing_from_the_admin_closes_the_users_open_sockets(
    connect, admin_user, student, coach, active_session
):
    client = Client()
    client.force_login(admin_user)
    first, second, other = connect(student), connect(student), connect(coach)
    for socket in (first, second, other):
        socket.join_ok(active_session.topic)
    wait_listed(active_session.topic, student, 2)
    page = client.get(f"{USERS}{student.pk}/close-sockets/").content.decode()
    assert "지금 레슨 연결 2개가 열려 있습니다." in page
    response = client.post(f"{USERS}{student.pk}/close-sockets/", follow=True)
    assert "(레슨 연결 2개가 열려 있었습니다)" in response.content.decode()
    assert first.wait_closed(5) == (4001, "closed_by_admin")
    assert second.wait_closed(5) == (4001, "closed_by_admin")
    assert other.heartbeat()["status"] == "ok"  # the coach's socket stays


def cells(row: str) -> list[str]:
    return re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)


def connected_panel(page: str) -> str:
    start = page.index('id="connected-now"')
    return page[start : page.index("</fieldset>", start)]


def test_session_page_lists_who_is_connected_now_from_presence(
    connect, admin_user, student, coach, active_session
):
    client = Client()
    client.force_login(admin_user)
    url = f"{SESSIONS}{active_session.pk}/change/"
    assert "접속한 사람이 없습니다." in connected_panel(client.get(url).content.decode())
    sockets = [connect(student), connect(student), connect(coach)]
    for socket in sockets:
        socket.join_ok(active_session.topic)
    wait_listed(active_session.topic, student, 2)
    wait_listed(active_session.topic, coach, 1)
    panel = connected_panel(client.get(url).content.decode())
    rows = {
        user_id: cells
        for user_id, cells in re.findall(r'<tr data-user-id="(\d+)">(.*?)</tr>', panel, re.S)
    }
    assert set(rows) == {str(student.pk), str(coach.pk)}
    name, role, since, connection, count = cells(rows[str(student.pk)])
    assert (name, role, connection, count) == ("Ian", "학생", "정상", "2")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", since)
    name, role, _, connection, count = cells(rows[str(coach.pk)])
    assert (name, role, connection, count) == ("IanPro", "코치", "정상", "1")
    # Seen by the page's order too: the session's fields, who is connected, then the chat.
    page = client.get(url).content.decode()
    assert page.index("field-session_id") < page.index("connected-now")
    assert page.index("connected-now") < page.index('id="messages-group"')


def test_connected_now_shows_a_lost_connection_and_since_when(active_session, student):
    from coaching.admin import Connected, connected_now

    ms = 1795834923000  # 2026-11-28 12:02:03 in Seoul
    meta = {"name": "Ian", "role": "student", "online_at": ms, "connection": "lost"}
    state = {
        str(student.pk): {
            "metas": [
                {**meta, "phx_ref": "a", "lost_at": ms + 5000},
                {**meta, "phx_ref": "b", "online_at": ms + 1000, "lost_at": ms + 9000},
            ]
        }
    }
    with (
        mock.patch("coaching.admin.presence_now", return_value={active_session.topic: state}),
        override_settings(TIME_ZONE="Asia/Seoul"),
    ):
        rows = connected_now(active_session)
        since, lost = "2026-11-28 12:02:03", "2026-11-28 12:02:12"
        assert rows == [Connected(str(student.pk), "Ian", "학생", since, lost, 2)]
        # One connection still ok: the user counts as connected.
        state[str(student.pk)]["metas"][1]["connection"] = "ok"
        assert connected_now(active_session)[0].lost_since is None


def test_session_page_says_when_presence_cannot_be_read(admin_client, active_session):
    from coaching.realtime.presence import RedisPresence
    from tests.support.servers import free_port

    unreachable = RedisPresence(f"redis://127.0.0.1:{free_port()}/0", "down", 5, 15)
    with mock.patch("coaching.admin.get_presence", return_value=unreachable):
        response = admin_client.get(f"{SESSIONS}{active_session.pk}/change/")
    assert response.status_code == 200
    assert "접속자를 읽지 못했습니다(Redis가 응답하지 않음)" in connected_panel(
        response.content.decode()
    )


def test_session_page_offers_end_lesson_until_it_has_ended(admin_client, active_session):
    end_url = f"{SESSIONS}{active_session.pk}/end/"
    page = admin_client.get(f"{SESSIONS}{active_session.pk}/change/").content.decode()
    assert f'<a href="{end_url}">레슨 종료</a>' in page
    confirm = admin_client.get(end_url).content.decode()
    assert f"레슨 {active_session.session_id}을(를) 지금 종료할까요?" in confirm
    assert 'id="connected-now"' in confirm and 'value="예, 레슨을 종료합니다"' in confirm

    active_session.status = Status.ENDED
    active_session.save()
    page = admin_client.get(f"{SESSIONS}{active_session.pk}/change/").content.decode()
    assert end_url not in page
    assert '<span class="inswing-tool-disabled" aria-disabled="true">레슨 종료</span>' in page
    confirm = admin_client.get(end_url).content.decode()
    assert "이미 종료된 레슨입니다." in confirm and "예, 레슨을 종료합니다" not in confirm


def test_end_lesson_ends_it_through_the_service_and_logs_who_did(
    admin_client, admin_user, active_session
):
    from django.contrib.admin.models import LogEntry

    with captured_broadcasts() as sent:
        response = admin_client.post(f"{SESSIONS}{active_session.pk}/end/", follow=True)
    assert response.redirect_chain[-1][0] == f"{SESSIONS}{active_session.pk}/change/"
    assert "레슨을 종료했습니다. 접속한 모든 사람에게 전달되었습니다." in response.content.decode()
    active_session.refresh_from_db()
    assert active_session.status == Status.ENDED and active_session.ended_at is not None
    # The same events as when the coach ends it: the state (logged, with its seq) and the lobby's.
    (state,) = events_named(sent, "session:state")
    assert (state["status"], state["seq"]) == ("ended", active_session.last_seq)
    assert [t for t, e, _ in sent if e == "session:ended"] == [LOBBY_TOPIC]
    entry = LogEntry.objects.get(object_id=str(active_session.pk))
    assert (entry.user_id, entry.change_message) == (admin_user.pk, "레슨을 종료했습니다.")

    with captured_broadcasts() as sent:
        again = admin_client.post(f"{SESSIONS}{active_session.pk}/end/", follow=True)
    assert sent == []
    assert "이미 종료된 레슨입니다." in again.content.decode()


@pytest.mark.parametrize(
    "tool, denied, allowed",
    [
        # Closing a user's sockets ends their access: a change of the user.
        ("close-sockets", ["view_user"], ["view_user", "change_user"]),
        # Ending a lesson: staff who see sessions (the policy lets staff end any).
        ("end", ["view_user"], ["view_coachingsession"]),
    ],
)
def test_operator_tools_are_for_the_staff_they_allow(
    make_user, student, active_session, tool, denied, allowed
):
    page = f"{USERS}{student.pk}/change/" if tool == "close-sockets" else None
    page = page or f"{SESSIONS}{active_session.pk}/change/"
    url = page.replace("/change/", f"/{tool}/")

    def done() -> bool:
        student.refresh_from_db()
        active_session.refresh_from_db()
        return student.token_generation == 1 or active_session.status == Status.ENDED

    refused = staff_with(make_user, *denied)
    non_staff = Client()
    non_staff.force_login(make_user(Role.COACH))
    with captured_broadcasts() as sent:
        assert url not in refused.get(page).content.decode()
        assert refused.get(url).status_code == 403
        assert refused.post(url).status_code == 403
        assert non_staff.post(url).url.startswith("/admin/login/")
    assert sent == [] and not done()
    permitted = staff_with(make_user, *allowed)
    assert f'<a href="{url}">' in permitted.get(page).content.decode()
    assert permitted.post(url).status_code == 302
    assert done()


RECORDINGS = "/admin/coaching/callrecording/"


def recorded_lesson(session: CoachingSession, coach: User, media) -> list[CallRecording]:
    """Two recordings of `session`'s call, each with a file under `media`."""
    made = []
    for n in range(2):
        name = f"recordings/{session.session_id}/r{n}.webm"
        (media / name).parent.mkdir(parents=True, exist_ok=True)
        (media / name).write_bytes(b"webm")
        made.append(
            CallRecording.objects.create(
                session=session, started_by=coach, started_ms=n, audio_name=name, finished=True
            )
        )
    return made


def test_recordings_and_consents_are_listed_read_only(
    admin_client, settings, tmp_path, student, coach, active_session
):
    settings.MEDIA_ROOT = tmp_path
    recording = recorded_lesson(active_session, coach, tmp_path)[0]
    RecordingConsent.objects.create(session=active_session, user=student, consented=True)
    for path in (RECORDINGS, "/admin/coaching/recordingconsent/"):
        page = admin_client.get(path, {"q": active_session.session_id})
        assert page.status_code == 200
        assert active_session.session_id in page.content.decode()
        assert admin_client.get(f"{path}add/").status_code == 403
    assert recording.recording_id in admin_client.get(RECORDINGS).content.decode()
    delete = f"{RECORDINGS}{recording.pk}/delete/"
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403  # no row alone
    assert CallRecording.objects.count() == 2


def test_the_admin_deletes_a_lessons_recordings_and_files_through_the_service(
    admin_client, settings, tmp_path, student, coach, active_session, waiting_session
):
    settings.MEDIA_ROOT = tmp_path
    chosen = recorded_lesson(active_session, coach, tmp_path)[0]
    kept = CallRecording.objects.create(
        session=waiting_session, started_by=coach, started_ms=0, finished=True
    )
    with captured_broadcasts() as sent:
        response = admin_client.post(
            RECORDINGS,
            {"action": "delete_lesson_recordings", ACTION_CHECKBOX_NAME: [chosen.pk], "index": 0},
            follow=True,
        )
    assert "녹음 2개와 파일을 삭제했습니다." in response.content.decode()  # the admin is Korean
    assert list(CallRecording.objects.all()) == [kept]  # the chosen one's lesson, whole
    assert not any(p.is_file() for p in tmp_path.rglob("*"))
    assert [topic for topic, name, _ in sent if name == "recording:deleted"] == [
        active_session.topic
    ]


def test_staff_without_the_delete_permission_cannot_delete_recordings(
    make_user, settings, tmp_path, coach, active_session
):
    settings.MEDIA_ROOT = tmp_path
    chosen = recorded_lesson(active_session, coach, tmp_path)[0]
    client = staff_client(make_user, "view_callrecording")
    response = client.post(
        RECORDINGS,
        {"action": "delete_lesson_recordings", ACTION_CHECKBOX_NAME: [chosen.pk], "index": 0},
    )
    assert CallRecording.objects.count() == 2
    assert "delete_lesson_recordings" not in client.get(RECORDINGS).content.decode()
    assert response.status_code in (200, 302)
