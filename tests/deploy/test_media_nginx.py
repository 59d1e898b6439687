"""Uploaded swings behind nginx, as deployed: a chunk uploads through it, the app checks
who asks for the video and nginx sends the file (X-Accel-Redirect to an internal
location), byte ranges included; the internal location itself answers nobody."""

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from coaching.services.media import signed_url
from tests.support.auth import token_for
from tests.support.servers import ServerProcess, free_port, server_env

pytestmark = pytest.mark.django_db(transaction=True)  # the app processes read the rows

CLIP = (Path(__file__).resolve().parents[2] / "static/demo/swing-demo.mp4").read_bytes()


def call(url: str, *, method: str = "GET", token: str = "", body=None, headers=None):
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if isinstance(body, dict):
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


@pytest.fixture
def media_front(start_front, deploy_redis_url, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path  # nginx's internal location reads the app's MEDIA_ROOT
    env = server_env(REDIS_URL=deploy_redis_url, MEDIA_ROOT=str(tmp_path), MEDIA_ACCEL_REDIRECT="1")
    app = ServerProcess(free_port(), env, tmp_path / "app.log").start()
    try:
        yield start_front(apps=[app])
    finally:
        app.stop()


def test_nginx_sends_uploaded_media_only_after_the_apps_check(
    media_front, student, active_session, settings
):
    api = f"{media_front.url}/api/sessions/{active_session.session_id}/uploads/"
    token = token_for(student)
    status, _, body = call(
        api,
        method="POST",
        token=token,
        body={
            "filename": "swing.mp4",
            "size": len(CLIP),
            "content_type": "video/mp4",
            "duration_ms": 3500,
        },
    )
    assert status == 201, body
    upload_id = json.loads(body)["upload_id"]
    status, _, body = call(
        f"{api}{upload_id}/",
        method="PATCH",
        token=token,
        body=CLIP,
        headers={"Content-Type": "application/octet-stream", "Upload-Offset": "0"},
    )
    assert status == 200, body
    video_url = json.loads(body)["swing"]["video_url"]

    link = signed_url(video_url.removeprefix("/media/")).removeprefix(settings.PUBLIC_BASE_URL)
    status, headers, sent = call(media_front.url + link)
    assert (status, sent, headers["Content-Type"]) == (200, CLIP, "video/mp4")
    assert "X-Accel-Redirect" not in headers  # nginx's to act on, never the client's
    status, headers, part = call(media_front.url + link, headers={"Range": "bytes=10-19"})
    assert (status, part, headers["Content-Range"]) == (
        206,
        CLIP[10:20],
        f"bytes 10-19/{len(CLIP)}",
    )

    assert call(media_front.url + video_url)[0] == 404  # no session, no signature
    internal = video_url.replace("/media/", "/_protected_media/")
    assert call(media_front.url + internal)[0] == 404
