"""The session page when the user's access ends elsewhere: it fetches a new socket token,
or goes to the login page when the Django session is gone too."""

import pytest
from django.conf import settings
from playwright.sync_api import expect

from tests.browser.conftest import expect_online, in_thread, log_in


def socket_token_requests(page) -> list[str]:
    fetched: list[str] = []
    page.on(
        "request", lambda r: fetched.append(r.url) if "/api/auth/socket-token/" in r.url else None
    )
    return fetched


def test_logging_out_in_another_tab_sends_the_page_to_login(
    server,
    student,
    active_session,
    pages,
):
    page = pages.open("student")
    log_in(page, student, lands_on="/student/")
    page.goto(f"/sessions/{active_session.session_id}/")
    expect_online(page)

    other_tab = page.context.new_page()
    other_tab.goto("/student/")
    other_tab.get_by_role("button", name="Log out").click()
    other_tab.wait_for_url("**/login/")

    # The server closes the page's socket; the page's new token request gets a 401.
    page.wait_for_url("**/login/**")
    assert pages.errors == []


@pytest.mark.skipif(not settings.REDIS_URL, reason="the change is made in this process")
def test_after_a_role_change_the_page_reconnects_with_a_new_token(
    server,
    student,
    active_session,
    pages,
):
    page = pages.open("student")
    fetched = socket_token_requests(page)
    log_in(page, student, lands_on="/student/")
    page.goto(f"/sessions/{active_session.session_id}/")
    expect_online(page)
    assert len(fetched) == 1

    student.is_staff = True
    in_thread(student.save)

    expect(page.locator("#connection")).to_have_attribute("data-state", "reconnecting")
    expect_online(page, timeout=15_000)
    assert len(fetched) >= 2
    assert pages.errors == []
