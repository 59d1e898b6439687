"""The replay page in Chromium: a real lesson over sockets (a coach-led review with a seek,
a pause, a rate change, play, a drawing and its clear, chat and a quiet minute), ended,
then played back: the player at the recorded media positions, the drawing when it was
drawn and gone when it was cleared, the chat lines at their moments, x2, skipping the
quiet stretch, the scrub bar's moments and the keyboard; a share link's replay signed
out, gone once revoked. axe-core on the phone and the desktop; the screenshots in
docs/screenshots/replay-*.png.
"""

import json
import time

import pytest

from coaching.models import CoachingSession
from coaching.replay import replay_document
from coaching.services.shares import share_create, share_path, share_revoke
from tests.browser.conftest import DESKTOP, PHONE, ROOT, check_axe, expect, in_thread
from tests.browser.test_review import VIDEO, attach_swing, enter, log_in, scrub_to, swing
from tests.support.library import days_ago, past_lesson

SCREENSHOTS = ROOT / "docs" / "screenshots"
PLAYER = "#replay-video"
CLOSE_MS = 100  # the player within this of the recorded media time
QUIET_S = 7  # a stretch of the lesson with nothing happening (longer than QUIET_MS, 5 s)


@pytest.fixture
def clip():
    if not (ROOT / "static" / "demo" / "swing-demo.mp4").exists():
        pytest.skip("no demo clip under static/demo/")
    return "/static/demo/swing-demo.mp4"


def send(page, text: str) -> None:
    chat_tab = page.locator("#tab-chat")
    if chat_tab.is_visible():  # a phone: the chat is a tab of its own
        chat_tab.click()
    page.locator("#chat-input").fill(text)
    page.locator("#chat-input").press("Enter")
    expect(page.locator("#chat-input")).to_have_value("")


def end_lesson(coach_page, watcher) -> None:
    """The coach ends the lesson (confirming); `watcher`'s room says so."""
    coach_page.once("dialog", lambda dialog: dialog.accept())
    coach_page.locator("#end-button").click()
    expect(watcher.locator("#state-banner")).to_have_attribute("data-kind", "ended")


def position_at(document: dict, t: int) -> float:
    """The recorded media position of the main swing at replay moment `t` (the protocol's
    formula on the last state at or before it), as the replay must show it."""
    states = [r["state"] for r in document["review"] if r["kind"] == "state" and r["at_ms"] <= t]
    if not states:
        return 0.0
    state = states[-1]
    moved = (t - state["server_ts"]) * state["rate"] if state["playing"] else 0
    return state["position_ms"] + max(0, moved)


def recorded(session_id: str, predicate, timeout: float = 10.0) -> dict:
    """The lesson's replay document once `predicate` holds (the recorder writes off the
    live path, a moment after the change)."""
    deadline = time.monotonic() + timeout
    while True:
        document = in_thread(
            lambda: replay_document(CoachingSession.objects.get(session_id=session_id))
        )
        if predicate(document) or time.monotonic() > deadline:
            return document
        time.sleep(0.2)


def scrub(page, offset_ms: float) -> None:
    """The replay's clock to `offset_ms` into the lesson, by its scrub bar."""
    page.locator("#replay-scrub").fill(str(offset_ms))


def clock_and_media(page) -> tuple[float, float]:
    """(the replay's offset, the player's media position), at one instant of the page."""
    return tuple(
        page.evaluate(
            """() => [Number(document.getElementById('replay-scrub').value),
                      document.getElementById('replay-video').currentTime * 1000]"""
        )
    )


def expect_media_at(page, expected_ms: float) -> None:
    page.wait_for_function(
        f"""() => {{ const v = document.querySelector('{PLAYER}');
            return v.readyState >= 1 && !v.seeking
              && Math.abs(v.currentTime * 1000 - {expected_ms}) < {CLOSE_MS}; }}"""
    )


def chat_lines(page) -> list[str]:
    return page.locator("#chat-list .chat-text").all_text_contents()


def test_a_lesson_replays_as_it_happened(
    server, active_session, student, coach, service, pages, clip
):
    session_id = active_session.session_id
    attach_swing(server, service, session_id, swing("sw_demo", clip))
    coach_page = pages.open("coach", viewport=DESKTOP)
    student_page = pages.open("student", viewport=PHONE, mobile=True)
    enter(coach_page, coach, session_id)
    enter(student_page, student, session_id)

    # The lesson: chat, a coach-led review (seek, pause, 0.5x, play, pause), a drawing
    # and its clear, a quiet stretch, more chat; then the end.
    send(student_page, "Here is my driver swing")
    scrub_to(coach_page, 1200)
    coach_page.locator(VIDEO).evaluate("v => v.pause()")
    coach_page.get_by_role("button", name="0.5\N{MULTIPLICATION SIGN}").click()
    time.sleep(0.6)
    scrub_to(coach_page, 200)
    time.sleep(0.6)
    coach_page.get_by_role("button", name="Play the swing").click()
    time.sleep(1.5)
    coach_page.get_by_role("button", name="Pause the swing").click()
    time.sleep(0.6)
    coach_page.get_by_role("button", name="Line").click()
    coach_page.locator(VIDEO).evaluate("v => v.scrollIntoView({block: 'center'})")
    box = coach_page.locator(VIDEO).bounding_box()
    coach_page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3)
    coach_page.mouse.down()
    coach_page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.7, steps=5)
    coach_page.mouse.up()
    expect(student_page.locator("#review .review-overlay .shape-line")).to_have_count(1)
    time.sleep(1.5)
    coach_page.get_by_role("button", name="Clear drawing").click()
    expect(student_page.locator("#review .review-overlay .shape-line")).to_have_count(0)
    time.sleep(QUIET_S)
    send(coach_page, "Keep the lead arm straight at the top")
    time.sleep(0.5)
    end_lesson(coach_page, student_page)

    document = recorded(
        session_id,
        lambda d: (
            any(r["kind"] == "clear" for r in d["review"])
            and any(
                r["kind"] == "state" and r["state"]["rate"] == 0.5 and r["state"]["playing"]
                for r in d["review"]
            )
        ),
    )
    review = document["review"]
    start = document["start_ms"]
    plays = [r for r in review if r["kind"] == "state" and r["state"]["playing"]]
    stroke = next(r for r in review if r["kind"] == "stroke")
    clear = next(r for r in review if r["kind"] == "clear")
    chats = [e for e in document["events"] if e["event"] == "chat:added"]
    assert plays and stroke["at_ms"] < clear["at_ms"] and len(chats) == 2

    # ---- the student replays it on a phone ------------------------------------------------
    # From the recap in the room.
    page = student_page
    page.locator("#recap").get_by_role("link", name="Watch the replay").click()
    page.wait_for_url(f"**/sessions/{session_id}/replay/")
    page.wait_for_function(f"document.querySelector('{PLAYER}').readyState >= 2", timeout=15_000)
    assert json.loads(page.locator("#replay-data").text_content()) == json.loads(
        json.dumps(document)
    )

    # Paused at chosen moments: the recorded frame.
    play = plays[0]
    for t in (
        stroke["at_ms"] - 200,  # paused after the play
        play["at_ms"] + 400,  # mid-play at 0.5x
        play["at_ms"] - 300,  # the seek to 0.2 s before it
    ):
        scrub(page, t - start)
        expect_media_at(page, position_at(document, t))

    # Playing through the review: at each sampled instant, where the recording had it.
    scrub(page, play["at_ms"] - 500 - start)
    page.get_by_role("button", name="Play the replay").click()
    samples = []
    for _ in range(8):
        time.sleep(0.15)
        offset, media = clock_and_media(page)
        samples.append((offset, media, position_at(document, start + offset)))
    page.get_by_role("button", name="Pause the replay").click()
    off = [abs(media - expected) for _, media, expected in samples]
    print(f"\nreplayed media position vs recorded, playing: max {max(off):.0f} ms, {samples}")
    assert max(off) < CLOSE_MS, samples

    # The drawing appears when it was drawn and goes with its clear.
    shapes = page.locator("#replay-screen .review-overlay .shape-line")
    scrub(page, stroke["at_ms"] - 100 - start)
    expect(shapes).to_have_count(0)
    scrub(page, stroke["at_ms"] + 100 - start)
    expect(shapes).to_have_count(1)
    scrub(page, clear["at_ms"] + 100 - start)
    expect(shapes).to_have_count(0)

    # Chat lines at their moments, played across the first one.
    scrub(page, chats[0]["at_ms"] - 800 - start)
    assert chat_lines(page) == []
    page.keyboard.press("Space")
    expect(page.locator("#chat-list .chat-text")).to_have_text(["Here is my driver swing"])
    page.keyboard.press("Space")
    scrub(page, chats[1]["at_ms"] + 50 - start)
    expect(page.locator("#chat-list .chat-text")).to_have_text(
        ["Here is my driver swing", "Keep the lead arm straight at the top"]
    )
    scrub(page, chats[1]["at_ms"] - 50 - start)
    expect(page.locator("#chat-list .chat-text")).to_have_text(["Here is my driver swing"])

    # Skipping the quiet stretch: from just after the clear to just before the next line.
    page.get_by_role("button", name="Skip quiet stretches").click()
    expect(page.get_by_role("button", name="Skip quiet stretches")).to_have_attribute(
        "aria-pressed", "true"
    )
    scrub(page, clear["at_ms"] + 500 - start)
    page.keyboard.press("Space")
    expect(page.locator("#replay-status")).to_contain_text("Skipped")
    expect(page.locator("#chat-list .chat-text")).to_have_count(2, timeout=3_000)
    page.keyboard.press("Space")

    # x2: the clock runs at twice the wall clock (the player at the recording's rate x2).
    page.get_by_role("button", name="\N{MULTIPLICATION SIGN}2").click()
    page.get_by_role("button", name="Skip quiet stretches").click()  # off again
    scrub(page, 0)
    before = clock_and_media(page)[0]
    began = time.monotonic()
    page.keyboard.press("Space")
    time.sleep(1.0)
    after = clock_and_media(page)[0]
    elapsed = time.monotonic() - began
    page.keyboard.press("Space")
    print(f"x2: the replay moved {after - before:.0f} ms in {elapsed * 1000:.0f} ms")
    assert after - before > 1.5 * elapsed * 1000 * 0.8

    # The scrub bar's moments jump there: a tick (pointer), the list (keyboard), "]".
    tick = page.locator("#replay-ticks .replay-tick[data-kind=drawing]").first
    tick.click()
    assert clock_and_media(page)[0] == int(tick.get_attribute("data-at")) - start
    expect(shapes).to_have_count(1)
    page.locator("#replay-controls-title").evaluate("n => n.closest('section').scrollIntoView()")
    page.get_by_text("Moments").click()
    swing_moment = page.locator("#replay-moments button[data-kind=swing]")
    swing_moment.focus()
    page.keyboard.press("Enter")
    assert clock_and_media(page)[0] == max(0, int(swing_moment.get_attribute("data-at")) - start)
    moments = [
        int(at)
        for at in page.locator("#replay-moments button").evaluate_all(
            "buttons => buttons.map((b) => b.dataset.at)"
        )
    ]
    page.evaluate("document.activeElement.blur()")
    page.keyboard.press("Home")
    assert clock_and_media(page)[0] == 0
    page.keyboard.press("]")
    assert clock_and_media(page)[0] == next(at for at in moments if at > start + 1) - start
    page.keyboard.press("End")
    page.keyboard.press("[")
    assert clock_and_media(page)[0] == moments[-1] - start

    # axe, and the screenshot (in Korean) at the drawing's moment.
    scrub(page, stroke["at_ms"] + 100 - start)
    expect(shapes).to_have_count(1)
    check_axe(page, "replay (student, phone)")
    phone = pages.open("student-ko", lang="ko", viewport=PHONE, mobile=True)
    log_in(phone, student)
    phone.goto(f"/sessions/{session_id}/replay/")
    phone.wait_for_function(f"document.querySelector('{PLAYER}').readyState >= 2")
    scrub(phone, stroke["at_ms"] + 100 - start)
    expect(phone.locator("#replay-screen .review-overlay .shape-line")).to_have_count(1)
    expect(phone.locator("#replay-play")).to_have_attribute("aria-label", "다시 보기 재생")
    check_axe(phone, "replay (student, phone, ko)")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    phone.evaluate("document.activeElement.blur(); window.scrollTo(0, 0)")
    phone.screenshot(path=str(SCREENSHOTS / "replay-phone.png"))

    # ---- the coach on a laptop, in Korean ----------------------------------------------------
    desk = pages.open("coach-ko", lang="ko", viewport=DESKTOP)
    log_in(desk, coach)
    desk.goto(f"/sessions/{session_id}/replay/")
    desk.wait_for_function(f"document.querySelector('{PLAYER}').readyState >= 2", timeout=15_000)
    expect(desk.get_by_role("button", name="건너뛰기", exact=False)).to_be_visible()
    scrub(desk, stroke["at_ms"] + 100 - start)
    expect(desk.locator("#replay-screen .review-overlay .shape-line")).to_have_count(1)
    check_axe(desk, "replay (coach, desktop, ko)")
    desk.evaluate("window.scrollTo(0, 0)")
    desk.screenshot(path=str(SCREENSHOTS / "replay-desktop.png"))

    # ---- a share link's replay, signed out; gone once revoked --------------------------------
    share, secret = in_thread(share_create, session_id=session_id, user=student)
    guest = pages.open("guest", viewport=PHONE, mobile=True)
    guest.goto(share_path(share.share_id, secret))
    guest.get_by_role("link", name="Watch the replay").click()
    guest.wait_for_function(f"document.querySelector('{PLAYER}').readyState >= 2", timeout=15_000)
    scrub(guest, chats[1]["at_ms"] + 50 - start)
    expect(guest.locator("#chat-list .chat-text")).to_have_count(2)
    scrub(guest, play["at_ms"] + 400 - start)
    expect_media_at(guest, position_at(document, play["at_ms"] + 400))
    check_axe(guest, "shared replay (signed out, phone)")
    in_thread(share_revoke, session_id=session_id, share_id=share.share_id, user=student)
    response = guest.goto(share_path(share.share_id, secret) + "replay/")
    assert response.status == 410
    assert pages.errors == []


RECORDING = """async (doc) => {
  const { Recording } = await import('/static/coaching/replay/recording.js');
  const r = new Recording(doc);
  const at = (t) => ({
    position: r.positionAt(t), shapes: r.shapesAt(t).length, events: r.eventCount(t),
  });
  return {
    moments: [1000, 1500, 2500, 3500, 4500, 5500, 7000, 30000].map(at),
    quiet: r.quiet,
    markers: r.markers().map((m) => [m.kind, m.at_ms]),
  };
}"""


def state(at: int, swing_id: str, playing: bool, position: int, rate: float = 1) -> dict:
    body = {"swing_id": swing_id, "playing": playing, "position_ms": position, "rate": rate}
    return {"at_ms": at, "kind": "state", "state": {**body, "server_ts": at}}


def stroke(at: int, swing_id: str, points=((0.1, 0.1), (0.5, 0.5))) -> dict:
    shape = {"kind": "line", "points": [list(p) for p in points]}
    by = {"id": "1", "name": "Pro"}
    return {
        "at_ms": at,
        "kind": "stroke",
        "swing_id": swing_id,
        "stroke": {"shape": shape, "by": by},
    }


def test_the_recording_read_at_a_moment(server, pages):
    """recording.js on a made-up lesson: the position by the protocol's formula within the
    swing's length, strokes until a clear of their swing, another swing or play (a
    cancelled stroke draws nothing), the events by then, the moments (clamped to the
    lesson; a drawing's strokes on one swing count once) and the quiet stretches
    (nothing logged, recorded or playing for over 5 s)."""
    swings = [
        {"swing_id": "a", "video_url": "/static/demo/swing-demo.mp4", "duration_ms": 3000},
        {"swing_id": "b", "video_url": "/static/demo/swing-demo.mp4", "duration_ms": 3000},
    ]
    chat = {"seq": 2, "sender": {"id": "1", "name": "Pro"}, "message": "hi"}
    document = {
        "session": {"id": "s", "created_at": 0},
        "start_ms": 1000,
        "end_ms": 30000,
        "swings": swings,
        "events": [
            {
                "seq": 1,
                "at_ms": 500,
                "event": "swing:added",
                "payload": {"seq": 1, "swing": swings[0]},
            },
            {"seq": 2, "at_ms": 2000, "event": "chat:added", "payload": chat},
            {"seq": 3, "at_ms": 6000, "event": "ai:feedback", "payload": {"seq": 3, "id": 9}},
        ],
        "review": [
            state(1200, "a", False, 400),
            stroke(1300, "a"),
            stroke(1400, "a", points=((0.2, 0.2), (0.2, 0.2))),  # cancelled
            state(2000, "a", True, 400, rate=0.5),  # play: the drawing goes
            stroke(2100, "a"),
            state(3000, "a", False, 900),
            stroke(3100, "a"),
            {"at_ms": 3200, "kind": "clear", "swing_id": "b", "by": {"id": "1", "name": "Pro"}},
            state(4000, "b", False, 100),  # another swing: the drawing goes
            stroke(4100, "b"),
            state(5000, "b", True, 2900),  # reaches the end of b (3000) 100 ms later
        ],
    }
    page = pages.open("reader")
    page.goto("/login/")
    read = page.evaluate(RECORDING, document)
    assert read["moments"] == [
        {"position": 0, "shapes": 0, "events": 1},  # 1000: before any state
        {"position": 400, "shapes": 1, "events": 1},  # the cancelled stroke is not drawn
        {"position": 650, "shapes": 1, "events": 2},  # 2500: playing at 0.5 since 2000
        {"position": 900, "shapes": 2, "events": 2},  # a clear of another swing
        {"position": 100, "shapes": 1, "events": 2},  # swing b, its own stroke only
        {"position": 3000, "shapes": 0, "events": 2},  # clamped to b's length; play wiped
        {"position": 3000, "shapes": 0, "events": 3},
        {"position": 3000, "shapes": 0, "events": 3},
    ]
    assert read["markers"] == [
        ["swing", 1000],
        ["drawing", 1300],
        ["drawing", 4100],
        ["card", 6000],
    ]
    # From 6000 (the card) nothing happens until the end; b stopped playing at 5100.
    assert read["quiet"] == [[7000, 30000]]


def test_a_compared_swing_replays_beside_the_main_one(
    server, active_session, coach, service, pages, clip
):
    """The coach compared two swings (the second stepped 10 frames ahead): the replay shows
    the compared swing beside the main one from then on, at the recorded offset."""
    session_id = active_session.session_id
    attach_swing(server, service, session_id, swing("sw_demo", clip))
    attach_swing(server, service, session_id, swing("sw_after", clip, label="After"))
    page = pages.open("coach", viewport=DESKTOP)
    enter(page, coach, session_id)
    scrub_to(page, 500)
    page.locator(VIDEO).evaluate("v => v.pause()")
    time.sleep(0.5)
    page.get_by_role("button", name="Compare side by side").click()
    page.wait_for_function(
        "document.querySelector('#review video[data-role=compare-video]').readyState >= 2"
    )
    for _ in range(10):
        page.get_by_role("button", name="Compared swing: one frame forward").click()
    time.sleep(1.0)
    end_lesson(page, page)
    document = recorded(
        session_id,
        lambda d: any(
            r["kind"] == "state" and (r["state"].get("compare") or {}).get("offset_ms")
            for r in d["review"]
        ),
    )
    compared = [r for r in document["review"] if r["kind"] == "state" and r["state"]["compare"]]
    last = compared[-1]
    start = document["start_ms"]
    offset = last["state"]["compare"]["offset_ms"]
    assert offset > 0

    page.goto(f"/sessions/{session_id}/replay/")
    page.wait_for_function(f"document.querySelector('{PLAYER}').readyState >= 2", timeout=15_000)
    screen = page.locator("#replay-compare-screen")
    scrub(page, compared[0]["at_ms"] - 200 - start)
    expect(screen).to_be_hidden()
    scrub(page, last["at_ms"] + 100 - start)
    expect(screen).to_be_visible()
    expect(page.locator("#replay-compare-label")).to_have_text("After")
    expect(page.locator("#replay-compare-status")).to_contain_text("ahead of the main one")
    main = position_at(document, last["at_ms"] + 100)
    page.wait_for_function(
        f"""() => Math.abs(document.getElementById('replay-compare-video').currentTime * 1000
                - {main + offset}) < {CLOSE_MS}"""
    )
    check_axe(page, "replay comparing two swings (desktop)")
    assert pages.errors == []


def test_a_lesson_without_swings_replays_to_its_end(server, student, coach, service, pages):
    """No swing, no recorded review: the page says so, and x4 with the quiet stretches
    skipped plays the whole lesson to its end, where it stops."""
    lesson = in_thread(lambda: past_lesson(student, coach, service, started=days_ago(1), minutes=2))
    page = pages.open("student", lang="ko", viewport=PHONE, mobile=True)
    log_in(page, student)
    page.goto(f"/sessions/{lesson.session_id}/replay/")
    expect(page.locator("#replay-empty")).to_be_visible()
    expect(page.locator("#replay-total")).to_have_text("2:00")
    page.get_by_role("button", name="\N{MULTIPLICATION SIGN}4").click()
    page.locator("#replay-skip").click()
    page.locator("#replay-play").click()
    expect(page.locator("#replay-elapsed")).to_have_text("2:00")
    expect(page.locator("#replay-play")).to_have_attribute("data-playing", "false")
    expect(page.locator("#replay-status")).to_contain_text("건너뜀")
    check_axe(page, "replay of a lesson without swings (ko, phone)")
    assert pages.errors == []
