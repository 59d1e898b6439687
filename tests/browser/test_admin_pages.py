"""The admin in a real browser: no page wider than a 1280 px window, whatever the payloads.

Rows are made by fixtures through `in_thread` (Playwright's loop refuses the ORM in its thread).
Screenshots land in /tmp/admin-*.png for a look.
"""

from pathlib import Path

import pytest

from coaching.services.analysis import feedback_record
from coaching.services.chat import chat_message_post
from coaching.services.notices import notice_post
from tests.browser.conftest import PASSWORD, in_thread

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
        page.goto("/admin/login/")
        page.fill("#id_username", admin_user.username)
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_url("**/admin/")
        for name, path in pages.items():
            page.goto(path)
            widths[name] = page.evaluate("document.documentElement.scrollWidth")
            clipped[name] = page.evaluate(CLIPPED_ROWS)
            page.screenshot(path=str(Path(f"/tmp/admin-{name}.png")), full_page=True)
        page.goto(pages["session"])
        page.locator(".field-event_log").screenshot(path="/tmp/admin-event-log.png")
    finally:
        context.close()
    assert widths == dict.fromkeys(pages, WIDTH)
    assert clipped == {name: [] for name in pages}
