"""Swing videos uploaded from the room: resumable chunks, checked on the server, attached
as swings through the swings service, served only to who may see the lesson."""

import base64
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from coaching.models import SessionEvent, Swing, SwingUpload
from coaching.services.media import signed_url
from coaching.services.shares import share_create, share_path, share_revoke
from tests.api.support import session_url
from tests.support.auth import api_client_for
from tests.support.broadcasts import captured_broadcasts, events_named

ROOT = Path(__file__).resolve().parents[2]
CLIP = (ROOT / "static/demo/swing-demo.mp4").read_bytes()  # 3.5 s, its mvhd says 3500 ms
POSTER = (ROOT / "static/demo/swing-demo.jpg").read_bytes()
CHUNK = 16 * 1024
# An EBML header whose DocType is webm: how every WebM file (MediaRecorder's too) starts.
WEBM_HEAD = bytes.fromhex("1a45dfa39f4286810142f7810142f2810442f381084282847765626d")


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.SWING_UPLOAD_CHUNK_BYTES = CHUNK
    return tmp_path


def start(user, session, **overrides):
    body = {
        "filename": "swing.mp4",
        "size": len(CLIP),
        "content_type": "video/mp4",
        "duration_ms": 3400,
        "poster": "data:image/jpeg;base64," + base64.b64encode(POSTER).decode(),
        **overrides,
    }
    return api_client_for(user).post(session_url(session, "uploads"), body, format="json")


def upload_url(session, upload_id):
    return session_url(session, "uploads") + f"{upload_id}/"


def send(user, session, upload_id, offset, chunk):
    return api_client_for(user).generic(
        "PATCH",
        upload_url(session, upload_id),
        chunk,
        content_type="application/octet-stream",
        HTTP_UPLOAD_OFFSET=str(offset),
    )


def test_a_dropped_upload_resumes_at_the_servers_offset_and_becomes_a_swing(
    student, coach, active_session
):
    started = start(student, active_session)
    assert started.status_code == 201
    upload_id = started.json()["upload_id"]
    assert started.json() | {"upload_id": None} == {
        "upload_id": None,
        "offset": 0,
        "size": len(CLIP),
        "chunk_size": CHUNK,
        "status": "receiving",
        "swing": None,
    }
    for offset in (0, CHUNK):
        assert (
            send(student, active_session, upload_id, offset, CLIP[offset : offset + CHUNK]).json()[
                "offset"
            ]
            == offset + CHUNK
        )
    # The connection drops: the page asks where to go on from.
    asked = api_client_for(student).head(upload_url(active_session, upload_id))
    assert (asked.status_code, asked["Upload-Offset"]) == (200, str(2 * CHUNK))
    # A chunk sent again (its answer was lost) or one past a gap stores nothing.
    for wrong in (CHUNK, 3 * CHUNK):
        refused = send(student, active_session, upload_id, wrong, CLIP[wrong : wrong + CHUNK])
        assert refused.status_code == 409
        assert refused.json()["error"]["code"] == "offset_mismatch"
        assert (refused.json()["offset"], refused["Upload-Offset"]) == (2 * CHUNK, str(2 * CHUNK))
    with captured_broadcasts() as sent:
        offset = 2 * CHUNK
        while offset < len(CLIP):
            answer = send(student, active_session, upload_id, offset, CLIP[offset : offset + CHUNK])
            assert answer.status_code == 200, answer.content
            offset = answer.json()["offset"]
    done = answer.json()
    assert (done["status"], done["offset"]) == ("complete", len(CLIP))
    swing = done["swing"]
    assert swing["swing_id"] == upload_id
    assert swing["duration_ms"] == 3500  # the file's own, not the page's 3400
    assert swing["video_url"] == f"/media/swings/{active_session.session_id}/{upload_id}.mp4"
    assert swing["poster_url"] == f"/media/swings/{active_session.session_id}/{upload_id}.jpg"
    [added] = events_named(sent, "swing:added")
    assert added["swing"] == swing
    assert SessionEvent.objects.filter(session=active_session, event="swing:added").count() == 1
    # The chunks are gone; the video is the file sent, byte for byte.
    assert not default_storage.exists(f"uploads/{upload_id}/{0:012d}")
    coach_page = Client()
    coach_page.force_login(coach)
    video = coach_page.get(swing["video_url"])
    assert (video.status_code, video["Content-Type"]) == (200, "video/mp4")
    assert b"".join(video.streaming_content) == CLIP
    assert coach_page.get(swing["poster_url"]).getvalue() == POSTER
    # The GET of a finished upload tells the same.
    assert api_client_for(student).get(upload_url(active_session, upload_id)).json() == done


def test_the_last_chunk_sent_again_is_told_the_upload_is_complete(student, active_session):
    upload_id = start(student, active_session).json()["upload_id"]
    send(student, active_session, upload_id, 0, CLIP[:CHUNK])
    assert send(student, active_session, upload_id, CHUNK, CLIP[CHUNK:]).json()["status"] == (
        "complete"
    )
    again = send(student, active_session, upload_id, CHUNK, CLIP[CHUNK:])  # its answer was lost
    assert (again.status_code, again.json()["offset"]) == (409, len(CLIP))
    assert Swing.objects.filter(session=active_session).count() == 1


def test_videos_play_in_ranges_for_the_players_seeking(student, active_session):
    upload_id = start(student, active_session).json()["upload_id"]
    swing = send(student, active_session, upload_id, 0, CLIP).json()["swing"]
    page = Client()
    page.force_login(student)
    part = page.get(swing["video_url"], HTTP_RANGE="bytes=100-199")
    assert part.status_code == 206
    assert part["Content-Range"] == f"bytes 100-199/{len(CLIP)}"
    assert b"".join(part.streaming_content) == CLIP[100:200]
    tail = page.get(swing["video_url"], HTTP_RANGE="bytes=-10")
    assert b"".join(tail.streaming_content) == CLIP[-10:]
    assert page.get(swing["video_url"], HTTP_RANGE=f"bytes={len(CLIP)}-").status_code == 416


def test_media_is_read_by_who_sees_the_lesson_or_through_a_signed_link(
    student, other_student, active_session, settings
):
    upload_id = start(student, active_session).json()["upload_id"]
    swing = send(student, active_session, upload_id, 0, CLIP).json()["swing"]
    outsider = Client()
    outsider.force_login(other_student)
    assert outsider.get(swing["video_url"]).status_code == 404
    assert Client().get(swing["video_url"]).status_code == 404  # signed out
    name = swing["video_url"].removeprefix("/media/")
    link = signed_url(name).removeprefix(settings.PUBLIC_BASE_URL)
    assert b"".join(Client().get(link).streaming_content) == CLIP
    other = signed_url(f"swings/{active_session.session_id}/other.mp4")
    forged = swing["video_url"] + "?" + other.split("?", 1)[1]
    assert Client().get(forged).status_code == 404  # a signature is for one file
    settings.MEDIA_LINK_SECONDS = -1
    assert Client().get(link).status_code == 404  # expired


def test_a_share_links_pages_play_its_lessons_swings(student, coach, active_session):
    upload_id = start(student, active_session).json()["upload_id"]
    swing = send(student, active_session, upload_id, 0, CLIP).json()["swing"]
    share, secret = share_create(session_id=active_session.session_id, user=coach)
    page = share_path(share.share_id, secret)  # /shared/<share_id>/<secret>/
    signed_out = Client()  # the link's pages send it as their Referer
    for referer in (page, page + "replay/"):
        video = signed_out.get(swing["video_url"], HTTP_REFERER=f"http://testserver{referer}")
        assert b"".join(video.streaming_content) == CLIP
    for referer in ("http://testserver/", share_path(share.share_id, "x" * 20)):
        assert signed_out.get(swing["video_url"], HTTP_REFERER=referer).status_code == 404
    share_revoke(session_id=active_session.session_id, share_id=share.share_id, user=coach)
    assert signed_out.get(swing["video_url"], HTTP_REFERER=page).status_code == 404


@pytest.mark.parametrize(
    ("content_type", "head"),
    [
        ("video/mp4", POSTER),  # a JPEG called a video
        ("video/mp4", WEBM_HEAD + bytes(100)),  # WebM called MP4
        ("video/webm", CLIP[:200]),  # MP4 called WebM
        ("video/quicktime", b"#!/bin/sh\nrm -rf /\n" + bytes(100)),
    ],
)
def test_the_bytes_must_be_of_the_declared_type(student, active_session, content_type, head):
    upload_id = start(student, active_session, content_type=content_type, size=len(head)).json()[
        "upload_id"
    ]
    refused = send(student, active_session, upload_id, 0, head)
    assert (refused.status_code, refused.json()["error"]["code"]) == (415, "unsupported_type")
    assert SwingUpload.objects.get(upload_id=upload_id).offset == 0
    assert not Swing.objects.exists()


def test_a_webm_recording_is_taken_with_the_pages_duration(student, active_session):
    clip = WEBM_HEAD + bytes(1000)
    upload_id = start(
        student, active_session, content_type="video/webm", size=len(clip), duration_ms=3012
    ).json()["upload_id"]
    swing = send(student, active_session, upload_id, 0, clip).json()["swing"]
    assert (swing["duration_ms"], swing["video_url"][-5:]) == (3012, ".webm")


@pytest.mark.parametrize(
    ("overrides", "status", "code"),
    [
        ({"content_type": "image/gif"}, 415, "unsupported_type"),
        ({"content_type": {}}, 400, "invalid_input"),
        ({"label": "swing\u0000"}, 400, "invalid_input"),
        ({"filename": "clip\u0000.mp4"}, 400, "invalid_input"),
        ({"label": {}}, 400, "invalid_input"),
        ({"content_type": ["video/mp4"]}, 400, "invalid_input"),
        ({"size": 10_001}, 413, "too_large"),
        ({"size": 0}, 400, "invalid_input"),
        ({"duration_ms": "3s"}, 400, "invalid_input"),
        ({"poster": "data:image/gif;base64,R0lGODlhAQABAAAAACw="}, 400, "invalid_input"),
        ({"poster": "not base64!"}, 400, "invalid_input"),
        ({"filename": " "}, 400, "invalid_input"),
    ],
)
def test_bad_announcements_are_refused(student, active_session, settings, overrides, status, code):
    settings.SWING_UPLOAD_MAX_BYTES = 10_000
    refused = start(student, active_session, **{"size": 5_000, **overrides})
    assert (refused.status_code, refused.json()["error"]["code"]) == (status, code)
    assert not SwingUpload.objects.exists()


def test_a_chunk_past_the_size_or_over_the_limit_is_refused(student, active_session):
    upload_id = start(student, active_session, size=100).json()["upload_id"]
    past = send(student, active_session, upload_id, 0, CLIP[:101])
    assert (past.status_code, list(past.json()["error"]["fields"])) == (400, ["body"])
    huge = start(student, active_session).json()["upload_id"]
    too_big = send(student, active_session, huge, 0, bytes(2 * 1024 * 1024 + 1))
    assert (too_big.status_code, too_big.json()["error"]["code"]) == (413, "too_large")
    bad = api_client_for(student).generic(
        "PATCH", upload_url(active_session, huge), CLIP[:10], HTTP_UPLOAD_OFFSET="zero"
    )
    assert bad.status_code == 400


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("student", 201),
        ("coach", 201),
        ("admin_user", 403),  # observes, does not film
        ("service", 403),  # attaches its swings through POST …/swings/
        ("other_student", 404),
        ("other_coach", 404),
    ],
)
def test_only_the_lessons_student_and_coach_upload(request, active_session, who, status):
    assert start(request.getfixturevalue(who), active_session).status_code == status


def test_an_upload_is_continued_only_by_who_started_it(student, coach, active_session):
    upload_id = start(student, active_session).json()["upload_id"]
    assert send(coach, active_session, upload_id, 0, CLIP[:CHUNK]).status_code == 404
    assert api_client_for(coach).head(upload_url(active_session, upload_id)).status_code == 404


def test_an_ended_lesson_takes_no_uploads(student, active_session):
    upload_id = start(student, active_session).json()["upload_id"]
    active_session.status = "ended"
    active_session.save()
    refused = send(student, active_session, upload_id, 0, CLIP[:CHUNK])
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "session_ended")
    again = start(student, active_session)
    assert (again.status_code, again.json()["error"]["code"]) == (409, "session_ended")


def test_abandoned_uploads_are_removed_with_their_chunks(student, active_session, media):
    old = start(student, active_session).json()["upload_id"]
    send(student, active_session, old, 0, CLIP[:CHUNK])
    fresh = start(student, active_session).json()["upload_id"]
    SwingUpload.objects.filter(upload_id=old).update(
        updated_at=timezone.now() - timedelta(hours=25)
    )
    call_command("clean_uploads")
    assert list(SwingUpload.objects.values_list("upload_id", flat=True)) == [fresh]
    assert not default_storage.exists(f"uploads/{old}/{0:012d}")
    assert not default_storage.exists(f"swings/{active_session.session_id}/{old}.jpg")
    assert default_storage.exists(f"swings/{active_session.session_id}/{fresh}.jpg")
