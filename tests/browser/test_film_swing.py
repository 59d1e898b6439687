"""Filming a swing in the room, in Chromium with a fake camera: a 3 s recording uploads
through a dropped connection without starting over, and plays on both screens."""

import pytest

from tests.browser.conftest import (
    CHROMIUM_ARGS,
    MEDIA_ARGS,
    PHONE,
    ROOT,
    Pages,
    check_axe,
    chromiums,
    expect,
    expect_online,
    in_thread,
    log_in,
)

CHUNK = 64 * 1024
SLOW = 60_000  # a loaded machine: generous waits, never timed assertions


@pytest.fixture(scope="module")
def camera_browser():
    with chromiums(1, CHROMIUM_ARGS + MEDIA_ARGS) as (chromium,):
        yield chromium


@pytest.fixture
def film_server(spawn_server, tmp_path):
    return spawn_server(SWING_UPLOAD_CHUNK_BYTES=str(CHUNK), MEDIA_ROOT=str(tmp_path))


@pytest.fixture
def film_pages(film_server, camera_browser):
    opened = Pages(camera_browser, film_server.http_url)
    yield opened
    opened.close()


def open_room(pages, user, session, name, **options):
    page = pages.open(name, **options)
    log_in(page, user, lands_on="/" + user.role + "/")
    page.goto(f"/sessions/{session.session_id}/")
    expect_online(page, timeout=SLOW)
    return page


def playable(page) -> dict:
    """The review's video, played a moment: whether it decodes and its time moves."""
    return page.evaluate(
        """() => new Promise((resolve) => {
            const v = document.querySelector('#review [data-role="video"]');
            const start = () => v.play().then(() => setTimeout(() => resolve(
                {src: v.currentSrc, ready: v.readyState, time: v.currentTime,
                 error: v.error && v.error.code}), 800), (e) => resolve({error: String(e)}));
            if (v.readyState >= 2) start();
            else v.addEventListener('loadeddata', start, {once: true});
        })"""
    )


def test_a_recorded_swing_resumes_after_a_drop_and_plays_on_both_screens(
    film_pages, student, coach, active_session
):
    coach_page = open_room(film_pages, coach, active_session, "coach")
    page = open_room(film_pages, student, active_session, "student", lang="ko")

    offsets: list[int] = []
    dropped: list[int] = []

    def chunks(route, request) -> None:
        if request.method == "PATCH":
            offset = int(request.headers["upload-offset"])
            offsets.append(offset)
            if offset > 0 and not dropped:  # the connection drops mid-upload, once
                dropped.append(offset)
                route.abort("connectionreset")
                return
        route.continue_()

    page.route("**/api/sessions/*/uploads/*/", chunks)
    film = page.locator("#film")
    expect(film).to_be_visible()
    film.locator("summary").click()  # folded, so that it takes one line until wanted
    film.locator('[data-role="film"]').click()
    record = film.locator('[data-role="record"]')
    expect(record).to_have_text("녹화 시작")
    record.click()
    expect(record).to_have_attribute("aria-pressed", "true")
    page.wait_for_timeout(3000)  # film for three seconds
    record.click()
    status = film.locator('[data-role="status"]')
    expect(status).to_have_text("업로드 완료: 스윙이 레슨에 추가되었습니다.", timeout=SLOW)

    # It went on from where the connection dropped, never from the start again.
    assert dropped and dropped[0] > 0
    assert offsets.count(0) == 1
    after = offsets[offsets.index(dropped[0]) + 1 :]
    assert after and after[0] == dropped[0], offsets
    assert offsets == sorted(offsets)

    from coaching.models import Swing

    swing = in_thread(lambda: Swing.objects.get(session=active_session))
    assert swing.video_url.endswith(".webm") or swing.video_url.endswith(".mp4")
    assert 2500 <= swing.duration_ms <= 10_000  # about three seconds, as recorded
    assert swing.poster_url
    for room in (page, coach_page):
        video = room.locator('#review [data-role="video"]')
        expect(video).to_have_attribute("src", swing.video_url, timeout=SLOW)
        played = playable(room)
        assert played["error"] is None and played["ready"] >= 2, played
        assert played["time"] > 0, played
    assert film_pages.errors == []


def test_a_clip_the_leading_coach_uploads_is_on_both_screens_at_once(
    film_pages, student, coach, service, active_session
):
    from coaching.management.commands.seed_demo import DEMO_SWING
    from coaching.models import Swing
    from coaching.services.swings import swing_attach

    in_thread(swing_attach, session_id=active_session.session_id, actor=service, swing=DEMO_SWING)
    student_page = open_room(film_pages, student, active_session, "student")
    coach_page = open_room(film_pages, coach, active_session, "coach")
    for room in (student_page, coach_page):
        expect(room.locator('#review [data-role="video"]')).to_have_attribute(
            "src", DEMO_SWING["video_url"], timeout=SLOW
        )
    film = coach_page.locator("#film")
    film.locator("summary").click()
    film.locator('[data-role="pick"]').set_input_files(str(ROOT / "static/demo/swing-demo.mp4"))
    expect(film.locator('[data-role="status"]')).to_have_text(
        "Uploaded: the swing is in the lesson.", timeout=SLOW
    )
    uploaded = in_thread(
        lambda: Swing.objects.get(session=active_session, swing_id__startswith="upl_")
    )
    assert uploaded.duration_ms == 3500  # the MP4's own
    # The coach leads the review: the new swing is on screen for both, not only listed.
    for room in (coach_page, student_page):
        expect(room.locator('#review [data-role="video"]')).to_have_attribute(
            "src", uploaded.video_url, timeout=SLOW
        )
    assert film_pages.errors == []


def test_the_film_panel_in_korean_on_a_phone_is_axe_clean(film_pages, student, active_session):
    page = open_room(film_pages, student, active_session, "phone", lang="ko", viewport=PHONE)
    page.locator("#tab-swing").click()
    film = page.locator("#film")
    expect(film).to_be_visible()
    expect(film.locator("h2")).to_have_text("영상 올리기")
    film.locator("summary").press("Enter")  # opens it from the keyboard
    expect(film.locator(".film-pick")).to_contain_text("영상 선택")
    film.locator('[data-role="film"]').click()
    expect(film.locator('[data-role="camera"]')).to_be_visible()
    check_axe(page, "film panel, Korean phone, camera open")
    page.screenshot(path=ROOT / "docs/screenshots/film-swing-ko-phone.png")
    film.locator('[data-role="close"]').click()
    expect(film.locator('[data-role="camera"]')).to_be_hidden()
    # A clip that is not a video is refused in the page before anything is sent.
    film.locator('[data-role="pick"]').set_input_files(
        {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"hello"}
    )
    expect(film.locator('[data-role="error"]')).to_have_text(
        "레슨에 올릴 수 있는 영상 파일이 아닙니다(MP4, MOV, WebM)."
    )
    assert film_pages.errors == []


def test_an_ended_lesson_shows_no_film_panel(film_pages, student, active_session):
    active_session.status = "ended"
    active_session.save()
    page = open_room(film_pages, student, active_session, "ended")
    expect(page.locator("#film")).to_be_hidden()
