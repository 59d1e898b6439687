"""The rendered pages in a real browser: login, the coach's live waiting list, the session page.

Chromium (Debian's /usr/bin/chromium) drives the pages against a real daphne process
(the `server` fixture) with the official phoenix.js client, as a user would.

Playwright's sync API keeps an event loop running in this thread, and Django refuses ORM
calls there; rows are created by fixtures before the browser starts, and the ORM calls
made while it runs go through `in_thread`.
"""

import json
import os
import re
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections
from django.urls import Resolver404, resolve

from tests.support.auth import token_for

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "pass-word-123"
NETWORK_NOISE = ("Failed to load resource", "WebSocket connection to")
SCREENSHOT = Path("/tmp/session.png")
FEEDBACK_SCREENSHOT = Path("/tmp/session-feedback.png")

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
expect = sync_api.expect

pytestmark = pytest.mark.skipif(
    not os.access(CHROMIUM, os.X_OK),
    reason=f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium)",
)


def in_thread(fn, /, *args, **kwargs):
    """Run Django ORM code outside Playwright's event loop thread."""

    def call():
        try:
            return fn(*args, **kwargs)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result()


class Pages:
    """Browser contexts (one per user, like separate browsers) that record page errors."""

    def __init__(self, browser, base_url: str) -> None:
        self.browser = browser
        self.base_url = base_url
        self.errors: list[str] = []

    def open(self, name: str):
        context = self.browser.new_context(
            base_url=self.base_url, viewport={"width": 1280, "height": 900}
        )
        context.set_default_timeout(10_000)
        page = context.new_page()
        page.on("pageerror", lambda exc: self.errors.append(f"{name}: {exc}"))
        page.on("console", lambda msg: self._console(name, msg))
        return page

    def _console(self, name: str, msg) -> None:
        # Failed requests and refused socket connects (a server restart) are logged by the
        # browser itself, and the pages handle them. Anything else logged as an error is a bug.
        if msg.type == "error" and not msg.text.startswith(NETWORK_NOISE):
            self.errors.append(f"{name} console: {msg.text}")


@pytest.fixture
def pages(server):
    """Set up after the rows the test needs, torn down before the database is flushed."""
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield Pages(browser, server.http_url)
        finally:
            browser.close()


def log_in(page, user, *, lands_on: str) -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"**{lands_on}")
    expect(page.locator("#current-user-name")).to_have_text(user.display_name)


def expect_connected(page, timeout: float = 10_000) -> None:
    expect(page.locator("#connection")).to_have_attribute(
        "data-state", "connected", timeout=timeout
    )


def expect_presence(page, *names: str) -> None:
    """Coach first, then student: the presence list's order."""
    expect(page.locator("#presence-list .presence-name")).to_have_text(list(names))


def chat_lines(page):
    return page.locator("#chat-list .chat-msg .chat-text")


def send_chat(page, text: str) -> None:
    page.locator("#chat-input").fill(text)
    page.locator("#chat-send").click()
    expect(page.locator("#chat-input")).to_have_value("")


def route_exists(path: str, name: str) -> bool:
    """Whether `path` is served by the view named `name` (not /api/'s catch-all 404)."""
    try:
        return resolve(path).url_name == name
    except Resolver404:
        return False


def post_json(url: str, token: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def test_live_coaching_flow(server, student, coach, pages):
    coach_page = pages.open("coach")
    log_in(coach_page, coach, lands_on="/coach/")
    expect_connected(coach_page)
    expect(coach_page.locator("#waiting-empty")).to_be_visible()

    # The student starts a session from the home page.
    student_page = pages.open("student")
    log_in(student_page, student, lands_on="/student/")
    student_page.get_by_label(re.compile("What do you want to work on")).fill("Driver <slice>")
    student_page.get_by_role("button", name="Start live coaching").click()
    student_page.wait_for_url(re.compile(r"/sessions/sess_[\w-]+/$"))
    session_id = student_page.url.rstrip("/").rsplit("/", 1)[-1]
    expect_connected(student_page)
    expect(student_page.locator("#status-badge")).to_have_text("waiting")
    expect(student_page.locator("#waiting-hint")).to_be_visible()
    expect(student_page.locator("#coach-controls")).to_be_hidden()

    # It appears live on the coach's dashboard; the coach claims it.
    entry = coach_page.locator(f'#waiting-list li[data-session-id="{session_id}"]')
    expect(entry).to_contain_text("Ian")
    expect(entry).to_contain_text("Driver <slice>")  # as text, not markup
    expect(coach_page.locator("#waiting-count")).to_have_text("1")
    entry.get_by_role("button", name="Enter").click()
    coach_page.wait_for_url(f"**/sessions/{session_id}/")
    expect_connected(coach_page)

    # Both are on the session page, see the same state and each other.
    for page in (student_page, coach_page):
        expect(page.locator("#status-badge")).to_have_text("active")
        expect(page.locator("#coach-name")).to_have_text("IanPro")
        expect(page.locator("#student-name")).to_have_text("Ian")
        expect_presence(page, "IanPro", "Ian")
    expect(student_page.locator("#waiting-hint")).to_be_hidden()
    expect(student_page.locator("#chat-list .chat-notice")).to_contain_text(
        ["코치 IanPro님이 세션에 입장했습니다."]
    )
    expect(student_page.locator("#coach-controls")).to_be_hidden()
    expect(coach_page.locator("#coach-controls")).to_be_visible()

    # Chat both ways; user text is shown as text (no markup injected).
    send_chat(student_page, "My driver head keeps opening.")
    expect(chat_lines(coach_page)).to_have_text(["My driver head keeps opening."])
    reply = "<b>Try</b> a stronger grip <img src=x onerror=alert(1)>"
    send_chat(coach_page, reply)
    expect(chat_lines(student_page)).to_have_text(["My driver head keeps opening.", reply])
    expect(student_page.locator("#chat-list b, #chat-list img")).to_have_count(0)
    expect(student_page.locator("#chat-list .chat-msg.mine")).to_have_count(1)

    # The coach pauses and moves the step: both see it.
    coach_page.get_by_role("button", name="Pause").click()
    coach_page.locator("#step-select").select_option("analysis")
    for page in (student_page, coach_page):
        expect(page.locator("#status-badge")).to_have_text("paused")
        expect(page.locator("#current-step")).to_have_text("analysis")
    expect(coach_page.get_by_role("button", name="Resume")).to_be_visible()
    expect(coach_page.get_by_role("button", name="Pause")).to_be_hidden()
    expect(coach_page.locator("#control-error")).to_be_hidden()
    # Chat stays open while paused.
    expect(student_page.locator("#chat-input")).to_be_enabled()
    coach_page.screenshot(path=str(SCREENSHOT), full_page=True)

    coach_page.get_by_role("button", name="Resume").click()
    expect(student_page.locator("#status-badge")).to_have_text("active")

    # The coach ends the lesson: chat is closed on both pages.
    coach_page.once("dialog", lambda dialog: dialog.accept())
    coach_page.get_by_role("button", name="End session").click()
    for page in (student_page, coach_page):
        expect(page.locator("#status-badge")).to_have_text("ended")
        expect(page.locator("#chat-input")).to_be_disabled()
        expect(page.locator("#chat-send")).to_be_disabled()
    expect(coach_page.locator("#coach-controls")).to_be_hidden()

    # A reload rebuilds the page from the join snapshot.
    student_page.reload()
    expect(student_page.locator("#status-badge")).to_have_text("ended")
    expect(chat_lines(student_page)).to_have_text(["My driver head keeps opening.", reply])
    expect(student_page.locator("#chat-input")).to_be_disabled()

    # The student's home lists the lesson.
    student_page.goto("/student/")
    item = student_page.locator("#session-list .session-item")
    expect(item).to_have_count(1)
    expect(item).to_contain_text("Driver <slice>")
    expect(item.locator(".badge")).to_have_text("ended")

    assert pages.errors == []


class AnalysisPoster:
    """Posts what the Node API would (feedback cards, progress ticks) so the server broadcasts it.

    Through the services layer when Redis connects this process with the server; without
    Redis each process has its own in-memory layer, so over HTTP if the endpoint exists.
    """

    def __init__(self, service, session_id: str, base_url: str) -> None:
        self.service = service
        self.session_id = session_id
        self.base_url = base_url
        self.token = token_for(service)

    def path(self, kind: str) -> str:
        return f"/api/sessions/{self.session_id}/{kind}/"

    def unavailable(self, kind: str) -> str | None:
        """Why `kind` cannot be posted in this run, or None."""
        if settings.REDIS_URL or route_exists(self.path(kind), f"session-{kind}"):
            return None
        return (
            f"{kind} step skipped: without REDIS_URL the test process and the server share "
            f"no channel layer, and POST {self.path(kind)} does not exist yet"
        )

    def post(self, kind: str, **data) -> None:
        if settings.REDIS_URL:
            from coaching.services.analysis import feedback_record, progress_post

            service_call = {"feedback": feedback_record, "progress": progress_post}[kind]
            in_thread(service_call, session_id=self.session_id, actor=self.service, **data)
            return
        status, body = post_json(self.base_url + self.path(kind), self.token, data)
        assert status in (200, 201, 202), (status, body)


def test_feedback_cards_on_both_pages(server, active_session, student, coach, service, pages):
    session_id = active_session.session_id
    analysis = AnalysisPoster(service, session_id, server.http_url)
    if reason := analysis.unavailable("feedback"):
        pytest.skip(reason)

    student_page = pages.open("student")
    coach_page = pages.open("coach")
    log_in(student_page, student, lands_on="/student/")
    log_in(coach_page, coach, lands_on="/coach/")
    for page in (student_page, coach_page):
        page.goto(f"/sessions/{session_id}/")
        expect_connected(page)
    for page in (student_page, coach_page):
        expect_presence(page, "IanPro", "Ian")

    progress = analysis.unavailable("progress") is None
    if progress:
        analysis.post("progress", swing_id="sw_999", percent=40, step="analysis")
        for page in (student_page, coach_page):
            expect(page.locator("#progress-label")).to_have_text("Swing sw_999 · analysis · 40%")
            expect(page.locator("#progress-bar")).to_have_attribute("aria-valuenow", "40")

    analysis.post(
        "feedback",
        swing_id="sw_999",
        summary="The club face tends to be open at impact.",
        metrics={"face_angle": 5.2, "tempo_score": 78},
        recommendations=[
            "Take a slightly stronger grip at address.",
            "Hinge the lead wrist a little less at the top.",
        ],
        level="intermediate",
    )
    for page in (student_page, coach_page):
        card = page.locator('.feedback-card[data-swing-id="sw_999"]')
        expect(card).to_be_visible()
        expect(card.locator(".feedback-summary")).to_have_text(
            "The club face tends to be open at impact."
        )
        expect(card.locator(".metrics tr")).to_have_text(["Face angle5.2", "Tempo score78"])
        expect(card.locator(".recommendations li")).to_have_count(2)
        expect(card.locator(".badge.level")).to_have_text("intermediate")
        expect(page.locator("#feedback-empty")).to_be_hidden()
        if progress:  # the card completes its swing's progress bar
            expect(page.locator("#progress-bar")).to_have_attribute("aria-valuenow", "100")

    # Only the coach can save a checkpoint on the card.
    expect(student_page.get_by_role("button", name="Save checkpoint")).to_have_count(0)
    coach_card = coach_page.locator('.feedback-card[data-swing-id="sw_999"]')
    coach_card.get_by_label("Checkpoint note").fill("Grip drill next lesson")
    coach_card.get_by_role("button", name="Save checkpoint").click()
    if route_exists(f"/api/sessions/{session_id}/checkpoints/", "session-checkpoints"):
        for page in (student_page, coach_page):
            card = page.locator('.feedback-card[data-swing-id="sw_999"]')
            expect(card.locator(".checkpoint-mark")).to_have_text(
                "★Checkpoint by IanPro: Grip drill next lesson"
            )
            expect(card).to_have_class(re.compile(r"\bcheckpointed\b"))
        # A fresh page reads the saved checkpoints back (they are not in the join snapshot).
        student_page.reload()
        expect(
            student_page.locator('.feedback-card[data-swing-id="sw_999"] .checkpoint-mark')
        ).to_have_text("★Checkpoint by IanPro: Grip drill next lesson")
    else:
        expect(coach_card.locator(".form-error")).to_have_text("Checkpoints are not available yet.")
    coach_page.screenshot(path=str(FEEDBACK_SCREENSHOT), full_page=True)

    coach_page.once("dialog", lambda dialog: dialog.accept())
    coach_page.get_by_role("button", name="End session").click()
    for page in (student_page, coach_page):
        expect(page.locator("#chat-input")).to_be_disabled()

    assert pages.errors == []


def test_session_page_catches_up_after_reconnect(server, active_session, student, coach, pages):
    """The page rejoins with the last seq it has and gets what it missed, once."""
    from coaching.services.chat import chat_message_post
    from coaching.services.sessions import session_control

    session_id = active_session.session_id
    in_thread(chat_message_post, session_id=session_id, sender=coach, text="Warm up first.")

    page = pages.open("student")
    log_in(page, student, lands_on="/student/")
    page.goto(f"/sessions/{session_id}/")
    expect_connected(page)
    expect(chat_lines(page)).to_have_text(["Warm up first."])
    expect_presence(page, "Ian")

    server.stop()
    expect(page.locator("#connection")).to_have_attribute("data-state", "reconnecting")
    # Written while the page is cut off: no server is there to broadcast it.
    in_thread(chat_message_post, session_id=session_id, sender=coach, text="While you were away")
    in_thread(session_control, session_id=session_id, actor=coach, status="paused")
    server.start()

    # phoenix.js retries every 5 s once its backoff has grown: allow for that and a slow start.
    expect_connected(page, timeout=20_000)
    expect(chat_lines(page)).to_have_text(["Warm up first.", "While you were away"])
    expect(page.locator("#status-badge")).to_have_text("paused")
    expect_presence(page, "Ian")
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
    expect(page.get_by_role("heading", name="Session not found")).to_be_visible()
    assert page.goto("/sessions/sess_does_not_exist/").status == 404

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/login/")
    assert page.goto("/student/").url.endswith("/login/?next=/student/")


def test_coach_sees_a_lost_claim(server, waiting_session, coach, make_user, pages):
    """Two coaches race for one session: the loser is told, and the entry leaves the list."""
    rival = in_thread(make_user, "coach", name="RivalPro")
    rival_token = token_for(rival)
    claim_path = f"/api/sessions/{waiting_session.session_id}/claim/"

    page = pages.open("coach")
    log_in(page, coach, lands_on="/coach/")
    entry = page.locator(f'#waiting-list li[data-session-id="{waiting_session.session_id}"]')
    expect(entry).to_be_visible()  # from the lobby's join reply

    def rival_claims_first(route):
        status, body = post_json(server.http_url + claim_path, rival_token, {})
        assert status == 200, (status, body)
        route.continue_()

    page.route(f"**{claim_path}", rival_claims_first)
    entry.get_by_role("button", name="Enter").click()
    expect(page.locator("#lobby-error")).to_have_text("Another coach has claimed this session.")
    expect(entry).to_have_count(0)
    expect(page.locator("#waiting-empty")).to_be_visible()
    assert page.url.endswith("/coach/")
    assert pages.errors == []
