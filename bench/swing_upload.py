"""Upload time of a 3 s swing clip, as the room sends it (issue 18, item 5).

    .venv/bin/python bench/swing_upload.py [--runs 10] [--chunk-bytes 1048576]

Records a 3 s clip from Chromium's fake camera with MediaRecorder (1280x720, WebM VP8),
and makes a phone-sized one of 6 MiB (3 s at 16 Mbit/s: the recording, padded). Against
one fresh server process (this checkout, on BENCH_DATABASE_URL / BENCH_REDIS_URL,
storage in a temporary MEDIA_ROOT) it uploads each `--runs` times over the loopback the
way static/coaching/upload/uploader.js does: `POST …/uploads/`, then `PATCH` chunks at
`Upload-Offset` until the swing is attached; then again with a dropped connection after
the first chunk (the client asks the offset with `HEAD` and goes on). Printed: per case
p50 and max of the time from the POST to the answer that carries the swing. Figures,
not assertions.
"""

import argparse
import base64
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.harness import fixtures  # noqa: E402
from bench.harness.open_loop import serve  # noqa: E402

PORT = 18790
PHONE_BYTES = 6 * 1024 * 1024  # 3 s at 16 Mbit/s
RECORD = """async () => {
  const stream = await navigator.mediaDevices.getUserMedia(
    {video: {width: 1280, height: 720, frameRate: 30}, audio: false});
  const recorder = new MediaRecorder(stream, {mimeType: 'video/webm;codecs=vp8',
                                              videoBitsPerSecond: 8000000});
  const chunks = [];
  recorder.ondataavailable = (e) => chunks.push(e.data);
  const stopped = new Promise((resolve) => { recorder.onstop = resolve; });
  recorder.start(1000);
  await new Promise((r) => setTimeout(r, 3000));
  recorder.stop();
  await stopped;
  stream.getTracks().forEach((t) => t.stop());
  const bytes = new Uint8Array(await new Blob(chunks).arrayBuffer());
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(text);
}"""


def record_clip(http_url: str) -> bytes:
    """A 3 s WebM from Chromium's fake camera (a secure origin: the server's loopback)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=[
                "--no-sandbox",
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
            ],
        )
        page = browser.new_page()
        page.goto(http_url + "/healthz")
        clip = base64.b64decode(page.evaluate(RECORD))
        browser.close()
    return clip


def call(method: str, url: str, token: str, body: bytes | dict | None = None, headers=None):
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    request.add_header("Authorization", f"Bearer {token}")
    if isinstance(body, dict):
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.headers, json.loads(response.read() or b"null")


def upload(api: str, token: str, clip: bytes, chunk_bytes: int, *, drop: bool) -> float:
    """Seconds from the announcement to the answer carrying the swing."""
    started = time.perf_counter()
    _, state = call(
        "POST",
        f"{api}/uploads/",
        token,
        {
            "filename": "swing.webm",
            "size": len(clip),
            "content_type": "video/webm",
            "duration_ms": 3000,
        },
    )
    url = f"{api}/uploads/{state['upload_id']}/"
    offset, sent = 0, 0
    while True:
        chunk = clip[offset : offset + chunk_bytes]
        _, state = call(
            "PATCH",
            url,
            token,
            chunk,
            {"Content-Type": "application/octet-stream", "Upload-Offset": str(offset)},
        )
        sent += 1
        if state["status"] == "complete":
            return time.perf_counter() - started
        offset = state["offset"]
        if drop and sent == 1:  # the answer is lost: ask where the server is
            headers, _ = call("HEAD", url, token)
            offset = int(headers["Upload-Offset"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--chunk-bytes", type=int, default=1024 * 1024)
    args = parser.parse_args()
    fixtures.setup_django()
    ((topic, student_token, _),) = fixtures.project_sessions(1)
    session_id = topic.split(":", 1)[1]
    media = tempfile.mkdtemp(prefix="bench-media-")
    limits = {"MEDIA_ROOT": media, "SWING_UPLOAD_CHUNK_BYTES": str(args.chunk_bytes)}

    def run(urls: list[str]) -> dict:
        http = urls[0].replace("ws://", "http://").removesuffix("/socket/websocket")
        recorded = record_clip(http)
        # A phone films 3 s at about 16 Mbit/s: the recording's bytes, then random ones up
        # to that size (the server stores bytes; it decodes nothing but the first ones).
        phone = recorded + os.urandom(max(0, PHONE_BYTES - len(recorded)))
        api = f"{http}/api/sessions/{session_id}"
        cases = {}
        for clip_name, clip in (("fake camera", recorded), ("phone-sized", phone)):
            for drop in (False, True):
                times = [
                    upload(api, student_token, clip, args.chunk_bytes, drop=drop)
                    for _ in range(args.runs)
                ]
                case = "dropped after chunk 1" if drop else "straight"
                cases[f"{clip_name} {len(clip):,} B, {case}"] = times
        return cases

    cases, cpu = serve("project", 1, PORT, limits, run)
    print(
        f"3 s clips (Chromium's fake camera recorded as WebM VP8, and phone-sized); "
        f"chunks of {args.chunk_bytes:,} bytes; {args.runs} uploads per case; "
        f"server CPU {cpu:.2f} s in all"
    )
    for name, times in cases.items():
        ms = sorted(t * 1000 for t in times)
        print(f"  {name:>45}: p50 {statistics.median(ms):7.1f} ms   max {ms[-1]:7.1f} ms")
    shutil.rmtree(media, ignore_errors=True)


if __name__ == "__main__":
    main()
