"""The library (/lessons/): past lessons and their filters, the progress chart (the points
the API returns), and share links: one opened signed out (the recap), then revoked (410).

Screenshots land in /tmp/library-*.png; UPDATE_SCREENSHOTS=1 also writes the library and
progress ones to docs/screenshots/.
"""

import os
import re
from pathlib import Path

import pytest

from tests.browser.conftest import DESKTOP, PHONE, check_axe, expect, in_thread, log_in
from tests.support.library import days_ago, past_lesson

DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

TEXT = {
    "ko": {
        "recap_title": "레슨 요약",
        "revoked": "공유가 중지된 링크입니다",
        "progress": "내 실력 변화",
    },
    "en": {
        "recap_title": "Lesson recap",
        "revoked": "This link was turned off",
        "progress": "My progress",
    },
}


def screenshot(target, name: str, *, docs: bool = False, full_page: bool = False) -> None:
    kwargs = {"full_page": full_page} if full_page else {}
    target.screenshot(path=f"/tmp/library-{name}.png", **kwargs)
    if docs and os.environ.get("UPDATE_SCREENSHOTS"):
        DOCS.mkdir(parents=True, exist_ok=True)
        target.screenshot(path=str(DOCS / f"library-{name}.png"), **kwargs)


@pytest.fixture
def library(student, coach, service, make_user):
    """Ian's five past lessons over five weeks with two coaches (driver and irons, the
    face closing towards square, the head speed rising), one with another student, and
    one in progress."""

    def make() -> dict:
        other_coach = make_user("coach", name="Mina Pro")
        other_student = make_user("student", name="Joon")
        lessons = []
        plan = [
            (35, coach, "Driver slice", "driver", [6.1, 5.4, 4.8], [88.0, 90.5, 89.2]),
            (28, coach, "Driver again", "driver", [4.2, 3.9, 4.5], [91.0, 92.4, 90.8]),
            (21, other_coach, "Irons", "7i", [3.1, 2.6], [80.1, 81.0]),
            (14, coach, "Face control", "driver", [2.4, 1.8, 2.2, 1.5], [94.0, 95.3, 93.8, 96.1]),
            (6, other_coach, "", "driver", [1.2, 0.8, -0.4], [97.2, 98.0, 99.1]),
        ]
        for n, (days, who, title, club, faces, speeds) in enumerate(plan):
            swings = [
                (f"s{n}_{i}", club, {"face_angle": face, "swing_speed": speed})
                for i, (face, speed) in enumerate(zip(faces, speeds, strict=True))
            ]
            lessons.append(
                past_lesson(
                    student, who, service, started=days_ago(days), title=title, swings=swings
                )
            )
        joon = past_lesson(other_student, coach, service, started=days_ago(3), title="Putting")
        now = past_lesson(
            student, coach, service, started=days_ago(0), status="active", title="Now"
        )
        return {"lessons": lessons, "joon": joon, "now": now, "other_coach": other_coach}

    return in_thread(make)


def listed(page) -> list[str]:
    return page.locator("#lesson-list > li").evaluate_all("ns => ns.map(n => n.dataset.sessionId)")


def api(page, path: str):
    return page.evaluate(
        "async (path) => (await fetch(path, {headers: {Accept: 'application/json'}})).json()", path
    )


def table_points(page) -> list[tuple[str, str, float, int]]:
    rows = page.locator("#progress-table tbody tr").evaluate_all(
        "rs => rs.map(r => [r.dataset.sessionId, r.dataset.swingId, r.dataset.value, r.dataset.at])"
    )
    return [(s, w, float(v), int(a)) for s, w, v, a in rows]


def expect_chart_of(page, student, metric: str) -> dict:
    """The chart and its table show exactly the points the API returns for `metric`."""
    expect(page.locator("#metric-select")).to_have_value(metric)
    body = api(page, f"/api/students/{student.pk}/progress/?metric={metric}")
    expected = [(p["session_id"], p["swing_id"], p["value"], p["at"]) for p in body["points"]]
    expect(page.locator("#progress-chart")).to_have_attribute("data-points", str(len(expected)))
    expect(page.locator("#progress-table tbody tr")).to_have_count(len(expected))
    assert table_points(page) == list(reversed(expected))  # the table: newest first
    expect(page.locator("#progress-chart canvas")).to_have_count(1)
    return body


@pytest.mark.parametrize(
    ("lang", "viewport"),
    [("ko", DESKTOP), ("ko", PHONE), ("en", PHONE)],
    ids=["ko-desktop", "ko-phone", "en-phone"],
)
def test_a_students_library_lists_filters_and_charts_progress(
    server, student, coach, library, pages, lang, viewport
):
    phone = viewport == PHONE
    page = pages.open("student", lang=lang, viewport=viewport, mobile=phone)
    log_in(page, student, lands_on="/student/")
    page.locator("#library-link").click()
    page.wait_for_url("**/lessons/")

    # Newest first; neither the lesson in progress nor another student's.
    ended = [s.session_id for s in reversed(library["lessons"])]
    expect(page.locator("#lesson-list > li")).to_have_count(5)
    assert listed(page) == ended
    expect(page.locator("#lessons-count")).to_have_text("5")
    first = page.locator("#lesson-list > li").nth(4)
    expect(first.locator(".session-title")).to_have_text("Driver slice")
    expect(first.get_by_role("link", name=re.compile("요약|Recap"))).to_have_attribute(
        "href", f"/sessions/{library['lessons'][0].session_id}/"
    )

    # The progress of my swings: face angle first, as the API has it.
    expect(page.locator("#progress-title")).to_have_text(TEXT[lang]["progress"])
    expect_chart_of(page, student, "face_angle")
    expect(page.locator("#progress-about")).to_contain_text("2.0°")
    if not phone:
        screenshot(page, f"{lang}-desktop", docs=True, full_page=True)
        screenshot(page.locator("#progress"), f"progress-{lang}-desktop", docs=True)
    else:
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        screenshot(page, f"{lang}-phone", docs=True, full_page=True)
        screenshot(page.locator("#progress"), f"progress-{lang}-phone", docs=True)
    check_axe(page, f"library ({lang}, {'phone' if phone else 'desktop'})")

    # Head speed, in the reader's unit (m/s on a Korean page, mph in English).
    page.locator("#metric-select").select_option("swing_speed")
    expect_chart_of(page, student, "swing_speed")
    unit = "m/s" if lang == "ko" else "mph"
    expect(page.locator("#progress-table tbody tr").first.locator("td").last).to_contain_text(unit)

    # Filters: a coach, a club, days; kept in the address.
    other = library["other_coach"]
    page.locator("#filter-coach").select_option(str(other.pk))
    expect(page.locator("#lesson-list > li")).to_have_count(2)
    assert listed(page) == [ended[0], ended[2]]
    assert f"coach={other.pk}" in page.url
    page.locator("#filter-club").select_option("7i")
    expect(page.locator("#lesson-list > li")).to_have_count(1)
    assert listed(page) == [library["lessons"][2].session_id]
    page.locator("#filters-clear").click()
    expect(page.locator("#lesson-list > li")).to_have_count(5)
    page.locator("#filter-from").fill(days_ago(22).date().isoformat())
    page.locator("#filter-to").fill(days_ago(13).date().isoformat())
    page.locator("#filter-to").dispatch_event("change")
    expect(page.locator("#lesson-list > li")).to_have_count(2)
    assert listed(page) == [ended[1], ended[2]]
    # A reload keeps them.
    page.reload()
    expect(page.locator("#lesson-list > li")).to_have_count(2)
    expect(page.locator("#filter-from")).to_have_value(days_ago(22).date().isoformat())
    page.locator("#filter-from").fill("2000-01-01")
    page.locator("#filter-to").fill("2000-01-02")
    page.locator("#filter-to").dispatch_event("change")
    expect(page.locator("#lesson-list > li")).to_have_count(0)
    expect(page.locator("#lessons-status")).to_be_visible()
    assert pages.errors == []


def test_a_coach_picks_a_student_to_see_their_progress(server, student, coach, library, pages):
    page = pages.open("coach", lang="ko")
    log_in(page, coach, lands_on="/coach/")
    page.goto("/lessons/")
    # The lessons I taught: three of Ian's and Joon's.
    expect(page.locator("#lesson-list > li")).to_have_count(4)
    expect(page.locator("#progress")).to_be_hidden()
    page.locator("#filter-student").select_option(str(student.pk))
    expect(page.locator("#lesson-list > li")).to_have_count(3)
    expect(page.locator("#progress")).to_be_visible()
    expect(page.locator("#progress-title")).to_contain_text("Ian")
    # Progress covers all of Ian's lessons, with either coach.
    body = expect_chart_of(page, student, "face_angle")
    assert len({p["session_id"] for p in body["points"]}) == 5
    check_axe(page, "library of a coach, a student picked (ko)")
    assert pages.errors == []


def test_a_share_link_opens_signed_out_until_revoked(server, student, coach, library, pages):
    lang = "ko"
    lesson = library["lessons"][3]
    page = pages.open("student", lang=lang, viewport=PHONE, mobile=True)
    log_in(page, student, lands_on="/student/")
    page.goto("/lessons/")
    item = page.locator(f'#lesson-list li[data-session-id="{lesson.session_id}"]')
    item.locator(".share-toggle").click()
    panel = item.locator(".share-panel")
    expect(panel).to_be_visible()
    panel.locator(".share-days").select_option("14")
    panel.locator(".share-label").fill("민수에게")
    panel.get_by_role("button", name="링크 만들기").click()
    url_box = panel.locator(".share-url")
    expect(url_box).to_be_visible()
    url = url_box.input_value()
    assert re.fullmatch(rf"{server.http_url}/shared/shr_[\w-]+/[\w-]{{43}}/", url), url
    expect(panel.locator(".share-item")).to_have_count(1)
    expect(panel.locator(".share-item .share-name")).to_have_text("민수에게")
    screenshot(
        page.locator(f'#lesson-list li[data-session-id="{lesson.session_id}"]'),
        "share-panel-ko-phone",
    )
    check_axe(page, "library with a share panel open (ko, phone)")

    # Signed out, on a phone: the recap, the people by name, nothing else.
    guest = pages.open("guest", lang=lang, viewport=PHONE, mobile=True)
    response = guest.goto(url)
    assert response.status == 200
    expect(guest.locator("#recap")).to_be_visible()
    expect(guest.locator("#recap h2")).to_have_text(TEXT[lang]["recap_title"])
    expect(guest.locator("#recap .recap-practice li")).to_have_count(4)
    expect(guest.locator("#shared-title")).to_have_text("Face control")
    expect(guest.locator("#shared-student")).to_have_text("Ian")
    expect(guest.locator("#shared-coach")).to_have_text("IanPro")
    expect(guest.locator("#current-user-name")).to_have_count(0)
    html = guest.content()
    secret = url.rstrip("/").rsplit("/", 1)[1]
    for hidden in (secret, student.username, coach.username, lesson.session_id):
        assert hidden not in html, hidden
    screenshot(guest, "shared-ko-phone", docs=True, full_page=True)
    check_axe(guest, "shared recap, signed out (ko, phone)")

    # Revoked: the same link now says so, with a 410.
    panel.get_by_role("button", name=re.compile("중지")).click()
    expect(panel.locator(".share-item")).to_have_attribute("data-state", "revoked")
    response = guest.goto(url)
    assert response.status == 410
    expect(guest.locator("h1")).to_have_text(TEXT[lang]["revoked"])
    expect(guest.locator("#recap")).to_have_count(0)
    screenshot(guest, "shared-revoked-ko-phone")
    check_axe(guest, "revoked share link (ko, phone)")
    assert pages.errors == []
