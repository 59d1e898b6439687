"""Browser test support: one Chromium for the whole run, a context per user, axe-core.

Chromium (Debian's /usr/bin/chromium) drives the pages against a real daphne process
(the `server` fixture) with the official phoenix.js client, as a user would.

Playwright's sync API keeps an event loop running in this thread, and Django refuses ORM
calls there; rows are created by fixtures before the browser starts, and the ORM calls
made while it runs go through `in_thread`.
"""

import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
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
ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
LOCALES = {"ko": "ko-KR", "en": "en-US"}

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
expect = sync_api.expect


def pytest_collection_modifyitems(items) -> None:
    skip = pytest.mark.skip(
        reason=f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)"
    )
    for item in items:
        if "tests/browser/" in str(item.fspath) and not os.access(CHROMIUM, os.X_OK):
            item.add_marker(skip)


def in_thread(fn, /, *args, **kwargs):
    """Run Django ORM code outside Playwright's event loop thread."""

    def call():
        try:
            return fn(*args, **kwargs)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result()


@contextmanager
def chromiums(count: int, args: list[str]) -> Iterator[list]:
    """`count` Chromium processes launched with `args`.

    While they live, Playwright's (idle) event loop belongs to this thread, and Django would
    refuse the database fixtures' flushes here: they run between browser calls, never
    concurrently with them, so the guard is lifted for the browsers' lifetime. Module
    scope ends that loop before other packages' tests run in this thread.
    """
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_api.sync_playwright() as playwright:
            launched = [
                playwright.chromium.launch(executable_path=CHROMIUM, args=args)
                for _ in range(count)
            ]
            yield launched
            for one in launched:
                one.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="module")
def browser():
    """One Chromium per test module; each test opens its own contexts."""
    with chromiums(1, CHROMIUM_ARGS) as (chromium,):
        yield chromium


# Calls: a fake microphone and camera (a beep and a test pattern), allowed without a
# prompt, and loopback addresses usable by WebRTC (a TURN server on 127.0.0.1).
MEDIA_ARGS = [
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--allow-loopback-in-peer-connection",
]


@pytest.fixture(scope="module")
def media_browsers():
    """Two Chromium processes with fake media devices: one for each end of a call."""
    with chromiums(2, CHROMIUM_ARGS + MEDIA_ARGS) as launched:
        yield launched


class Pages:
    """Browser contexts (one per user, like separate browsers) that record page errors."""

    def __init__(self, browser, base_url: str) -> None:
        self.browser = browser
        self.base_url = base_url
        self.errors: list[str] = []
        self.contexts = []

    def open(
        self,
        name: str,
        *,
        lang: str = "en",
        viewport=DESKTOP,
        base_url: str | None = None,
        mobile: bool = False,
        init_script: str | None = None,
    ):
        """A page in a new context. `mobile`: a phone's screen density and touch (use with
        `viewport=PHONE`); `init_script`: JavaScript run in every document before its own."""
        context = self.browser.new_context(
            base_url=base_url or self.base_url,
            viewport=viewport,
            locale=LOCALES[lang],
            timezone_id="Asia/Seoul",
            device_scale_factor=2 if mobile else 1,
            is_mobile=mobile,
            has_touch=mobile,
        )
        context.set_default_timeout(10_000)
        if init_script is not None:
            context.add_init_script(init_script)
        self.contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: self.errors.append(f"{name}: {exc}"))
        page.on("console", lambda msg: self._console(name, msg))
        return page

    def _console(self, name: str, msg) -> None:
        # Failed requests and refused socket connects (a server restart, a cut network) are
        # logged by the browser itself, and the pages handle them. Anything else is a bug.
        if msg.type == "error" and not msg.text.startswith(NETWORK_NOISE):
            self.errors.append(f"{name} console: {msg.text}")

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def pages(server, browser):
    """Set up after the rows the test needs, closed before the database is flushed."""
    opened = Pages(browser, server.http_url)
    yield opened
    opened.close()


def log_in(page, user, *, lands_on: str) -> None:
    page.goto("/login/")
    page.locator("#id_username").fill(user.username)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("#login-form button[type=submit]").click()
    page.wait_for_url(f"**{lands_on}")
    expect(page.locator("#current-user-name")).to_have_text(user.display_name)


def expect_online(page, timeout: float = 10_000) -> None:
    expect(page.locator("#connection")).to_have_attribute("data-state", "online", timeout=timeout)


def check_axe(page, label: str) -> None:
    """axe-core on the page as it is now: no serious or critical violations."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=AXE.read_text())
    result = page.evaluate("async () => (await axe.run(document)).violations")
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in result
        if v["impact"] in ("serious", "critical")
    ]
    assert bad == [], f"axe on {label}: {bad}"


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


class AnalysisPoster:
    """Posts what the Node API would (feedback cards, progress ticks) so the server broadcasts it.

    Through the services layer when Redis connects this process with the server; without
    Redis each process has its own in-memory layer, so over HTTP.
    """

    def __init__(self, service, session_id: str, base_url: str) -> None:
        self.service = service
        self.session_id = session_id
        self.base_url = base_url
        self.token = token_for(service)

    def path(self, kind: str) -> str:
        return f"/api/sessions/{self.session_id}/{kind}/"

    def post(self, kind: str, **data) -> None:
        if settings.REDIS_URL:
            from coaching.services.analysis import feedback_record, progress_post

            service_call = {"feedback": feedback_record, "progress": progress_post}[kind]
            in_thread(service_call, session_id=self.session_id, actor=self.service, **data)
            return
        status, body = post_json(self.base_url + self.path(kind), self.token, data)
        assert status in (200, 201, 202), (status, body)
