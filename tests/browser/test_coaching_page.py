"""Pages around the lesson: a server restart, someone else's lesson, a lost claim.

The lesson itself is in test_lesson_room.py.
"""

from tests.browser.conftest import expect, expect_online, in_thread, log_in, post_json
from tests.support.auth import token_for


def chat_lines(page):
    return page.locator("#chat-list .chat-msg .chat-text")


def test_session_page_catches_up_after_reconnect(server, active_session, student, coach, pages):
    """The page rejoins with the last seq it has and gets what it missed, once."""
    from coaching.services.chat import chat_message_post
    from coaching.services.sessions import session_control

    session_id = active_session.session_id
    in_thread(chat_message_post, session_id=session_id, sender=coach, text="Warm up first.")

    page = pages.open("student")
    log_in(page, student, lands_on="/student/")
    page.goto(f"/sessions/{session_id}/")
    expect_online(page)
    expect(chat_lines(page)).to_have_text(["Warm up first."])
    expect(page.locator("#presence-list .presence-name")).to_have_text(["Ian"])

    server.stop()
    expect(page.locator("#connection")).to_have_attribute("data-state", "reconnecting")
    expect(page.locator("#connection-banner .banner-message")).not_to_be_empty()
    # Written while the page is cut off: no server is there to broadcast it.
    in_thread(chat_message_post, session_id=session_id, sender=coach, text="While you were away")
    in_thread(session_control, session_id=session_id, actor=coach, status="paused")
    server.start()

    expect_online(page, timeout=20_000)
    expect(chat_lines(page)).to_have_text(["Warm up first.", "While you were away"])
    expect(page.locator("#state-banner")).to_have_attribute("data-kind", "paused")
    expect(page.locator("#presence-list .presence-name")).to_have_text(["Ian"])
    expect(page.locator("#session-error")).to_be_hidden()
    assert pages.errors == []


def test_session_page_of_someone_else_is_not_found_and_logout(
    server, active_session, make_user, pages
):
    outsider = in_thread(make_user, "student", name="Outsider")
    page = pages.open("outsider")
    log_in(page, outsider, lands_on="/student/")
    response = page.goto(f"/sessions/{active_session.session_id}/")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Lesson not found")).to_be_visible()
    assert page.goto("/sessions/sess_does_not_exist/").status == 404

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/login/")
    assert page.goto("/student/").url.endswith("/login/?next=/student/")


def test_language_switch_persists(server, student, pages):
    page = pages.open("student", lang="en")
    log_in(page, student, lands_on="/student/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.locator("#language-select").select_option("ko")
    page.wait_for_url("**/student/")
    expect(page.locator("html")).to_have_attribute("lang", "ko")
    expect(page.locator("#start-button")).to_have_text("실시간 코칭 시작")
    page.goto("/student/")
    expect(page.locator("html")).to_have_attribute("lang", "ko")


def test_coach_sees_a_lost_claim(server, waiting_session, coach, make_user, pages):
    """Two coaches race for one session: the loser is told, and the entry leaves the list."""
    rival = in_thread(make_user, "coach", name="RivalPro")
    rival_token = token_for(rival)
    claim_path = f"/api/sessions/{waiting_session.session_id}/claim/"

    page = pages.open("coach")
    log_in(page, coach, lands_on="/coach/")
    # The beep is opt-in and remembered.
    page.locator("#sound-toggle").check()
    page.reload()
    expect(page.locator("#sound-toggle")).to_be_checked()
    entry = page.locator(f'#waiting-list li[data-session-id="{waiting_session.session_id}"]')
    expect(entry).to_be_visible()  # from the lobby's join reply

    def rival_claims_first(route):
        status, body = post_json(server.http_url + claim_path, rival_token, {})
        assert status == 200, (status, body)
        route.continue_()

    page.route(f"**{claim_path}", rival_claims_first)
    entry.get_by_role("button", name="Claim the lesson of Ian").click()
    expect(page.locator("#lobby-error")).to_have_text("Another coach has claimed this session.")
    expect(entry).to_have_count(0)
    expect(page.locator("#waiting-empty")).to_be_visible()
    assert page.url.endswith("/coach/")
    assert pages.errors == []
