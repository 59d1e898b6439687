"""The coach's lessons on the dashboard (in progress: Resume; recently ended: the recap),
a waiting student's new topic arriving live, and the recap at the top of both screens
when the lesson ends, without the document scrolling.

Screenshots land in /tmp/coach-lessons-*.png for a look.
"""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.browser.conftest import (
    DESKTOP,
    PHONE,
    AnalysisPoster,
    check_axe,
    expect,
    expect_online,
    in_thread,
    log_in,
    post_json,
)
from tests.support.auth import token_for

SHOTS = "/tmp/coach-lessons-{}.png"

TEXT = {
    "ko": {
        "resume": "이어가기",
        "recap": "요약 보기",
        "paused": "일시정지",
        "recap_title": "레슨 요약",
        "took": "종료 · 1시간",
    },
    "en": {
        "resume": "Resume",
        "recap": "Recap",
        "paused": "Paused",
        "recap_title": "Lesson recap",
        "took": "· 1 hr",
    },
}

# Where the page is scrolled: the document, and the room's own scrolling columns.
SCROLLS = """() => ({
  document: document.scrollingElement.scrollTop, window: window.scrollY,
  main: document.querySelector('.room-main').scrollTop,
})"""


@pytest.fixture
def lessons(student, coach, make_user):
    """The coach's lessons: one active, one paused, two ended (an hour ago, yesterday);
    another coach's lesson; and a student waiting."""
    from coaching.models import CoachingSession, Status

    def make() -> dict:
        now = timezone.now()
        other_coach = make_user("coach", name="OtherPro")
        names = {n: make_user("student", name=n) for n in ("Mina", "Joon", "Hana", "Bora")}
        waiting = make_user("student", name="Waiting Kim")

        def lesson(who, status, title, started, ended=None, by=coach):
            return CoachingSession.objects.create(
                student=who,
                coach=by,
                status=status,
                title=title,
                started_at=now - started,
                ended_at=None if ended is None else now - ended,
            )

        made = {
            "active": lesson(student, Status.ACTIVE, "Driver slice", timedelta(minutes=5)),
            "paused": lesson(names["Mina"], Status.PAUSED, "Putting", timedelta(minutes=20)),
            "ended": lesson(
                names["Joon"], Status.ENDED, "Bunker", timedelta(hours=2), timedelta(hours=1)
            ),
            "old": lesson(
                names["Hana"], Status.ENDED, "", timedelta(days=1, hours=1), timedelta(days=1)
            ),
            "others": lesson(
                names["Bora"], Status.ACTIVE, "Not mine", timedelta(minutes=3), by=other_coach
            ),
            "waiting": CoachingSession.objects.create(student=waiting, title="Irons"),
            "waiting_student": waiting,
        }
        return made

    return in_thread(make)


def lesson_item(page, list_id: str, session) -> object:
    return page.locator(f'#{list_id} li[data-session-id="{session.session_id}"]')


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_dashboard_lists_my_lessons_beside_the_waiting_list(server, coach, lessons, pages, lang):
    text = TEXT[lang]
    page = pages.open("coach", lang=lang)
    log_in(page, coach, lands_on="/coach/")
    expect_online(page)

    expect(page.locator("#open-list > li")).to_have_count(2)
    expect(page.locator("#open-count")).to_have_text("2")
    expect(page.locator("#recent-list > li")).to_have_count(2)
    expect(page.locator("#open-empty")).to_be_hidden()
    expect(page.locator("#recent-empty")).to_be_hidden()
    # Newest first; another coach's lesson and the waiting student are not mine.
    open_ids = page.locator("#open-list > li").evaluate_all(
        "ns => ns.map(n => n.dataset.sessionId)"
    )
    assert open_ids == [lessons["active"].session_id, lessons["paused"].session_id]
    recent = page.locator("#recent-list > li").evaluate_all(
        "ns => ns.map(n => n.dataset.sessionId)"
    )
    assert recent == [lessons["ended"].session_id, lessons["old"].session_id]
    expect(
        page.locator(f'#open-list li[data-session-id="{lessons["others"].session_id}"]')
    ).to_have_count(0)

    paused = lesson_item(page, "open-list", lessons["paused"])
    expect(paused).to_contain_text("Mina")
    expect(paused).to_contain_text("Putting")
    expect(paused.locator(".badge")).to_have_text(text["paused"])
    expect(paused.get_by_role("link", name=re.compile(text["resume"], re.I))).to_have_attribute(
        "href", f"/sessions/{lessons['paused'].session_id}/"
    )
    ended = lesson_item(page, "recent-list", lessons["ended"])
    expect(ended.locator(".lesson-when")).to_contain_text(text["took"])
    expect(ended.get_by_role("link", name=re.compile(text["recap"], re.I))).to_be_visible()

    # Side by side on a laptop: the two lists start at the same height.
    waiting_box = page.locator("#waiting-list").locator("xpath=ancestor::section").bounding_box()
    mine_box = page.locator("#mine-card").bounding_box()
    assert abs(waiting_box["y"] - mine_box["y"]) < 2 and mine_box["x"] > waiting_box["x"] + 300
    page.screenshot(path=SHOTS.format(f"dashboard-{lang}"), full_page=True)
    check_axe(page, f"coach dashboard with lessons ({lang})")

    # On a phone, stacked: the waiting list first.
    phone = pages.open("coach-phone", lang=lang, viewport=PHONE, mobile=True)
    log_in(phone, coach, lands_on="/coach/")
    expect(phone.locator("#recent-list > li")).to_have_count(2)
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    phone.screenshot(path=SHOTS.format(f"dashboard-{lang}-phone"), full_page=True)
    check_axe(phone, f"coach dashboard on a phone ({lang})")

    # The recap of an ended lesson is one click away, at the top of the room.
    ended.get_by_role("link", name=re.compile(text["recap"], re.I)).click()
    page.wait_for_url(f"**/sessions/{lessons['ended'].session_id}/")
    expect(page.locator("#recap")).to_be_visible()
    expect(page.locator("#recap h2")).to_have_text(text["recap_title"])
    assert page.evaluate(SCROLLS) == {"document": 0, "window": 0, "main": 0}
    assert_recap_leads(page)
    assert pages.errors == []


def test_a_waiting_students_new_topic_reaches_the_dashboard_live(server, coach, lessons, pages):
    """The student, already waiting, starts again with a new topic: the same lesson, now
    with that topic, and the coach's waiting list says so at once."""
    page = pages.open("coach")
    log_in(page, coach, lands_on="/coach/")
    expect_online(page)
    entry = page.locator(f'#waiting-list li[data-session-id="{lessons["waiting"].session_id}"]')
    expect(entry.locator(".session-topic")).to_have_text("Irons")

    student_page = pages.open("student", lang="ko", viewport=PHONE, mobile=True)
    log_in(student_page, lessons["waiting_student"], lands_on="/student/")
    expect(student_page.locator("#resume-card")).to_be_visible()
    expect(student_page.locator("#resume-topic")).to_have_text(
        "위에 새 주제를 입력하고 다시 시작하면 대기 중인 레슨의 주제가 바뀝니다."
    )
    check_axe(student_page, "student home, waiting (ko)")
    student_page.locator("#session-title").fill("Wedges")
    student_page.locator("#start-button").click()
    student_page.wait_for_url(f"**/sessions/{lessons['waiting'].session_id}/")
    expect(student_page.locator("#session-title")).to_have_text("Wedges")

    expect(entry.locator(".session-topic")).to_have_text("Wedges")
    expect(page.locator("#waiting-list > li")).to_have_count(1)

    # Starting again with no topic keeps the one given.
    status, body = post_json(
        f"{server.http_url}/api/sessions/", token_for(lessons["waiting_student"]), {}
    )
    assert (status, body["title"]) == (200, "Wedges")
    assert pages.errors == []


def assert_recap_leads(page) -> None:
    """The recap is the first thing in its view: above the swing video (laptop), above the
    tabs (phone), and in the viewport."""
    recap = page.locator("#recap")
    expect(recap).to_be_in_viewport()
    recap_top = recap.bounding_box()["y"]
    if page.viewport_size["width"] < 700:
        assert recap_top < page.locator("#room-tabs").bounding_box()["y"]
    else:
        assert recap_top < page.locator("#panel-swing").bounding_box()["y"]
        assert recap_top < page.viewport_size["height"] / 3


def test_the_recap_is_at_the_top_of_both_screens_when_the_lesson_ends(
    server, student, coach, service, active_session, pages
):
    """The coach on a laptop has scrolled the main column down to the cards; the student on
    a phone reads the chat. At the end both see the recap first, and the document itself
    never scrolls (only the room's columns do); the coach's dashboard, open in another
    tab, moves the lesson to "recently ended" at once."""
    session_id = active_session.session_id
    analysis = AnalysisPoster(service, session_id, server.http_url)
    status, body = post_json(
        f"{server.http_url}/api/sessions/{session_id}/swings/",
        token_for(service),
        {"swing_id": "sw_1", "video_url": "/static/demo/swing-demo.mp4", "fps": 30},
    )
    assert status in (200, 201), body
    for n in (1, 2, 3):
        analysis.post(
            "feedback",
            swing_id="sw_1" if n == 1 else f"sw_{n}",
            summary=f"Card {n}: the club face tends to be open at impact.",
            metrics={"face_angle": 5.2, "tempo_ratio": 0.92},
            recommendations=[f"Drill {n}"],
            level="intermediate",
        )

    dashboard = pages.open("dashboard")
    log_in(dashboard, coach, lands_on="/coach/")
    expect_online(dashboard)
    expect(lesson_item(dashboard, "open-list", active_session)).to_have_count(1)

    coach_page = pages.open("coach", viewport=DESKTOP)
    log_in(coach_page, coach, lands_on="/coach/")
    coach_page.goto(f"/sessions/{session_id}/")
    student_page = pages.open("student", lang="ko", viewport=PHONE, mobile=True)
    log_in(student_page, student, lands_on="/student/")
    student_page.goto(f"/sessions/{session_id}/")
    for page in (coach_page, student_page):
        expect_online(page)
    expect(coach_page.locator(".feedback-card")).to_have_count(3)
    # The coach reads the last card, far down the main column.
    coach_page.locator(".feedback-card").last.scroll_into_view_if_needed()
    before = coach_page.evaluate(SCROLLS)
    assert before["main"] > 500, before
    assert student_page.evaluate(SCROLLS)["document"] == 0

    coach_page.once("dialog", lambda dialog: dialog.accept())
    coach_page.locator("#end-button").click()
    for page in (coach_page, student_page):
        expect(page.locator("#state-banner")).to_have_attribute("data-kind", "ended")
        expect(page.locator("#recap .recap-practice li")).to_have_count(3)
        assert_recap_leads(page)
        scrolls = page.evaluate(SCROLLS)
        assert (scrolls["document"], scrolls["window"], scrolls["main"]) == (0, 0, 0), scrolls
    # The phone keeps the tab it was on (the chat), below the recap.
    expect(student_page.locator("#panel-chat")).to_be_visible()
    coach_page.screenshot(path=SHOTS.format("ended-coach-desktop"))
    student_page.screenshot(path=SHOTS.format("ended-student-phone"))
    check_axe(coach_page, "session page, coach, ended (en)")
    check_axe(student_page, "session page, student on a phone, ended (ko)")

    # A reload keeps the recap on top.
    student_page.reload()
    expect(student_page.locator("#recap")).to_be_visible()
    assert_recap_leads(student_page)

    # The dashboard moved the lesson to "recently ended", live.
    expect(lesson_item(dashboard, "recent-list", active_session)).to_have_count(1)
    expect(lesson_item(dashboard, "open-list", active_session)).to_have_count(0)
    expect(dashboard.locator("#open-empty")).to_be_visible()
    assert pages.errors == []
