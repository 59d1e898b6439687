"""The admin in a real browser: no page wider than a 1280 px window, whatever the payloads,
and a session's page that reads top down (chat, feedback, then the folded event log).

Rows are made by fixtures through `in_thread` (Playwright's loop refuses the ORM in its thread).
Screenshots land in /tmp/admin-*.png for a look.
"""

import re
from pathlib import Path

import pytest

from coaching.services.analysis import feedback_record
from coaching.services.chat import chat_message_post
from coaching.services.notices import notice_post
from tests.browser.conftest import PASSWORD, check_axe, in_thread

WIDTH = 1280

# Admin rows hide what overflows them: a value too wide for its row is cut off, not scrolled.
CLIPPED_ROWS = """Array.from(document.querySelectorAll('#content .form-row'))
  .filter(row => row.scrollWidth > row.clientWidth + 1)
  .map(row => row.className)"""


@pytest.fixture
def busy_session(active_session, student, service) -> dict:
    """A session whose log holds the kind of values that used to widen the page."""
    session_id = active_session.session_id

    def fill() -> dict:
        chat_message_post(session_id=session_id, sender=student, text="y" * 2000)
        chat_message_post(
            session_id=session_id, sender=student, text="https://example.com/" + "a/" * 300
        )
        notice_post(session_id=session_id, actor=service, text="z" * 500)
        card, _ = feedback_record(
            session_id=session_id,
            actor=service,
            swing_id="sw_" + "w" * 90,
            summary="s" * 3000,
            metrics={
                "face_angle": 5.2,
                "tempo_ratio": 0.92,
                "carry": {"driver": -1.2, "iron_7": 3.4},
                "raw_series": list(range(400)),
            },
            recommendations=["r" * 400, "Take a stronger grip."],
            level="intermediate",
        )
        return card

    # Outside the thread of the browser's (Playwright's) event loop: the services broadcast.
    return {"session": active_session, "card": in_thread(fill)}


def test_admin_pages_fit_a_1280_px_window(server, browser, admin_user, busy_session):
    session, card = busy_session["session"], busy_session["card"]
    pages = {
        "session": f"/admin/coaching/coachingsession/{session.pk}/change/",
        "sessions": "/admin/coaching/coachingsession/",
        "feedback": f"/admin/coaching/feedback/{card['id']}/change/",
        "feedback-list": "/admin/coaching/feedback/",
    }
    widths, clipped = {}, {}
    context = browser.new_context(
        base_url=server.http_url, viewport={"width": WIDTH, "height": 900}
    )
    try:
        page = context.new_page()
        log_in_admin(page, admin_user)
        for name, path in pages.items():
            page.goto(path)
            widths[name] = page.evaluate("document.documentElement.scrollWidth")
            clipped[name] = page.evaluate(CLIPPED_ROWS)
            page.screenshot(path=str(Path(f"/tmp/admin-{name}.png")), full_page=True)
        page.goto(pages["session"])
        page.locator("#event-log > summary").click()
        widths["session, event log open"] = page.evaluate("document.documentElement.scrollWidth")
        page.locator("#event-log").screenshot(path="/tmp/admin-event-log.png")
    finally:
        context.close()
    assert widths == dict.fromkeys([*pages, "session, event log open"], WIDTH)
    assert clipped == {name: [] for name in pages}


# How many lines each cell's text takes, and whether it fits the cell's width.
ONE_LINE = """cells => cells.map(cell => {
  const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
  const rects = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!node.textContent.trim()) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    rects.push(...[...range.getClientRects()].filter(r => r.width > 0));
  }
  const box = cell.getBoundingClientRect();
  return {text: cell.textContent.trim(), lines: new Set(rects.map(r => Math.round(r.top))).size,
          fits: rects.every(r => r.left >= box.left - 0.5 && r.right <= box.right + 0.5)};
})"""


def log_in_admin(page, admin_user) -> None:
    page.goto("/admin/login/")
    page.fill("#id_username", admin_user.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")


def test_session_page_reads_top_down_with_columns_sized_to_their_content(
    server, browser, admin_user, busy_session, student
):
    """Chat and feedback come before the event log, which is folded and paged; the chat's
    sender and time columns are as wide as their text; times are in TIME_ZONE."""
    from zoneinfo import ZoneInfo

    from coaching.models import SessionEvent

    session = busy_session["session"]

    def more_lines() -> list[tuple[int, str]]:
        for n in range(60):
            chat_message_post(session_id=session.session_id, sender=student, text=f"line {n}")
        rows = SessionEvent.objects.filter(session=session).order_by("-seq")
        zone = ZoneInfo("Asia/Seoul")
        return [(r.seq, r.created_at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")) for r in rows]

    log = in_thread(more_lines)
    context = browser.new_context(
        base_url=server.http_url, viewport={"width": WIDTH, "height": 900}, locale="ko-KR"
    )
    try:
        page = context.new_page()
        log_in_admin(page, admin_user)
        page.goto(f"/admin/coaching/coachingsession/{session.pk}/change/")

        # Order: the session, its chat, its feedback, then the (folded) event log.
        tops = {
            name: page.locator(selector).bounding_box()["y"]
            for name, selector in {
                "session": ".form-row.field-session_id",
                "chat": "#messages-group",
                "feedback": "#feedback-group",
                "log": "#event-log",
            }.items()
        }
        assert list(tops) == sorted(tops, key=tops.get), tops
        log_box = page.locator("#event-log")
        assert log_box.get_attribute("open") is None
        assert log_box.bounding_box()["height"] < 60
        page.screenshot(path="/tmp/admin-session-top.png")

        # The chat's narrow columns keep to one line, as wide as their text.
        for column in ("field-seq", "field-sender_name", "field-sent_at"):
            cells = page.locator(f"#messages-group td.{column}").evaluate_all(ONE_LINE)
            assert len(cells) == 62 and all(c["lines"] == 1 and c["fits"] for c in cells), (
                column,
                [c for c in cells if c["lines"] != 1 or not c["fits"]][:3],
            )
        times = page.locator("#messages-group td.field-sent_at").all_inner_texts()
        chat_times = {t for _, t in log}
        assert set(times) <= chat_times, (times[:3], sorted(chat_times)[:3])
        sender = page.locator("#messages-group td.field-sender_name").first.bounding_box()
        assert sender["width"] >= 30
        for column in ("field-analysed_at", "field-level"):
            cells = page.locator(f"#feedback-group td.{column}").evaluate_all(ONE_LINE)
            assert cells and all(c["lines"] == 1 for c in cells), (column, cells)

        # The log: open it, 50 newest entries, times in TIME_ZONE, one line each; then older.
        page.locator("#event-log > summary").click()
        seqs = [int(s) for s in page.locator("#event-log td.seq").all_inner_texts()]
        assert seqs == [seq for seq, _ in log[:50]]
        shown = page.locator("#event-log td.time").all_inner_texts()
        assert shown == [t for _, t in log[:50]]
        cells = page.locator("#event-log td.time").evaluate_all(ONE_LINE)
        assert all(c["lines"] == 1 and c["fits"] for c in cells)
        epoch = page.locator("#event-log time[data-epoch-ms]").first
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}", epoch.inner_text())
        page.locator("#event-log").screenshot(path="/tmp/admin-session-log.png")
        check_axe(page, "admin session page, event log open")

        page.locator("#event-log .inswing-pager a").first.click()
        page.wait_for_url(re.compile(r"log_before=\d+"))
        assert page.locator("#event-log").get_attribute("open") is not None
        older = [int(s) for s in page.locator("#event-log td.seq").all_inner_texts()]
        assert older == [seq for seq, _ in log[50:100]]
    finally:
        context.close()
