"""The lesson room as a Korean student on a phone and a coach on a laptop use it (and the
other way round in English): the whole lesson, a network drop, a reload, the history,
and axe-core on every page.

Set UPDATE_SCREENSHOTS=1 to refresh docs/screenshots/ from the lesson test.
"""

import os
import re
import time

import pytest

from tests.browser.conftest import (
    DESKTOP,
    PHONE,
    ROOT,
    AnalysisPoster,
    check_axe,
    expect,
    expect_online,
    in_thread,
    log_in,
)
from tests.support.proxy import TcpProxy

SCREENSHOTS = ROOT / "docs" / "screenshots"

TEXT = {
    "ko": {
        "waiting_for": "째 대기 중",
        "preview": "미리보기",
        "active": "레슨 중",
        "coach_joined": "IanPro 코치님이 레슨에 입장했습니다.",
        "started": "IanPro 코치님이 레슨을 시작했습니다.",
        "paused": "IanPro 님이 레슨을 일시정지했습니다.",
        "resumed": "레슨이 다시 시작되었습니다.",
        "ended": "레슨이 종료되었습니다.",
        "face_angle": "페이스 각도",
        "face_open": "5.2° 열림",
        "tempo_ratio": "템포 비율",
        "consistency": "일관성",
        "wrist_hinge": ["손목 코킹", "드라이버", "아이언"],
        "level": "수준: 중급",
        "view": "보기",
        "recap": "레슨 요약",
        "empty": "먼저 메시지를 입력하세요.",
    },
    "en": {
        "waiting_for": "Waiting for",
        "preview": "Preview",
        "active": "In lesson",
        "coach_joined": "Coach IanPro joined the lesson.",
        "started": "Coach IanPro started the lesson.",
        "paused": "IanPro paused the lesson.",
        "resumed": "The lesson resumed.",
        "ended": "The lesson ended.",
        "face_angle": "Face angle",
        "face_open": "5.2° open",
        "tempo_ratio": "Tempo ratio",
        "consistency": "Consistency",
        "wrist_hinge": ["Wrist hinge", "Driver", "Iron"],
        "level": "Level: Intermediate",
        "view": "View",
        "recap": "Lesson recap",
        "empty": "Write a message first.",
    },
}

METRICS = {
    "consistency": 0.31,
    "face_angle": 5.2,
    "tempo_ratio": 0.92,
    "wrist_hinge": {"iron": 3, "driver": -1.2},
}


def timeline(page):
    return page.locator("#chat-list > li[data-seq]")


def chat_texts(page):
    return page.locator("#chat-list .chat-msg .chat-text")


def is_phone(page) -> bool:
    return page.viewport_size["width"] < 700


def show_panel(page, name: str) -> None:
    """On a phone, open the tab of `name` (chat, analysis, swing); on a desktop all show."""
    if is_phone(page):
        page.locator(f"#tab-{name}").click()


def send(page, text: str) -> None:
    page.locator("#chat-input").fill(text)
    page.locator("#chat-input").press("Enter")
    expect(page.locator("#chat-input")).to_have_value("")


def screenshot(page, name: str) -> None:
    if os.environ.get("UPDATE_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def seq_texts(page) -> list[tuple[str, str]]:
    rows = timeline(page)
    seqs = rows.evaluate_all("ns => ns.map(n => n.dataset.seq)")
    return list(zip(seqs, rows.all_inner_texts(), strict=True))


@pytest.mark.parametrize(
    ("lang", "student_view", "coach_view"),
    [("ko", PHONE, DESKTOP), ("en", DESKTOP, PHONE)],
    ids=["ko-student-phone", "en-coach-phone"],
)
def test_whole_lesson(server, student, coach, service, pages, lang, student_view, coach_view):
    text = TEXT[lang]
    size = {id(PHONE): "phone", id(DESKTOP): "desktop"}

    coach_page = pages.open("coach", lang=lang, viewport=coach_view)
    coach_page.goto("/login/")
    expect(coach_page.locator("html")).to_have_attribute("lang", lang)
    check_axe(coach_page, f"login ({lang})")
    log_in(coach_page, coach, lands_on="/coach/")
    expect_online(coach_page)
    expect(coach_page.locator("#sound-toggle")).not_to_be_checked()  # sound is opt-in
    check_axe(coach_page, f"coach dashboard ({lang})")

    # The student starts a lesson and sees that a coach will come, and for how long they wait.
    student_page = pages.open("student", lang=lang, viewport=student_view)
    log_in(student_page, student, lands_on="/student/")
    check_axe(student_page, f"student home ({lang})")
    student_page.locator("#session-title").fill("Driver <slice>")
    student_page.locator("#start-button").click()
    student_page.wait_for_url(re.compile(r"/sessions/sess_[\w-]+/$"))
    session_id = student_page.url.rstrip("/").rsplit("/", 1)[-1]
    expect_online(student_page)
    expect(student_page.locator("#state-banner")).to_have_attribute("data-kind", "waiting")
    expect(student_page.locator("#state-detail")).to_contain_text(text["waiting_for"])
    check_axe(student_page, f"session page, student, waiting ({lang})")

    # Back home, starting again leads to the lesson that is already waiting.
    student_page.goto("/student/")
    student_page.locator("#resume-link").click()
    student_page.wait_for_url(f"**/sessions/{session_id}/")
    expect_online(student_page)

    # The coach's dashboard: who, what about, how long (live), and a title badge.
    entry = coach_page.locator(f'#waiting-list li[data-session-id="{session_id}"]')
    expect(entry).to_contain_text("Driver <slice>")  # as text, not markup
    expect(entry.locator(".waiting-since")).to_contain_text(text["waiting_for"])
    expect(coach_page).to_have_title(re.compile(r"^\(1\) "))

    # A preview before claiming: read-only, with a Claim button.
    entry.get_by_role("link", name=re.compile(text["preview"])).click()
    coach_page.wait_for_url(f"**/sessions/{session_id}/")
    expect(coach_page.locator("#preview-bar")).to_be_visible()
    expect(coach_page.locator("#chat-form")).to_be_hidden()
    expect(coach_page.locator("#state-banner")).to_have_attribute("data-kind", "waiting")
    check_axe(coach_page, f"session page, coach preview ({lang})")
    coach_page.locator("#claim-button").click()
    expect(coach_page.locator("#coach-controls")).to_be_visible()
    expect_online(coach_page)

    for page in (student_page, coach_page):
        expect(page.locator("#status-badge")).to_have_text(text["active"])
        expect(timeline(page).filter(has_text=text["started"])).to_have_count(1)
    expect(timeline(student_page).filter(has_text=text["coach_joined"])).to_have_count(1)
    expect(student_page.locator("#state-banner")).not_to_have_class(re.compile("is-shown"))

    # Chat: feedback on an empty send, multi-line, links, HTML shown as text.
    student_page.locator("#chat-send").click()
    expect(student_page.locator("#chat-hint")).to_have_text(text["empty"])
    box = student_page.locator("#chat-input")
    box.fill("My driver head keeps opening.")
    box.press("Shift+Enter")
    box.press_sequentially("See https://example.com/drill?x=1.")
    box.press("Enter")
    show_panel(coach_page, "chat")
    line = chat_texts(coach_page).last
    expect(line).to_have_text("My driver head keeps opening.\nSee https://example.com/drill?x=1.")
    link = line.locator("a")
    expect(link).to_have_attribute("href", "https://example.com/drill?x=1")
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    reply = "<b>Try</b> a stronger grip <img src=x onerror=alert(1)>"
    send(coach_page, reply)
    expect(chat_texts(student_page).last).to_have_text(reply)
    expect(student_page.locator("#chat-list b, #chat-list img")).to_have_count(0)
    expect(student_page.locator("#chat-list .chat-msg.mine .chat-state").last).to_have_attribute(
        "class", re.compile("state-sent")
    )

    # 2,017 characters are not cut to 2,000: the box says so and keeps the text.
    box.fill("x" * 2017)
    expect(student_page.locator("#chat-counter")).to_be_visible()
    expect(student_page.locator("#chat-counter")).to_have_attribute("data-level", "over")
    box.press("Enter")
    expect(box).to_have_value("x" * 2017)
    expect(student_page.locator("#chat-hint")).to_contain_text("17")
    box.fill("")

    # The analysis: progress, then the card, reachable in one tap on a phone.
    analysis = AnalysisPoster(service, session_id, server.http_url)
    analysis.post("progress", swing_id="sw_999", percent=40, step="analysis")
    analysis.post(
        "feedback",
        swing_id="sw_999",
        summary="The club face tends to be open at impact.",
        metrics=METRICS,
        recommendations=["Take a slightly stronger grip.", "Hinge the lead wrist less."],
        level="intermediate",
    )
    for page in (student_page, coach_page):
        if is_phone(page):
            page.locator(".toast button").click()
        card = page.locator('.feedback-card[data-swing-id="sw_999"]')
        expect(card).to_be_in_viewport()
        # At a glance: what is out of range, furthest first; every metric folded below.
        expect(card.locator(".key-metric")).to_have_count(3)
        expect(card.locator(".key-metric-label")).to_have_text(
            [text["tempo_ratio"], text["consistency"], text["face_angle"]]
        )
        expect(card.locator(".metrics th")).to_have_text(
            [text["face_angle"], text["tempo_ratio"], text["consistency"], *text["wrist_hinge"]]
        )
        expect(card.locator('tr[data-metric="face_angle"] .metric-value')).to_have_text(
            text["face_open"]
        )
        expect(card.locator('tr[data-metric="tempo_ratio"] .metric-value')).to_have_text("0.92:1")
        expect(card.locator('tr[data-metric="consistency"] .metric-value')).to_have_text("0.31")
        driver = card.locator('[data-metric="wrist_hinge.driver"] .metric-value')
        expect(driver).to_have_text("-1.2")
        expect(card.locator(".badge.level")).to_have_text(text["level"])
        expect(card.locator(".level-help")).not_to_be_empty()
        expect(card).not_to_contain_text("sw_999")  # no internal ids
        expect(page.locator("#progress-bar")).to_have_attribute("aria-valuenow", "100")
        show_panel(page, "chat")
        expect(page.locator("#chat-list > li.tl-card[data-seq]")).to_have_count(1)

    # The coach saves a checkpoint; both see it on the card.
    show_panel(coach_page, "analysis")
    coach_card = coach_page.locator('.feedback-card[data-swing-id="sw_999"]')
    coach_card.locator(".checkpoint-note").fill("Grip drill next lesson")
    coach_card.locator(".checkpoint-form button").click()
    show_panel(student_page, "analysis")
    expect(student_page.locator(".checkpoint-mark")).to_contain_text("Grip drill next lesson")
    screenshot(student_page, f"room-{lang}-{size[id(student_view)]}-student-card")
    show_panel(student_page, "chat")
    show_panel(coach_page, "chat")

    # Pause: a banner and a timeline entry on the other screen; chat stays open.
    coach_page.locator("#pause-button").click()
    expect(student_page.locator("#state-banner")).to_have_attribute("data-kind", "paused")
    expect(timeline(student_page).filter(has_text=text["paused"])).to_have_count(1)
    send(student_page, "Still here while paused.")
    expect(chat_texts(coach_page).last).to_have_text("Still here while paused.")
    screenshot(student_page, f"room-{lang}-{size[id(student_view)]}-student")
    screenshot(coach_page, f"room-{lang}-{size[id(coach_view)]}-coach")
    check_axe(student_page, f"session page, student, paused ({lang})")
    check_axe(coach_page, f"session page, coach, paused ({lang})")

    coach_page.locator("#resume-button").click()
    expect(student_page.locator("#state-banner")).to_have_attribute("data-kind", "resumed")
    expect(timeline(student_page).filter(has_text=text["resumed"])).to_have_count(1)

    # A reload mid-lesson rebuilds the very same timeline.
    before = seq_texts(student_page)
    student_page.reload()
    expect_online(student_page)
    expect(timeline(student_page)).to_have_count(len(before))
    assert seq_texts(student_page) == before

    # The end: banner, timeline entry and the recap on both screens, kept after a reload.
    coach_page.once("dialog", lambda dialog: dialog.accept())
    coach_page.locator("#end-button").click()
    for page in (student_page, coach_page):
        expect(page.locator("#state-banner")).to_have_attribute("data-kind", "ended")
        expect(timeline(page).filter(has_text=text["ended"])).to_have_count(1)
        expect(page.locator("#chat-input")).to_be_disabled()
        show_panel(page, "analysis")
        recap = page.locator("#recap")
        expect(recap).to_be_visible()
        expect(recap.locator("h2")).to_have_text(text["recap"])
        expect(recap.locator(".recap-practice li")).to_have_text(
            ["Take a slightly stronger grip.", "Hinge the lead wrist less."]
        )
        expect(recap.locator(".recap-checkpoints")).to_contain_text("Grip drill next lesson")
    screenshot(student_page, f"room-{lang}-{size[id(student_view)]}-student-recap")
    student_page.reload()
    show_panel(student_page, "analysis")
    expect(student_page.locator("#recap")).to_be_visible()
    check_axe(student_page, f"session page, student, ended ({lang})")
    assert pages.errors == []


def test_network_drop_loses_and_doubles_nothing(server, active_session, student, coach, pages):
    """Offline 30 s: the banner within 10 s, lines typed meanwhile arrive once and in order."""
    proxy = TcpProxy(server.port)
    try:
        student_page = pages.open("student", base_url=proxy.http_url)
        coach_page = pages.open("coach")
        log_in(student_page, student, lands_on="/student/")
        log_in(coach_page, coach, lands_on="/coach/")
        for page in (student_page, coach_page):
            page.goto(f"/sessions/{active_session.session_id}/")
            expect_online(page)
        send(student_page, "before the drop")
        expect(chat_texts(coach_page)).to_have_text(["before the drop"])

        # The network goes silent (no FIN, no RST): only the heartbeat can tell.
        proxy.blackhole()
        cut_at = time.monotonic()
        expect(student_page.locator("#connection-banner")).to_have_class(
            re.compile("is-shown"), timeout=10_000
        )
        assert time.monotonic() - cut_at < 10
        expect(student_page.locator("#connection")).to_have_attribute("data-state", "reconnecting")
        expect(student_page.locator("#connection-banner .banner-countdown")).not_to_be_empty()
        student_page.context.set_offline(True)
        expect(student_page.locator("#connection")).to_have_attribute("data-state", "offline")

        for n in (1, 2, 3):
            send(student_page, f"offline {n}")
        expect(student_page.locator("#chat-list .chat-msg.is-sending")).to_have_count(3)
        kept = student_page.evaluate(
            "Object.keys(localStorage).filter(k => k.startsWith('inswing:outbox:'))"
            ".map(k => JSON.parse(localStorage[k]).map(i => i.text))"
        )
        assert kept == [["offline 1", "offline 2", "offline 3"]]
        student_page.wait_for_timeout(max(0, 30 - (time.monotonic() - cut_at)) * 1000)

        proxy.restore()
        student_page.context.set_offline(False)
        expect_online(student_page, timeout=15_000)
        expected = ["before the drop", "offline 1", "offline 2", "offline 3"]
        expect(chat_texts(coach_page)).to_have_text(expected)
        expect(chat_texts(student_page)).to_have_text(expected)
        expect(student_page.locator("#chat-list .chat-msg.is-sending")).to_have_count(0)
        expect(student_page.locator("#connection-banner")).not_to_have_class(re.compile("is-shown"))

        # A line still in the outbox when the page reloads is sent after the reload, once.
        proxy.blackhole()
        expect(student_page.locator("#connection")).not_to_have_attribute(
            "data-state", "online", timeout=10_000
        )
        send(student_page, "written, then reloaded")
        proxy.restore()
        student_page.reload()
        expect_online(student_page)
        expected.append("written, then reloaded")
        expect(chat_texts(coach_page)).to_have_text(expected)
        expect(chat_texts(student_page)).to_have_text(expected)
        coach_page.reload()
        expect(chat_texts(coach_page)).to_have_text(expected)
        assert pages.errors == []
    finally:
        proxy.close()


def test_history_loads_back_to_the_first_message(server, active_session, student, coach, pages):
    """120 lines: the page opens on the latest, "load earlier" reaches the first; scrolled
    up, a new line is counted as unread with a jump to it."""
    from coaching.services.chat import chat_message_post

    def post_many() -> None:
        for n in range(1, 121):
            chat_message_post(
                session_id=active_session.session_id, sender=student, text=f"message {n}"
            )

    in_thread(post_many)
    page = pages.open("student")
    coach_page = pages.open("coach")
    log_in(page, student, lands_on="/student/")
    log_in(coach_page, coach, lands_on="/coach/")
    coach_page.goto(f"/sessions/{active_session.session_id}/")
    page.goto(f"/sessions/{active_session.session_id}/")
    expect_online(page)
    expect(chat_texts(page).last).to_have_text("message 120")
    earlier = page.locator("#load-earlier")
    expect(earlier).to_be_visible()
    while earlier.is_visible():
        earlier.click()
        expect(earlier).not_to_have_text(re.compile("…"))
    expect(chat_texts(page).first).to_have_text("message 1")
    expect(chat_texts(page)).to_have_count(120)
    expect(page.locator("#timeline-start")).to_be_visible()

    # Scrolled up to the start: a new line shows as unread, and the jump goes to it.
    page.locator("#timeline").evaluate("n => { n.scrollTop = 0; }")
    send(coach_page, "are you there?")
    jump = page.locator("#jump-latest")
    expect(jump).to_be_visible()
    expect(jump).to_contain_text("1")
    expect(page.locator(".unread-marker")).to_have_count(1)
    jump.click()
    expect(jump).to_be_hidden()
    expect(chat_texts(page).last).to_be_in_viewport()
    assert pages.errors == []


def test_a_line_never_acknowledged_fails_after_minutes_and_can_be_retried(
    server, active_session, student, coach, pages
):
    """The server never answers a line (its frames are dropped on the way): it stays
    "sending" for minutes, then shows as failed with Retry; Retry delivers it once."""
    page = pages.open("student")
    coach_page = pages.open("coach")
    log_in(page, student, lands_on="/student/")
    log_in(coach_page, coach, lands_on="/coach/")
    coach_page.goto(f"/sessions/{active_session.session_id}/")
    expect_online(coach_page)

    dropping = {"chat": True}

    def relay(ws):
        upstream = ws.connect_to_server()

        def to_server(message):
            if dropping["chat"] and isinstance(message, str) and '"chat:new"' in message:
                return  # lost: no reply will come
            upstream.send(message)

        ws.on_message(to_server)

    page.route_web_socket(re.compile(r"/socket/websocket"), relay)
    page.clock.install()
    page.goto(f"/sessions/{active_session.session_id}/")
    expect_online(page)
    send(page, "never acknowledged")
    line = page.locator("#chat-list .chat-msg.mine")
    expect(line).to_have_class(re.compile("is-sending"))
    page.clock.run_for(60_000)
    expect(line).to_have_class(re.compile("is-sending"))  # a minute is not a failure
    page.clock.run_for(3 * 60_000)
    expect(line).to_have_class(re.compile("is-failed"))
    expect(line.locator(".chat-failed-text")).to_contain_text("3 min")

    dropping["chat"] = False
    page.clock.resume()
    line.get_by_role("button", name="Retry").click()
    expect(chat_texts(coach_page)).to_have_text(["never acknowledged"])
    expect(page.locator("#chat-list .chat-msg.is-failed")).to_have_count(0)
    expect(chat_texts(page)).to_have_text(["never acknowledged"])
    assert pages.errors == []
