"""The review panel in two real browsers: the coach on a laptop, the student on a phone.

Coach-led sync, drawing, saved annotations, watching alone and handing over the lead,
against a real daphne process. Sync figures are printed (run with -s to see them), not
asserted: the machine is shared and timings are noisy.

Both browsers and the server run on this machine, so `Date.now()` in either page is the
server's clock; positions sampled in the two pages are compared at the same clock time.
"""

import re
import statistics
import time

import pytest

from tests.browser.conftest import (
    AXE,
    DESKTOP,
    PASSWORD,
    PHONE,
    ROOT,
    expect,
    in_thread,
    post_json,
)
from tests.browser.conftest import check_axe as check_axe_installed
from tests.support.auth import token_for

SCREENSHOTS = ROOT / "docs" / "screenshots"
FPS = 30
SPEED_QUARTER = "0.25\N{MULTIPLICATION SIGN}"
SPEED_HALF = "0.5\N{MULTIPLICATION SIGN}"

VIDEO = "#review video[data-role=video]"


def demo_clips() -> list[str]:
    """The clips shipped under static/demo/ (the demo swing), as URLs."""
    demo = ROOT / "static" / "demo"
    return sorted(f"/static/demo/{p.name}" for p in [*demo.glob("*.mp4"), *demo.glob("*.webm")])


@pytest.fixture
def clips():
    found = demo_clips()
    if not found:
        pytest.skip("no demo clip under static/demo/")
    return found


def check_axe(page, label: str) -> None:
    """Where axe-core is installed: no serious or critical violations on the page as it is."""
    if AXE.exists():
        check_axe_installed(page, label)


def attach_swing(server, service, session_id: str, swing: dict) -> None:
    """As the Node API does: POST the swing to the session."""
    url = f"{server.http_url}/api/sessions/{session_id}/swings/"
    status, body = post_json(url, token_for(service), swing)
    assert status in (200, 201), (status, body)


def swing(swing_id: str, video_url: str, **extra) -> dict:
    return {
        "swing_id": swing_id,
        "video_url": video_url,
        "poster_url": None,
        "fps": FPS,
        "duration_ms": None,
        "club": "Driver",
        "camera_angle": "face_on",
        "label": None,
        "recorded_at": None,
        "key_frames": None,
        **extra,
    }


def log_in(page, user) -> None:
    page.goto("/login/")
    page.locator("#id_username").fill(user.username)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("#id_password").press("Enter")
    page.wait_for_url(re.compile(r"/(student|coach)/"))


def expect_connected(page) -> None:
    expect(page.locator("#connection")).to_have_attribute(
        "data-state", re.compile(r"^(connected|online)$")
    )


def enter(page, user, session_id: str) -> None:
    log_in(page, user)
    page.goto(f"/sessions/{session_id}/")
    expect_connected(page)
    show_swing(page)


def show_swing(page) -> None:
    """On a page with tabs for the room's parts (phones), open the swing's."""
    swing_tab = page.locator("#tab-swing")
    if swing_tab.count() and swing_tab.is_visible():
        swing_tab.click()
    page.wait_for_function(f"document.querySelector('{VIDEO}').readyState >= 2", timeout=15_000)


def position_ms(page) -> float:
    return page.eval_on_selector(VIDEO, "v => v.currentTime * 1000")


def sample(page) -> tuple[float, float]:
    """(video position ms, clock ms) at one instant of the page."""
    return tuple(page.eval_on_selector(VIDEO, "v => [v.currentTime * 1000, Date.now()]"))


# Notes the page's clock time of each review frame sent or received on the socket.
WS_LOG = """
(() => {
  const Native = window.WebSocket;
  window.reviewFrames = [];
  const note = (way, data) => {
    const text = String(data);
    if (text.includes('"review:')) window.reviewFrames.push([way, Date.now(), JSON.parse(text)]);
  };
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (event) => note("in", event.data));
    }
    send(data) {
      note("out", data);
      return super.send(data);
    }
  };
})();
"""


def first_frame(page, way: str, event: str, position_ms: int) -> int:
    """Clock time of the first review frame `event` for `position_ms` (Phoenix V2 array)."""
    return page.evaluate(
        """([way, event, position]) => window.reviewFrames.find(([w, , f]) =>
             w === way && f[3] === event && f[4] && Math.round(
               (f[4].response || f[4]).position_ms ?? -1) === position)[1]""",
        [way, event, position_ms],
    )


def frame_of(ms: float) -> int:
    return int(ms / 1000 * FPS + 1e-3)


def show_panel(page) -> None:
    """Scroll the review panel to the top of the window (for the screenshots)."""
    page.evaluate("document.getElementById('review').scrollIntoView({block: 'start'})")


def lead_status(page):
    return page.locator("#review [data-role=lead-status]")


def scrub_to(page, ms: int) -> None:
    page.locator("#review [data-role=scrub]").fill(str(ms))


def record_seeks(page) -> None:
    """From now on the page notes the clock time of each of its video's `seeked` events."""
    page.eval_on_selector(
        VIDEO,
        """v => { window.seekedAt = [];
           v.addEventListener('seeked',
             () => window.seekedAt.push([Date.now(), v.currentTime])); }""",
    )


def frame_box(page) -> dict:
    """Where the video's picture is painted (inside the letterbox), in page pixels."""
    return page.eval_on_selector(
        VIDEO,
        """v => { const r = v.getBoundingClientRect();
           const s = Math.min(r.width / v.videoWidth, r.height / v.videoHeight);
           const w = v.videoWidth * s, h = v.videoHeight * s;
           return {x: r.left + (r.width - w) / 2, y: r.top + (r.height - h) / 2, w, h}; }""",
    )


def drag_first_arm(page, a, vertex) -> None:
    """Angle tool, mouse on the frame at normalized points: drag from a to the vertex."""
    page.locator(VIDEO).scroll_into_view_if_needed()
    box = frame_box(page)
    page.mouse.move(box["x"] + a[0] * box["w"], box["y"] + a[1] * box["h"])
    page.mouse.down()
    for step in range(1, 6):
        t = step / 5
        x = a[0] + (vertex[0] - a[0]) * t
        y = a[1] + (vertex[1] - a[1]) * t
        page.mouse.move(box["x"] + x * box["w"], box["y"] + y * box["h"])
    page.mouse.up()


def place_second_arm(page, b) -> None:
    box = frame_box(page)
    page.mouse.move(box["x"] + b[0] * box["w"], box["y"] + b[1] * box["h"], steps=4)
    page.mouse.down()
    page.mouse.up()


def test_review_together(server, active_session, student, coach, service, pages, clips):
    session_id = active_session.session_id
    attach_swing(
        server,
        service,
        session_id,
        swing("sw_demo", clips[0], key_frames={"address": 0, "top": 900, "impact": 1400}),
    )

    coach_page = pages.open("coach", viewport=DESKTOP, init_script=WS_LOG)
    student_page = pages.open("student", viewport=PHONE, mobile=True, init_script=WS_LOG)
    enter(coach_page, coach, session_id)
    enter(student_page, student, session_id)
    expect(lead_status(coach_page)).to_have_text("You lead: the room follows your player.")
    expect(lead_status(student_page)).to_have_text("Following IanPro")
    expect(student_page.locator("#review [data-role=draw-tools]")).to_be_hidden()

    # 1. The coach seeks to 1.20 s and pauses: the student lands on the same frame.
    record_seeks(coach_page)
    record_seeks(student_page)
    coach_page.locator("#review [data-role=scrub]").focus()
    asked_at = coach_page.evaluate("Date.now()")
    scrub_to(coach_page, 1200)
    coach_page.locator(VIDEO).evaluate("v => v.pause()")
    student_page.wait_for_function(
        f"Math.abs(document.querySelector('{VIDEO}').currentTime - 1.2) < 0.001"
    )
    coach_seeked = coach_page.evaluate("window.seekedAt.at(-1)")
    student_seeked = student_page.evaluate("window.seekedAt.at(-1)")
    assert frame_of(position_ms(student_page)) == frame_of(position_ms(coach_page)) == 36
    update_sent = first_frame(coach_page, "out", "review:update", 1200)
    state_received = first_frame(student_page, "in", "review:state", 1200)
    print(
        f"\nseek to 1.20 s: student on the coach's frame {student_seeked[0] - coach_seeked[0]} ms "
        f"after the coach's video got there ({student_seeked[0] - asked_at} ms after the input; "
        f"review:update sent -> review:state received {state_received - update_sent} ms, "
        f"student's seek {student_seeked[0] - state_received} ms)"
    )

    # 2. 0.25x from 0.20 s for 5 s: the follower keeps to the leader's timeline.
    coach_page.get_by_role("button", name=SPEED_QUARTER).click()
    scrub_to(coach_page, 200)
    expect(student_page.get_by_role("button", name=SPEED_QUARTER)).to_have_attribute(
        "aria-pressed", "true"
    )
    coach_page.get_by_role("button", name="Play the swing").click()
    expect(student_page.locator("#review [data-role=play]")).to_have_attribute(
        "data-playing", "true"
    )
    drifts = []
    started = time.monotonic()
    while time.monotonic() - started < 5:
        c_pos, c_at = sample(coach_page)
        s_pos, s_at = sample(student_page)
        drifts.append((time.monotonic() - started, s_pos - (c_pos + (s_at - c_at) * 0.25)))
        time.sleep(0.2)
    coach_page.get_by_role("button", name="Pause the swing").click()
    settled = [abs(d) for t, d in drifts if t >= 1]
    print(
        f"0.25x for 5 s: |drift| after the first second: max {max(settled):.1f} ms, "
        f"median {statistics.median(settled):.1f} ms over {len(settled)} samples; "
        f"first sample {drifts[0][1]:.1f} ms"
    )
    expect(student_page.locator("#review [data-role=play]")).to_have_attribute(
        "data-playing", "false"
    )
    stopped_at = position_ms(coach_page)
    student_page.wait_for_function(
        f"Math.abs(document.querySelector('{VIDEO}').currentTime * 1000 - {stopped_at}) < 1"
    )

    # 3. The coach draws an angle on the paused frame: the student sees it with its degrees.
    coach_page.get_by_role("button", name="Angle").click()
    drag_first_arm(coach_page, (0.30, 0.30), (0.50, 0.70))
    # Still being drawn (the second arm follows the coach's mouse): already on the phone.
    expect(student_page.locator("#review .review-overlay .shape-angle")).to_have_count(1)
    place_second_arm(coach_page, (0.75, 0.35))
    coach_label = coach_page.locator("#review .review-overlay .shape-angle text")
    expect(coach_label).to_have_text(re.compile(r"^\d+°$"))
    expect(student_page.locator("#review .review-overlay .shape-angle text")).to_have_text(
        coach_label.text_content()
    )
    # Normalized to the frame: the same points of the picture on the phone and the laptop.
    arms = "#review .review-overlay .shape-angle polyline"
    expect(student_page.locator(arms)).to_have_attribute(
        "points", coach_page.locator(arms).get_attribute("points")
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    check_axe(coach_page, "the coach's room while drawing")
    check_axe(student_page, "the student's room, following")
    show_panel(coach_page)
    coach_page.screenshot(path=str(SCREENSHOTS / "review-coach-laptop.png"))
    show_panel(student_page)
    student_page.screenshot(path=str(SCREENSHOTS / "review-student-phone.png"))

    # 4. Saved with a note: in the list, and still there after the student reloads.
    coach_page.get_by_label("Note for this frame").fill("Lead arm angle at the top")
    coach_page.get_by_role("button", name="Save drawing").click()
    for page in (coach_page, student_page):
        item = page.locator("#review [data-role=annotations] li")
        expect(item).to_have_count(1)
        expect(item).to_contain_text("Lead arm angle at the top")
    student_page.reload()
    expect_connected(student_page)
    show_swing(student_page)
    # The reloaded page starts where the room is (the server's review state).
    student_page.wait_for_function(
        f"Math.abs(document.querySelector('{VIDEO}').currentTime * 1000 - {stopped_at}) < 1"
    )
    item = student_page.locator("#review [data-role=annotations] li")
    expect(item).to_contain_text("Lead arm angle at the top")
    expect(item.locator(".thumb-shapes .shape-angle")).to_have_count(1)
    item.locator("video").evaluate(
        "v => v.readyState >= 2 || new Promise((ok) => { v.onloadeddata = ok; })"
    )
    item.screenshot(path=str(SCREENSHOTS / "review-annotation-item-phone.png"))

    # 5. The student steps out: the coach's moves leave them alone until "Follow coach".
    student_page.wait_for_function(f"document.querySelector('{VIDEO}').readyState >= 2")
    student_page.get_by_role("button", name="Watch alone").click()
    expect(lead_status(student_page)).to_have_text("Watching alone · IanPro leads")
    alone_at = position_ms(student_page)
    scrub_to(coach_page, 500)
    coach_page.wait_for_timeout(800)
    assert position_ms(student_page) == alone_at
    student_page.get_by_role("button", name="Follow coach").click()
    expect(lead_status(student_page)).to_have_text("Following IanPro")
    student_page.wait_for_function(
        f"Math.abs(document.querySelector('{VIDEO}').currentTime - 0.5) < 0.001"
    )

    # 6. The coach hands the lead to the student, whose moves the coach then follows.
    coach_page.get_by_role("button", name="Give the lead to Ian").click()
    expect(lead_status(student_page)).to_have_text("You lead: the coach follows your player.")
    expect(lead_status(coach_page)).to_have_text("Following Ian")
    student_page.locator("#review [data-role=step-forward]").click()
    student_frame = frame_of(position_ms(student_page))
    coach_page.wait_for_function(
        f"Math.floor(document.querySelector('{VIDEO}').currentTime * {FPS} + 1e-3) "
        f"=== {student_frame}"
    )
    coach_page.get_by_role("button", name="Take the lead back").click()
    expect(lead_status(coach_page)).to_have_text("You lead: the room follows your player.")
    expect(lead_status(student_page)).to_have_text("Following IanPro")

    # 7. The lesson ends. Where the page has an end-of-lesson recap (the lesson room's),
    # it lists the drawing with its thumbnail.
    from coaching.services.sessions import session_control

    in_thread(session_control, session_id=session_id, actor=coach, status="ended")
    student_page.reload()
    expect_connected(student_page)
    recap = student_page.locator("#recap")
    if recap.count():
        analysis_tab = student_page.locator("#tab-analysis")
        if analysis_tab.is_visible():
            analysis_tab.click()
        expect(recap.locator(".annotation-thumb .shape-angle")).to_have_count(1)
        expect(recap).to_contain_text("Lead arm angle at the top")
        recap.locator(".annotation-thumb").scroll_into_view_if_needed()
        student_page.screenshot(path=str(SCREENSHOTS / "review-recap-phone.png"))

    assert pages.errors == []


def test_keyboard_and_side_by_side(server, active_session, coach, service, pages, clips):
    session_id = active_session.session_id
    attach_swing(server, service, session_id, swing("sw_before", clips[0], label="Before"))
    attach_swing(server, service, session_id, swing("sw_after", clips[-1], label="After"))
    page = pages.open("coach", viewport=DESKTOP, init_script=WS_LOG)
    enter(page, coach, session_id)
    expect(page.get_by_role("combobox", name="Swing", exact=True)).to_have_value("sw_before")

    # Space plays and pauses, the arrows step one frame, from the focused player.
    screen = page.locator("#review [data-role=screen]")
    screen.focus()
    page.keyboard.press("Space")
    expect(page.locator("#review [data-role=play]")).to_have_attribute("data-playing", "true")
    page.keyboard.press("Space")
    expect(page.locator("#review [data-role=play]")).to_have_attribute("data-playing", "false")
    scrub_to(page, 1000)
    screen.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function(
        f"Math.floor(document.querySelector('{VIDEO}').currentTime * {FPS}) === 31"
    )
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    page.wait_for_function(
        f"Math.floor(document.querySelector('{VIDEO}').currentTime * {FPS}) === 29"
    )

    # Side by side, locked to the main swing: at 0.50 s, the second swing stepped 20 frames
    # on alone (frame 35) runs that far ahead while both play.
    page.get_by_role("button", name="Compare side by side").click()
    compare = "#review video[data-role=compare-video]"
    page.wait_for_function(f"document.querySelector('{compare}').readyState >= 2")
    expect(page.get_by_role("combobox", name="Swing to compare")).to_have_value("sw_after")
    scrub_to(page, 500)
    page.wait_for_function(
        f"Math.abs(document.querySelector('{compare}').currentTime - 0.5) < 0.001"
    )
    for _ in range(20):
        page.get_by_role("button", name="Compared swing: one frame forward").click()
    offset = page.evaluate(
        f"document.querySelector('{compare}').currentTime - "
        f"document.querySelector('{VIDEO}').currentTime"
    )
    assert abs(offset - (35.5 / FPS - 0.5)) < 0.01
    expect(page.locator("#review [data-role=compare-status]")).to_have_text(
        re.compile(r"This swing runs 0\.68 s ahead of the main one\.")
    )
    page.get_by_role("button", name=SPEED_HALF).click()
    page.get_by_role("button", name="Play the swing").click()
    page.wait_for_timeout(1500)
    page.get_by_role("button", name="Pause the swing").click()
    page.wait_for_function(f"document.querySelector('{compare}').paused")
    page.wait_for_timeout(300)
    main_ms, compare_ms = page.evaluate(
        f"[document.querySelector('{VIDEO}').currentTime * 1000, "
        f"document.querySelector('{compare}').currentTime * 1000]"
    )
    assert main_ms > 700
    print(f"\nside by side: offset held at {compare_ms - main_ms - offset * 1000:+.1f} ms")
    assert abs(compare_ms - main_ms - offset * 1000) < 1
    check_axe(page, "the room comparing two swings")
    show_panel(page)
    page.screenshot(path=str(SCREENSHOTS / "review-compare-laptop.png"))
    assert pages.errors == []


GEOMETRY = "/static/coaching/review/geometry.js"


def test_shape_geometry(server, pages):
    """The letterbox, the angle's degrees and the annotation limits, in the browser."""
    page = pages.open("anyone", viewport=PHONE, init_script=WS_LOG)
    page.goto("/login/")
    result = page.evaluate(
        f"""async () => {{
          const g = await import("{GEOMETRY}");
          const shape = (kind, n) => ({{kind, points: Array(n).fill([0.5, 0.5])}});
          return {{
            // A 16:9 picture in a 390x600 box: bars above and below.
            box: g.contentBox(390, 600, 1280, 720),
            // A 9:16 picture in a 16:9 box: bars left and right.
            pillar: g.contentBox(1600, 900, 720, 1280),
            // The middle of the painted picture is (0.5, 0.5) whatever the bars.
            middle: g.normalizePoint(195 + 10, 300 + 20, {{left: 10, top: 20 + 190.3125,
              width: 390, height: 219.375}}),
            right: g.angleDegrees([[1, 0.5], [0.5, 0.5], [0.5, 0]], 1),
            // On a 16:9 picture, arms 0.1 wide and 0.1 * 16/9 tall are square on screen:
            // 45° as seen, not the 60.6° of the normalized numbers.
            aspect: g.angleDegrees([[0.6, 0.5], [0.5, 0.5], [0.6, 0.5 - 0.1 * 16 / 9]], 16 / 9),
            ok: g.annotationProblem(
              [shape("angle", 3), {{...shape("line", 2), color: "#ff0000"}}], ""),
            empty: g.annotationProblem([], "  "),
            noteOnly: g.annotationProblem([], "Hips open too early"),
            tooMany: g.annotationProblem(Array(51).fill(shape("line", 2)), ""),
            badKind: g.annotationProblem([shape("square", 2)], ""),
            badCount: g.annotationProblem([shape("angle", 2)], ""),
            outside: g.annotationProblem([{{kind: "line", points: [[0, 0], [1.2, 0.5]]}}], ""),
            badColor: g.annotationProblem([{{...shape("line", 2), color: "red"}}], ""),
            longNote: g.annotationProblem([shape("line", 2)], "x".repeat(501)),
          }};
        }}"""
    )
    assert result["box"] == {"x": 0, "y": 190.3125, "width": 390, "height": 219.375}
    assert result["pillar"] == {"x": 546.875, "y": 0, "width": 506.25, "height": 900}
    assert result["middle"] == [0.5, 0.5]
    assert round(result["right"], 6) == 90
    assert round(result["aspect"], 6) == 45
    assert result["ok"] is None
    assert result["empty"] == "empty"
    assert result["noteOnly"] is None
    assert result["tooMany"] == "too_many_shapes"
    assert result["badKind"] == result["badCount"] == result["outside"] == "invalid_shape"
    assert result["badColor"] == "invalid_shape"
    assert result["longNote"] == "note_too_long"


# --- The review both ways: compare shared, asking for the lead, watching alone ------------------

COMPARE = "#review video[data-role=compare-video]"
LANDSCAPE = {"width": PHONE["height"], "height": PHONE["width"]}


def compare_ms(page) -> float:
    return page.eval_on_selector(COMPARE, "v => v.currentTime * 1000")


def boxes(page) -> tuple[dict, dict]:
    """Where the main and the compared swing's screens are."""
    return (
        page.locator("#review [data-role=screen]").bounding_box(),
        page.locator("#review [data-role=compare-screen]").bounding_box(),
    )


def timeline(page):
    return page.locator("#chat-list")


def expect_at(page, selector: str, ms: float) -> None:
    """The video `selector` shows the frame at `ms` (within a ms)."""
    page.wait_for_function(
        f"Math.abs(document.querySelector('{selector}').currentTime * 1000 - {ms}) < 1.5"
    )


def lead_button(page, name: str):
    return page.locator("#review .review-lead").get_by_role("button", name=name, exact=True)


def two_swings(server, service, session_id: str, clips: list[str]) -> None:
    attach_swing(server, service, session_id, swing("sw_before", clips[0], label="Before"))
    attach_swing(server, service, session_id, swing("sw_after", clips[-1], label="After"))


def test_compare_is_shared_both_ways(server, active_session, student, coach, service, pages, clips):
    session_id = active_session.session_id
    two_swings(server, service, session_id, clips)
    coach_page = pages.open("coach", viewport=DESKTOP)
    student_page = pages.open("student", viewport=PHONE, mobile=True)
    enter(coach_page, coach, session_id)
    enter(student_page, student, session_id)

    # The coach compares: the student's phone (upright) shows both, stacked.
    scrub_to(coach_page, 400)
    coach_page.get_by_role("button", name="Compare side by side").click()
    compare_screen = student_page.locator("#review [data-role=compare-screen]")
    expect(compare_screen).to_be_visible()
    student_page.wait_for_function(f"document.querySelector('{COMPARE}').readyState >= 2")
    expect(student_page.locator("#review [data-role=compare-label]")).to_have_text("After")
    main, other = boxes(student_page)
    assert other["y"] >= main["y"] + main["height"] - 1 and abs(other["x"] - main["x"]) < 1
    expect_at(student_page, COMPARE, 400)
    started = "IanPro started comparing Before with After."
    for page in (coach_page, student_page):
        expect(timeline(page).locator(".tl-review")).to_have_text([started])

    # The coach lines the second swing up 12 frames later: the student's follows, frame
    # for frame, and both keep that offset while they play and after the pause.
    for _ in range(12):
        coach_page.get_by_role("button", name="Compared swing: one frame forward").click()
    target = compare_ms(coach_page)
    assert frame_of(target) == frame_of(400) + 12
    expect_at(student_page, COMPARE, target)
    expect(student_page.locator("#review [data-role=compare-status]")).to_have_text(
        coach_page.locator("#review [data-role=compare-status]").text_content()
    )
    coach_page.get_by_role("button", name=SPEED_HALF).click()
    coach_page.get_by_role("button", name="Play the swing").click()
    expect(student_page.locator("#review [data-role=play]")).to_have_attribute(
        "data-playing", "true"
    )
    student_page.wait_for_timeout(1200)
    playing = student_page.evaluate(
        f"[document.querySelector('{VIDEO}').currentTime * 1000, "
        f"document.querySelector('{COMPARE}').currentTime * 1000, "
        f"document.querySelector('{COMPARE}').paused]"
    )
    offset = target - 400
    print(
        f"\nstacked compare while playing: offset off by {playing[1] - playing[0] - offset:+.1f} ms"
    )
    assert playing[2] is False
    coach_page.get_by_role("button", name="Pause the swing").click()
    expect(student_page.locator("#review [data-role=play]")).to_have_attribute(
        "data-playing", "false"
    )
    stopped = position_ms(coach_page)
    expect_at(student_page, VIDEO, stopped)
    expect_at(student_page, COMPARE, compare_ms(coach_page))
    assert frame_of(compare_ms(student_page)) == frame_of(compare_ms(coach_page))
    check_axe(student_page, "the student's phone, comparing (upright)")
    show_panel(student_page)
    student_page.screenshot(path=str(SCREENSHOTS / "review-compare-phone-portrait.png"))

    # Turned sideways: side by side.
    student_page.set_viewport_size(LANDSCAPE)
    student_page.wait_for_timeout(300)
    main, other = boxes(student_page)
    assert abs(other["y"] - main["y"]) < 1 and other["x"] >= main["x"] + main["width"] - 1
    student_page.screenshot(path=str(SCREENSHOTS / "review-compare-phone-landscape.png"))
    assert main["width"] > 230, main
    check_axe(student_page, "the student's phone, comparing (sideways)")
    show_panel(student_page)
    student_page.screenshot(path=str(SCREENSHOTS / "review-compare-phone-landscape.png"))
    student_page.set_viewport_size(PHONE)
    show_swing(student_page)

    # The lead goes to the student, whose compare the coach now sees: another swing first
    # (the compared one becomes the main one and the compare ends), then compared again.
    coach_page.get_by_role("button", name="Give the lead to Ian").click()
    expect(lead_status(student_page)).to_have_text("You lead: the coach follows your player.")
    student_page.get_by_role("button", name="Compare side by side").click()
    expect(coach_page.locator("#review [data-role=compare-screen]")).to_be_hidden()
    expect(student_page.locator("#review [data-role=compare-screen]")).to_be_hidden()
    student_page.get_by_role("button", name="Compare side by side").click()
    expect(coach_page.locator("#review [data-role=compare-screen]")).to_be_visible()
    lines = [
        started,
        "IanPro handed the lead of the review to Ian.",
        "Ian stopped comparing Before with After.",
        "Ian started comparing Before with After.",
    ]
    for page in (coach_page, student_page):
        expect(timeline(page).locator(".tl-review")).to_have_text(lines)
    for _ in range(3):
        student_page.get_by_role("button", name="Compared swing: one frame back").click()
    expect_at(coach_page, COMPARE, compare_ms(student_page))
    check_axe(coach_page, "the coach's room, following the student's compare")
    show_panel(coach_page)
    coach_page.screenshot(path=str(SCREENSHOTS / "review-compare-following-laptop.png"))
    assert pages.errors == []


def test_asking_for_the_lead_and_watching_alone(
    server, active_session, student, coach, service, pages, clips
):
    session_id = active_session.session_id
    attach_swing(server, service, session_id, swing("sw_demo", clips[0]))
    coach_page = pages.open("coach", viewport=DESKTOP)
    student_page = pages.open("student", viewport=PHONE, mobile=True)
    enter(coach_page, coach, session_id)
    enter(student_page, student, session_id)
    expect(lead_status(student_page)).to_have_text("Following IanPro")

    # Asked and declined: the student hears so.
    lead_button(student_page, "Ask for the lead").click()
    note = student_page.locator("#review [data-role=lead-note]")
    expect(note).to_contain_text("You asked IanPro for the lead.")
    coach_note = coach_page.locator("#review [data-role=lead-note]")
    expect(coach_note).to_contain_text("Ian asks for the lead.")
    check_axe(coach_page, "the coach's room, asked for the lead")
    show_panel(coach_page)
    coach_page.screenshot(path=str(SCREENSHOTS / "review-lead-asked-laptop.png"))
    lead_button(coach_page, "Not now").click()
    expect(note).to_contain_text("IanPro keeps the lead for now.")
    expect(coach_note.locator(".review-lead-note-text")).to_have_text("")

    # Asked again and accepted with one tap: the student leads, the coach follows.
    lead_button(student_page, "Ask for the lead").click()
    lead_button(coach_page, "Give Ian the lead").click()
    expect(lead_status(student_page)).to_have_text("You lead: the coach follows your player.")
    expect(lead_status(coach_page)).to_have_text("Following Ian")
    scrub_to(student_page, 900)
    expect_at(coach_page, VIDEO, 900)
    lead_button(student_page, "Hand the lead back to the coach").click()
    expect(lead_status(coach_page)).to_have_text("You lead: the room follows your player.")
    lines = [
        "Ian asked for the lead and now leads the review.",
        "Ian handed the lead of the review to IanPro.",
    ]
    expect(timeline(coach_page).locator(".tl-review")).to_have_text(lines)
    # In the student's timeline too, after a reload.
    student_page.reload()
    expect_connected(student_page)
    expect(timeline(student_page).locator(".tl-review")).to_have_text(lines)
    show_swing(student_page)

    # Touching the player: the student watches alone, and the coach sees it.
    student_page.locator("#review [data-role=step-forward]").click()
    expect(lead_status(student_page)).to_have_text("Watching alone · IanPro leads")
    expect(lead_status(coach_page)).to_have_text("You lead: Ian is watching alone.")
    alone_at = position_ms(student_page)
    scrub_to(coach_page, 300)
    coach_page.wait_for_timeout(600)
    assert position_ms(student_page) == alone_at
    check_axe(coach_page, "the coach's room, the student watching alone")
    show_panel(coach_page)
    coach_page.screenshot(path=str(SCREENSHOTS / "review-watching-alone-laptop.png"))
    show_panel(student_page)
    student_page.screenshot(path=str(SCREENSHOTS / "review-watching-alone-phone.png"))

    # One tap brings the student back, to the coach's frame.
    lead_button(coach_page, "Bring Ian back").click()
    expect(lead_status(student_page)).to_have_text("Following IanPro")
    expect(lead_status(coach_page)).to_have_text("You lead: the room follows your player.")
    expect_at(student_page, VIDEO, 300)
    check_axe(student_page, "the student's phone, brought back")
    assert pages.errors == []


def test_controls_fit_the_state(
    server, waiting_session, active_session, student, coach, service, pages, clips
):
    """A preview has no one to follow; an ended lesson is replayed, not led."""
    attach_swing(server, service, waiting_session.session_id, swing("sw_wait", clips[0]))
    # The waiting lesson's student (in Korean): nobody leads yet, nobody to ask.
    student_page = pages.open("student", lang="ko", viewport=PHONE, mobile=True)
    enter(student_page, student, waiting_session.session_id)
    expect(lead_status(student_page)).to_have_text(
        "아직 진행하는 사람이 없습니다: 코치가 들어올 때까지 스윙을 혼자 재생합니다."
    )
    expect(student_page.locator("#review .review-lead").get_by_role("button")).to_have_count(0)
    check_axe(student_page, "a waiting lesson's review panel (phone)")

    coach_page = pages.open("coach", viewport=DESKTOP)
    log_in(coach_page, coach)
    coach_page.goto(f"/sessions/{waiting_session.session_id}/")
    expect_connected(coach_page)
    show_swing(coach_page)
    review = coach_page.locator("#review .review-lead")
    expect(lead_status(coach_page)).to_have_text("Preview: you play the swings on your own.")
    expect(review.get_by_role("button")).to_have_count(0)
    coach_page.get_by_role("button", name="Play the swing").click()
    expect(coach_page.locator("#review [data-role=play]")).to_have_attribute("data-playing", "true")
    check_axe(coach_page, "a preview's review panel")

    session_id = active_session.session_id
    attach_swing(server, service, session_id, swing("sw_demo", clips[0]))
    from coaching.services.sessions import session_control

    in_thread(session_control, session_id=session_id, actor=coach, status="ended")
    for page in (student_page, coach_page):
        page.goto(f"/sessions/{session_id}/")
        expect_connected(page)
        show_swing(page)
    ended = {
        student_page: "레슨이 끝났습니다: 스윙을 원하는 대로 다시 보세요.",
        coach_page: "The lesson has ended: replay the swings at your own pace.",
    }
    for page, text in ended.items():
        expect(lead_status(page)).to_have_text(text)
        expect(page.locator("#review .review-lead").get_by_role("button")).to_have_count(0)
        expect(page.locator("#review [data-role=draw-tools]")).to_be_hidden()
    # Each replays on their own: the coach's moves do not move the student's player.
    scrub_to(coach_page, 1000)
    student_page.locator("#review [data-role=play]").click()
    expect(student_page.locator("#review [data-role=play]")).to_have_attribute(
        "data-playing", "true"
    )
    coach_page.wait_for_timeout(300)
    assert abs(position_ms(coach_page) - 1000) < 1
    check_axe(student_page, "an ended lesson's review panel (phone)")
    show_panel(student_page)
    student_page.screenshot(path=str(SCREENSHOTS / "review-ended-phone.png"))
    assert pages.errors == []
