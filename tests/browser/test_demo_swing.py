"""The demo swing clip plays and seeks in Debian's Chromium, served by the app itself."""

import pytest

from coaching.management.commands.seed_demo import DEMO_SWING

SEEK_TO = 1.2


def test_demo_swing_plays_and_seeks_to_a_frame_in_chromium(server, browser):
    url = server.http_url + DEMO_SWING["video_url"]
    page = browser.new_page()
    try:
        page.set_content(f'<video id="v" muted playsinline preload="auto" src="{url}"></video>')
        page.wait_for_function(
            "() => { const v = document.getElementById('v');"
            " return v.error !== null || v.readyState >= 2; }",
            timeout=15_000,
        )
        loaded = page.evaluate(
            "() => { const v = document.getElementById('v');"
            " return {error: v.error && v.error.code, ready: v.readyState,"
            " width: v.videoWidth, height: v.videoHeight, duration: v.duration}; }"
        )
        assert loaded["error"] is None, loaded
        assert loaded["ready"] >= 2
        assert (loaded["width"], loaded["height"]) == (480, 360)
        assert loaded["duration"] == pytest.approx(DEMO_SWING["duration_ms"] / 1000, abs=0.05)

        seeked = page.evaluate(
            """(to) => new Promise((resolve) => {
                const v = document.getElementById('v');
                v.addEventListener('seeked', () => resolve(
                    {time: v.currentTime, ready: v.readyState}), {once: true});
                v.currentTime = to;
            })""",
            SEEK_TO,
        )
        assert seeked["time"] == pytest.approx(SEEK_TO, abs=0.001)
        assert seeked["ready"] >= 2  # the frame at 1.2 s is decoded and shown

        played = page.evaluate(
            """() => new Promise((resolve, reject) => {
                const v = document.getElementById('v');
                v.playbackRate = 0.5;
                v.play().then(() => setTimeout(() => { v.pause();
                    resolve({time: v.currentTime, rate: v.playbackRate}); }, 400), reject);
            })"""
        )
        assert played["rate"] == 0.5
        assert played["time"] > SEEK_TO  # it played on from the seek
    finally:
        page.close()  # and the context new_page made for it
