"""The lesson room reads well (issue 20, round two): nothing scrolls the page, Korean golf
language with the units Korean golfers use, a card read at a glance, a quiet timeline, and
the keyboard (focus after a pause, a skip link, the jump button's contrast)."""

import re

import pytest

from coaching.management.commands.seed_demo import DEMO_SWING
from tests.browser.conftest import (
    DESKTOP,
    PHONE,
    AnalysisPoster,
    check_axe,
    expect,
    expect_online,
    in_thread,
    log_in,
)

# A driver card with twelve metrics, as the Node API sends it: four out of range on the
# worse side (face to path furthest, then face angle, club path, launch angle), one
# better than the range (ball speed), one the catalog does not know (with a unit suffix).
TWELVE = {
    "face_angle": 5.2,  # +3.2° past 2°: 0.8 range widths
    "club_path": -4.1,  # 1.1° past -3°: 0.18
    "face_to_path": 7.3,  # 5.3° past 2°: 1.33
    "attack_angle": -1.0,
    "swing_speed": 92.3,
    "ball_speed": 171.0,  # above a higher-is-better range: good, not a concern
    "smash_factor": 1.45,
    "launch_angle": 9.1,  # 0.9° under 10°: 0.15
    "spin_rate": 2600,
    "carry_distance": 182,
    "tempo_ratio": 3.0,
    "hand_speed_mph": 19.9,
}
RECOMMENDATIONS = [
    "어드레스에서 그립을 조금 더 스트롱하게 잡으세요.",
    "백스윙 톱에서 왼손목이 덜 꺾이도록 하세요.",
]
STEPS = [(0, "upload"), (15, "pose_detection"), (40, "club_tracking"), (65, "impact_analysis")]
HANGUL_ONLY = re.compile(r"^[^A-Za-z]+$")


def send(page, text: str) -> None:
    page.locator("#chat-input").fill(text)
    page.locator("#chat-input").press("Enter")
    expect(page.locator("#chat-input")).to_have_value("")


def doc_scroll(page) -> int:
    return page.evaluate("() => document.scrollingElement.scrollTop + window.scrollY")


def attach_swing(session, service, swing_id: str = "sw_1", **extra) -> None:
    from coaching.services.swings import swing_attach

    swing = {**DEMO_SWING, "swing_id": swing_id, **extra}
    in_thread(swing_attach, session_id=session.session_id, actor=service, swing=swing)


def analyse(session, service, swing_id: str = "sw_1", *, steps=STEPS, metrics=TWELVE) -> None:
    """A whole analysis, stored before the page opens: progress steps, then the card."""
    from coaching.services.analysis import feedback_record, progress_post

    def run() -> None:
        for percent, step in steps:
            progress_post(
                session_id=session.session_id,
                actor=service,
                swing_id=swing_id,
                percent=percent,
                step=step,
            )
        feedback_record(
            session_id=session.session_id,
            actor=service,
            swing_id=swing_id,
            summary="임팩트 때 페이스가 열려 공이 오른쪽으로 출발합니다.",
            metrics=metrics,
            recommendations=RECOMMENDATIONS,
            level="intermediate",
        )

    in_thread(run)


def open_room(pages, user, session, *, lang="ko", viewport=PHONE, home="/student/"):
    page = pages.open(user.username, lang=lang, viewport=viewport, mobile=viewport is PHONE)
    log_in(page, user, lands_on=home)
    page.goto(f"/sessions/{session.session_id}/")
    expect_online(page)
    return page


def words_broken_inside(page, selector: str) -> list[str]:
    """Words (space-separated) of the elements' text that wrap onto two lines."""
    return page.evaluate(
        """(selector) => {
            const broken = [];
            for (const node of document.querySelectorAll(selector)) {
                const walker = document.createTreeWalker(node, NodeFilter.SHOW_TEXT);
                for (let text = walker.nextNode(); text; text = walker.nextNode()) {
                    for (const match of text.data.matchAll(/\\S+/g)) {
                        const range = document.createRange();
                        range.setStart(text, match.index);
                        range.setEnd(text, match.index + match[0].length);
                        const tops = new Set([...range.getClientRects()]
                            .filter((r) => r.width > 0).map((r) => Math.round(r.top)));
                        if (tops.size > 1) broken.push(match[0]);
                    }
                }
            }
            return broken;
        }""",
        selector,
    )


# ---- 2: nothing scrolls the page ----------------------------------------------------------------


@pytest.mark.parametrize("view", ["phone", "laptop"])
def test_opening_a_card_the_recap_or_a_panel_never_scrolls_the_page(
    server, active_session, student, coach, service, pages, view
):
    attach_swing(active_session, service)
    analyse(active_session, service)
    phone = view == "phone"
    if phone:
        page = open_room(pages, student, active_session, viewport=PHONE)
        other = open_room(pages, coach, active_session, viewport=DESKTOP, home="/coach/")
    else:
        page = open_room(pages, coach, active_session, viewport=DESKTOP, home="/coach/")
        other = page
    stays = ["#room-tabs [aria-selected=true]", ".room-header"] if phone else [".room-header"]
    if not phone:
        stays += ["#pause-button", "#end-button"]

    def unmoved(action: str) -> None:
        page.wait_for_timeout(400)  # past a smooth scroll
        assert doc_scroll(page) == 0, f"the document scrolled on {action}"
        for selector in stays:
            expect(page.locator(selector).first).to_be_in_viewport()

    assert doc_scroll(page) == 0
    # Every panel (phone: each tab), then the card from the timeline ("카드 열기").
    for tab in ("analysis", "swing", "chat"):
        if phone:
            page.locator(f"#tab-{tab}").click()
        unmoved(f"the {tab} panel")
    page.locator("#chat-list .tl-card button").click()
    card = page.locator('.feedback-card[data-swing-id="sw_1"]')
    expect(card).to_be_in_viewport()
    expect(card).to_be_focused()
    unmoved("opening the card")
    # Every metric shown: the panel holds more than a screen (and a hidden table caption).
    card.locator(".all-metrics > summary").click()
    unmoved("showing every metric")

    # A live card: on a phone the toast's "보기" opens it; on a laptop it is in view.
    if phone:
        page.locator("#tab-chat").click()
    AnalysisPoster(service, active_session.session_id, server.http_url).post(
        "feedback",
        swing_id="sw_2",
        summary="두 번째 스윙",
        metrics={"face_angle": -3.5},
        recommendations=[],
    )
    second = page.locator('.feedback-card[data-swing-id="sw_2"]')
    expect(second).to_have_count(1)
    if phone:
        page.locator(".toast button").click()
        expect(second).to_be_in_viewport()
        unmoved("the toast's View")
        page.locator("#tab-chat").click()
    page.locator("#chat-list .tl-card button").first.click()
    expect(card).to_be_in_viewport()
    unmoved("opening the first card again")

    # The end: the recap from the timeline ("레슨 요약 보기").
    other.once("dialog", lambda dialog: dialog.accept())
    other.locator("#end-button").click()
    expect(page.locator("#state-banner")).to_have_attribute("data-kind", "ended")
    if phone:
        page.locator("#tab-chat").click()
    stays = [s for s in stays if "button" not in s]  # the controls go when the lesson ends
    page.locator("#chat-list .tl-state.status-ended button").click()
    recap = page.locator("#recap")
    expect(recap).to_be_in_viewport()
    # Where keyboard focus went (this page's active element): with the coach's page in
    # the same browser clicked last, this document need not hold the browser's focus.
    page.wait_for_function("() => document.activeElement === document.getElementById('recap')")
    unmoved("opening the recap")
    for tab in ("swing", "analysis", "chat") if phone else ():
        page.locator(f"#tab-{tab}").click()
        unmoved(f"the {tab} panel after the end")
    assert pages.errors == []


# ---- 4: Korean golf language --------------------------------------------------------------------


def test_steps_metrics_and_units_read_in_korean(server, active_session, student, service, pages):
    attach_swing(active_session, service, label=None, club="7i", camera_angle="down_the_line")
    analyse(
        active_session,
        service,
        metrics={**TWELVE, "blorp_quux": 3, "lead_wrist_angle_deg": -12.5},
    )
    page = open_room(pages, student, active_session, viewport=DESKTOP)
    analysis = AnalysisPoster(service, active_session.session_id, server.http_url)
    attach_swing(active_session, service, swing_id="sw_live", label="7번 아이언")
    analysis.post("progress", swing_id="sw_live", percent=40, step="club_tracking")
    line = page.locator('#chat-list li.tl-milestone[data-swing-id="sw_live"]')
    expect(line).to_have_text("7번 아이언 분석: 클럽 추적 (40%)")
    expect(page.locator("#progress-label")).to_have_text("7번 아이언 · 클럽 추적 · 40%")
    analysis.post("progress", swing_id="sw_live", percent=70, step="follow_through_v9")
    expect(line).to_have_text("7번 아이언 분석: 분석 중 (70%)")  # an unknown step: neutral
    for raw in ("pose_detection", "club_tracking", "impact_analysis", "follow_through_v9"):
        expect(page.locator("#chat-list")).not_to_contain_text(raw)
    # A swing without a label is named by its club and camera angle, in Korean too.
    expect(page.locator('#chat-list li.tl-milestone[data-swing-id="sw_1"]')).to_contain_text(
        "7번 아이언 · 측면"
    )

    card = page.locator('.feedback-card[data-swing-id="sw_1"]')
    card.locator(".all-metrics > summary").click()
    labels = card.locator(".metrics th").all_inner_texts()
    assert labels and all(HANGUL_ONLY.match(label) for label in labels), labels
    row = lambda key: card.locator(f'tr[data-metric="{key}"]')  # noqa: E731
    expect(row("swing_speed").locator("th")).to_have_text("헤드 스피드")
    expect(row("swing_speed").locator(".metric-value")).to_have_text("41.3 m/s")
    expect(row("swing_speed").locator(".metric-range")).to_contain_text("38.0 \u2013 51.4 m/s")
    expect(row("ball_speed").locator(".metric-value")).to_have_text("76.4 m/s")
    expect(row("carry_distance").locator(".metric-value")).to_have_text("182 m")
    expect(row("hand_speed_mph").locator("th")).to_have_text("손 스피드")
    expect(row("hand_speed_mph").locator(".metric-value")).to_have_text("8.9 m/s")
    expect(row("lead_wrist_angle_deg").locator("th")).to_have_text("리드 손목 각도")
    expect(row("lead_wrist_angle_deg").locator(".metric-value")).to_have_text("-12.5°")
    expect(row("blorp_quux").locator("th")).to_have_text("기타 지표")
    expect(card).not_to_contain_text("mph")

    # mph on request, kept for the next visit.
    page.locator("#speed-unit").select_option("mph")
    card = page.locator('.feedback-card[data-swing-id="sw_1"]')
    expect(row("swing_speed").locator(".metric-value")).to_have_text("92.3 mph")
    expect(row("hand_speed_mph").locator(".metric-value")).to_have_text("19.9 mph")
    expect(card.locator(".all-metrics")).to_have_attribute("open", "")  # kept open
    page.reload()
    expect_online(page)
    expect(page.locator("#speed-unit")).to_have_value("mph")
    expect(row("swing_speed").locator(".metric-value")).to_have_text("92.3 mph")
    assert pages.errors == []


def test_the_english_page_reads_mph_and_yards(server, active_session, student, service, pages):
    attach_swing(active_session, service, label="Driver #1")
    analyse(active_session, service)
    page = open_room(pages, student, active_session, lang="en", viewport=DESKTOP)
    card = page.locator('.feedback-card[data-swing-id="sw_1"]')
    row = lambda key: card.locator(f'tr[data-metric="{key}"]')  # noqa: E731
    expect(row("swing_speed").locator("th")).to_have_text("Club head speed")
    expect(row("swing_speed").locator(".metric-value")).to_have_text("92.3 mph")
    expect(row("carry_distance").locator(".metric-value")).to_have_text("199 yd")
    expect(row("hand_speed_mph").locator("th")).to_have_text("Hand speed")
    expect(card.locator('.key-metric[data-metric="face_angle"] .metric-value')).to_have_text(
        "5.2° open"
    )
    expect(page.locator("#chat-list li.tl-milestone")).to_have_text(
        "Analysis of Driver #1 complete"
    )
    assert pages.errors == []


# ---- 5: the card at a glance --------------------------------------------------------------------


def test_a_twelve_metric_card_fits_a_phone_and_leads_with_what_matters(
    server, active_session, student, service, pages
):
    attach_swing(active_session, service)
    analyse(active_session, service)
    page = open_room(pages, student, active_session, viewport=PHONE)
    page.locator("#chat-list .tl-card button").click()
    card = page.locator('.feedback-card[data-swing-id="sw_1"]')
    expect(card).to_be_focused()
    page.wait_for_timeout(400)  # past the smooth scroll

    # Verdict, then what to practise, then the three furthest out, then the rest folded.
    order = card.evaluate("c => [...c.children].map(n => n.className || n.tagName.toLowerCase())")
    assert order.index("feedback-summary") < order.index("recommendations")
    assert order.index("recommendations") < order.index("key-metrics") < order.index("all-metrics")
    key = card.locator(".key-metric")
    expect(key).to_have_count(3)
    assert key.evaluate_all("ns => ns.map(n => n.dataset.metric)") == [
        "face_to_path",
        "face_angle",
        "club_path",
    ]
    expect(key.locator(".key-metric-label")).to_have_text(
        ["페이스 투 패스", "페이스 각도", "클럽 패스"]
    )
    expect(key.locator(".metric-value")).to_have_text(["7.3° 열림", "5.2° 열림", "4.1° 아웃-인"])
    expect(card.locator(".all-metrics > summary")).to_have_text("모든 지표 (12)")
    expect(card.locator(".all-metrics .metrics")).to_be_hidden()

    # The whole card is on the 390 by 844 screen, nothing to scroll to.
    box = card.bounding_box()
    panel = page.locator("#panel-analysis").bounding_box()
    assert (
        box["y"] >= panel["y"] - 1 and box["y"] + box["height"] <= panel["y"] + panel["height"] + 1
    )
    assert box["y"] + box["height"] <= PHONE["height"]
    assert doc_scroll(page) == 0

    # No word is broken in the middle, in the card or in the table of every metric.
    card.locator(".all-metrics > summary").click()
    expect(card.locator(".all-metrics .metrics")).to_be_visible()
    assert words_broken_inside(page, ".feedback-card") == []
    check_axe(page, "a twelve-metric card, all metrics open (ko, phone)")
    assert pages.errors == []


# ---- 7: a quiet timeline ------------------------------------------------------------------------


def test_analysis_progress_is_one_line_per_swing_updated_in_place(
    server, active_session, student, coach, service, pages
):
    from coaching.models import SessionEvent

    attach_swing(active_session, service, swing_id="sw_a", label="드라이버 1")
    attach_swing(active_session, service, swing_id="sw_b", label="드라이버 2")
    page = open_room(pages, student, active_session, viewport=DESKTOP)
    coach_page = open_room(pages, coach, active_session, viewport=DESKTOP, home="/coach/")
    analysis = AnalysisPoster(service, active_session.session_id, server.http_url)
    lines = page.locator("#chat-list li.tl-milestone")

    analysis.post("progress", swing_id="sw_a", percent=0, step="upload")
    first = page.locator('#chat-list li.tl-milestone[data-swing-id="sw_a"]')
    expect(first).to_have_text("드라이버 1 분석: 업로드 중 (0%)")
    seq = first.get_attribute("data-seq")
    send(coach_page, "보고 있어요")
    expect(page.locator("#chat-list .chat-msg")).to_have_text(re.compile("보고 있어요"))
    for percent, step in STEPS[1:]:
        analysis.post("progress", swing_id="sw_a", percent=percent, step=step)
        expect(first).to_contain_text(f"({percent}%)")
    expect(lines).to_have_count(1)
    assert first.get_attribute("data-seq") == seq  # in place, before the chat line
    texts = page.locator("#chat-list > li[data-seq]").all_inner_texts()
    chat_at = next(i for i, t in enumerate(texts) if "보고 있어요" in t)
    assert texts.index("드라이버 1 분석: 임팩트 분석 (65%)") < chat_at

    # The second swing: a line of its own; then the first one's card: "분석 완료".
    analysis.post("progress", swing_id="sw_b", percent=15, step="pose_detection")
    expect(lines).to_have_count(2)
    analysis.post(
        "feedback", swing_id="sw_a", summary="좋아요", metrics={"face_angle": 1}, recommendations=[]
    )
    expect(first).to_have_text("드라이버 1 분석 완료")
    analysis.post("progress", swing_id="sw_b", percent=100, step="done")
    expect(page.locator('#chat-list li.tl-milestone[data-swing-id="sw_b"]')).to_have_text(
        "드라이버 2 분석 완료"
    )
    expect(lines).to_have_count(2)
    expect(page.locator("#chat-list")).not_to_contain_text("%)")

    # The stored events stay for replay: a reload shows the same two lines.
    stored = in_thread(
        lambda: SessionEvent.objects.filter(
            session=active_session, event="analysis:milestone"
        ).count()
    )
    assert stored == len(STEPS) + 2
    before = page.locator("#chat-list > li[data-seq]").all_inner_texts()
    page.reload()
    expect_online(page)
    expect(lines).to_have_count(2)
    assert page.locator("#chat-list > li[data-seq]").all_inner_texts() == before
    assert pages.errors == []


# ---- 10: the keyboard ---------------------------------------------------------------------------


def test_focus_stays_on_the_controls_and_the_skip_link_reaches_the_chat(
    server, active_session, coach, pages
):
    page = open_room(pages, coach, active_session, viewport=DESKTOP, home="/coach/")
    expect(page.locator("#pause-button")).to_be_enabled()  # once the channel has joined
    page.locator("#pause-button").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#state-banner")).to_have_attribute("data-kind", "paused")
    expect(page.locator("#resume-button")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#status-badge")).to_have_text("레슨 중")
    expect(page.locator("#pause-button")).to_be_focused()

    # The skip link is the first Tab stop, and lands in the message box.
    page.reload()
    expect_online(page)
    page.keyboard.press("Tab")
    skip = page.locator("#skip-to-chat")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    expect(skip).to_have_text("채팅으로 건너뛰기")
    page.keyboard.press("Enter")
    expect(page.locator("#chat-input")).to_be_focused()
    assert doc_scroll(page) == 0
    check_axe(page, "lesson room, skip link used (ko, laptop)")
    assert pages.errors == []


def test_the_skip_link_on_a_phone_opens_the_chat_tab(server, active_session, student, pages):
    page = open_room(pages, student, active_session, viewport=PHONE)
    page.locator("#tab-analysis").click()
    page.locator("#skip-to-chat").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#tab-chat")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#chat-input")).to_be_focused()
    assert doc_scroll(page) == 0
    assert pages.errors == []


def contrast(page, selector: str) -> float:
    """WCAG contrast of the element's text colour on its background colour."""
    return page.locator(selector).evaluate(
        """(node) => {
            const style = getComputedStyle(node);
            const rgb = (c) => c.match(/[\\d.]+/g).slice(0, 3).map(Number);
            const lum = ([r, g, b]) => {
                const f = (v) => {
                    v /= 255;
                    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
                };
                return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
            };
            const [a, b] = [lum(rgb(style.color)), lum(rgb(style.backgroundColor))];
            return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
        }"""
    )


def test_the_jump_to_latest_button_stays_readable_on_hover(
    server, active_session, student, coach, pages
):
    from coaching.services.chat import chat_message_post

    def post_many() -> None:
        for n in range(1, 41):
            chat_message_post(session_id=active_session.session_id, sender=student, text=f"줄 {n}")

    in_thread(post_many)
    page = open_room(pages, student, active_session, viewport=DESKTOP)
    coach_page = open_room(pages, coach, active_session, viewport=DESKTOP, home="/coach/")
    page.locator("#timeline").evaluate("n => { n.scrollTop = 0; }")
    send(coach_page, "새 줄")
    jump = page.locator("#jump-latest")
    expect(jump).to_have_text(re.compile(r"^새 소식 \d+개 ↓$"))
    assert contrast(page, "#jump-latest") >= 4.5
    jump.hover()
    page.wait_for_timeout(200)
    assert contrast(page, "#jump-latest") >= 4.5
    check_axe(page, "lesson room, jump to latest shown (ko, laptop)")
    jump.click()
    expect(jump).to_be_hidden()
    assert pages.errors == []
