"""A student whose link goes silent (offline, no close) is shown as lost on the coach's
screen within 10 s, with the seconds since, and as here again once back."""

import re

from tests.browser.conftest import expect, expect_online, log_in


def test_the_coach_sees_a_silent_student_as_lost_then_back(
    server, active_session, student, coach, pages
):
    session_url = f"/sessions/{active_session.session_id}/"
    student_page = pages.open("student")
    log_in(student_page, student, lands_on="/student/")
    student_page.goto(session_url)
    expect_online(student_page)
    coach_page = pages.open("coach")
    log_in(coach_page, coach, lands_on="/coach/")
    coach_page.goto(session_url)
    expect_online(coach_page)
    ian = coach_page.locator(f'#presence-list [data-user-id="{student.pk}"]')
    expect(ian).to_have_count(1)
    expect(ian).not_to_have_class(re.compile("is-lost"))

    student_page.context.set_offline(True)  # frames stop; no close reaches the server
    expect(ian).to_have_class(re.compile("is-lost"), timeout=10_000)
    expect(ian.locator(".connection-lost")).to_have_text(re.compile(r"\d"))

    student_page.context.set_offline(False)
    expect(ian).not_to_have_class(re.compile("is-lost"), timeout=20_000)
    expect(ian).to_have_count(1)
