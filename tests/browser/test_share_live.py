"""Watching a running lesson through a share link: a signed-out phone on the link follows
the room live and read-only (a chat line and a card arrive as they are made), the
coach's room shows how many watch, and revoking the link closes the viewer at once and
its reload answers 410.

Screenshots land in /tmp/share-live-*.png; UPDATE_SCREENSHOTS=1 also writes them to
docs/screenshots/.
"""

import os
import urllib.request
from pathlib import Path

import pytest

from coaching.services.shares import share_create, share_path
from tests.browser.conftest import (
    DESKTOP,
    PHONE,
    AnalysisPoster,
    check_axe,
    expect,
    expect_online,
    log_in,
)
from tests.support.auth import token_for

DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def screenshot(page, name: str) -> None:
    page.screenshot(path=f"/tmp/share-live-{name}.png")
    if os.environ.get("UPDATE_SCREENSHOTS"):
        DOCS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(DOCS / f"share-live-{name}.png"))


@pytest.fixture
def link(student, active_session) -> str:
    share, secret = share_create(session_id=active_session.session_id, user=student)
    return share_path(share.share_id, secret)


def test_a_signed_out_phone_watches_live_until_the_link_is_revoked(
    server, student, coach, service, active_session, link, pages
):
    coach_page = pages.open("coach", lang="en", viewport=DESKTOP)
    log_in(coach_page, coach, lands_on="/coach/")
    coach_page.goto(f"/sessions/{active_session.session_id}/")
    expect_online(coach_page)
    expect(coach_page.locator("#watching")).to_be_hidden()

    # Signed out, on a phone, in Korean: the room, read-only, live.
    guest = pages.open("guest", lang="ko", viewport=PHONE, mobile=True)
    response = guest.goto(link)
    assert response.status == 200
    expect_online(guest)
    expect(guest.locator("#share-note")).to_have_text(
        "공유 링크로 실시간 시청 중입니다 (읽기 전용)."
    )
    expect(guest.locator("#current-user-name")).to_have_count(0)
    expect(guest.locator("#chat-form")).to_be_hidden()
    expect(guest.locator("#coach-controls")).to_be_hidden()
    expect(guest.locator("#presence-list")).to_have_count(0)
    html = guest.content()
    for hidden in (link.rstrip("/").rsplit("/", 1)[1], student.username, coach.username):
        assert hidden not in html, hidden

    # The room counts the viewer, politely, and never lists it.
    watching = coach_page.locator("#watching")
    expect(watching).to_have_text("1 watching")
    expect(watching).to_have_attribute("role", "status")
    expect(coach_page.locator("#presence-list li")).to_have_count(1)

    # A chat line and a card reach the viewer as they are made.
    coach_page.locator("#chat-input").fill("Watch the hips turn first.")
    coach_page.locator("#chat-input").press("Enter")
    line = guest.locator("#chat-list .chat-msg .chat-text").last
    expect(line).to_have_text("Watch the hips turn first.")
    AnalysisPoster(service, active_session.session_id, server.http_url).post(
        "feedback",
        swing_id="sw_1",
        summary="The club face tends to be open at impact.",
        metrics={"face_angle": 4.2},
        recommendations=["Take a slightly stronger grip."],
        level="intermediate",
    )
    expect(guest.locator("#chat-list > li.tl-card[data-seq]")).to_have_count(1)
    guest.locator("#tab-analysis").click()
    expect(guest.locator('.feedback-card[data-swing-id="sw_1"]')).to_be_visible()
    expect(guest.locator(".checkpoint-form")).to_have_count(0)
    screenshot(guest, "ko-phone")
    check_axe(guest, "share link, live lesson, signed out (ko, phone)")
    guest.locator("#tab-chat").click()
    check_axe(coach_page, "room with a share viewer watching (en)")

    # Revoked (as the student's page does): the viewer is closed at once and says so; the
    # room's count goes.
    share_id = link.split("/")[2]
    revoke = urllib.request.Request(
        f"{server.http_url}/api/sessions/{active_session.session_id}/shares/{share_id}/",
        method="DELETE",
        headers={"Authorization": f"Bearer {token_for(student)}"},
    )
    with urllib.request.urlopen(revoke, timeout=10) as answer:
        assert answer.status in (200, 204)
    expect(guest.locator("#session-error")).to_have_text("공유가 취소되었습니다.")
    expect(watching).to_be_hidden()
    check_axe(guest, "share link revoked while watching (ko, phone)")
    response = guest.reload()
    assert response.status == 410
    expect(guest.locator("#chat-list")).to_have_count(0)
    assert pages.errors == []
