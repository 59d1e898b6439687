"""The lesson's call recording (issue 18, item 4): consent per lesson and participant,
enforced by the server on every chunk; chunks stored in order through Django's storage;
the replay places the recording; one DELETE removes it and its files."""

import time

import pytest
import redis
from asgiref.sync import async_to_sync
from django.core.files.storage import default_storage
from django.test import Client, TestCase

from coaching.models import CallRecording, RecordingConsent
from coaching.realtime.call_room import get_call_store
from coaching.replay import replay_document
from coaching.services import call
from tests.api.support import session_url
from tests.api.test_uploads import WEBM_HEAD
from tests.support.auth import api_client_for
from tests.support.broadcasts import captured_broadcasts, events_named

FIRST = WEBM_HEAD + b"\x18\x53\x80\x67" + b"\x01" * 200  # MediaRecorder's first chunk
MORE = b"\x1f\x43\xb6\x75" + b"\x02" * 200  # a later one: a cluster


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def consent(user, session, value):
    return api_client_for(user).put(
        session_url(session, "recording-consent"), {"consent": value}, format="json"
    )


def start(user, session, started_at=None):
    body = {"started_at": int(time.time() * 1000) - 10_000 if started_at is None else started_at}
    return api_client_for(user).post(session_url(session, "recordings"), body, format="json")


def chunk(user, session, recording_id, n, data, duration_ms=2000):
    return api_client_for(user).generic(
        "PUT",
        session_url(session, "recordings")
        + f"{recording_id}/chunks/{n}/?duration_ms={duration_ms}",
        data,
        content_type="application/octet-stream",
    )


def finish(user, session, recording_id):
    """Finish; the chunks' objects are deleted once its transaction commits."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return api_client_for(user).post(
            session_url(session, "recordings") + f"{recording_id}/finish/"
        )


def stored(media) -> list[str]:
    return sorted(str(p.relative_to(media)) for p in media.rglob("*") if p.is_file())


def call_is(session, state: str) -> None:
    """The room's call state (as the channel's call handlers keep it) set to `state`."""
    async_to_sync(get_call_store().change)(
        session.session_id, call.idle_state(), lambda current: {**current, "state": state}
    )


@pytest.fixture
def consented(student, coach, active_session):
    """Both consent, during a connected call."""
    assert consent(student, active_session, True).status_code == 200
    assert consent(coach, active_session, True).json()["recording"] is True
    call_is(active_session, call.CONNECTED)
    return active_session


@pytest.mark.parametrize("state", [call.IDLE, call.RINGING, call.CONNECTING, call.ENDED])
def test_a_recording_starts_only_while_the_call_is_connected(coach, consented, state):
    call_is(consented, state)
    refused = start(coach, consented)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "invalid_transition"
    call_is(consented, call.RECONNECTING)
    assert start(coach, consented).status_code == 201
    assert CallRecording.objects.count() == 1


def test_a_start_while_redis_is_out_of_reach_is_unavailable_not_a_crash(
    coach, consented, monkeypatch, caplog
):
    async def unreachable(session_id: str) -> dict:
        raise redis.exceptions.ConnectionError("Connection refused")

    monkeypatch.setattr("coaching.api.recordings.current_call", unreachable)
    refused = start(coach, consented)
    assert (refused.status_code, refused.json()["error"]["code"]) == (503, "unavailable")
    assert "Retry-After" in refused
    assert [r.getMessage() for r in caplog.records if r.name == "coaching.outage"] == [
        "redis unavailable in REST recordings: ConnectionError: Connection refused"
    ]
    assert not CallRecording.objects.exists()


def test_consent_is_each_participants_own_and_the_room_hears_it(student, coach, active_session):
    url = session_url(active_session, "recording-consent")
    assert api_client_for(coach).get(url).json() | {"server_ts": 0} == {
        "student": None,
        "coach": None,
        "recording": False,
        "server_ts": 0,
    }
    with captured_broadcasts() as sent:
        assert consent(student, active_session, True).json()["student"] is True
        state = consent(coach, active_session, True).json()
        withdrawn = consent(student, active_session, False).json()
    assert (state["student"], state["coach"], state["recording"]) == (True, True, True)
    assert (withdrawn["student"], withdrawn["recording"]) == (False, False)
    assert [(e["student"], e["coach"]) for e in events_named(sent, "recording:consent")] == [
        (True, None),
        (True, True),
        (False, True),
    ]
    assert RecordingConsent.objects.filter(session=active_session).count() == 2


def test_consent_is_refused_to_others_and_for_bad_input(
    student, admin_user, other_student, active_session
):
    assert consent(admin_user, active_session, True).status_code == 403
    assert consent(other_student, active_session, True).status_code == 404
    bad = consent(student, active_session, "yes")
    assert bad.status_code == 400
    assert bad.json()["error"]["fields"] == {"consent": ["consent must be true or false."]}


def test_without_both_consents_nothing_starts_and_no_chunk_is_stored(
    student, coach, active_session, media
):
    refused = start(coach, active_session)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "consent_required"
    consent(coach, active_session, True)
    assert start(coach, active_session).json()["error"]["code"] == "consent_required"
    consent(student, active_session, False)
    assert start(coach, active_session).status_code == 403
    assert CallRecording.objects.count() == 0
    assert stored(media) == []


def test_withdrawing_mid_recording_refuses_every_further_chunk(student, coach, consented, media):
    recording_id = start(coach, consented).json()["id"]
    assert chunk(coach, consented, recording_id, 0, FIRST).status_code == 200
    consent(student, consented, False)
    for n in (1, 2):
        refused = chunk(coach, consented, recording_id, n, MORE)
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "consent_required"
    assert len(stored(media)) == 1
    # Given again, the recording goes on where it was.
    consent(student, consented, True)
    assert chunk(coach, consented, recording_id, 1, MORE).json()["chunks"] == 2


def test_only_the_coachs_page_records(student, consented):
    assert start(student, consented).status_code == 403


def test_chunks_go_in_order_and_a_repeat_is_answered_as_stored(coach, consented, media):
    recording = start(coach, consented).json()
    assert recording["chunks"] == 0
    rid = recording["id"]
    gap = chunk(coach, consented, rid, 1, MORE)
    assert gap.status_code == 409
    assert (gap.json()["error"]["code"], gap.json()["next"]) == ("chunk_out_of_order", 0)
    assert chunk(coach, consented, rid, 0, FIRST).json()["chunks"] == 1
    assert chunk(coach, consented, rid, 1, MORE, 1500).json()["duration_ms"] == 3500
    repeat = chunk(coach, consented, rid, 1, MORE, 1500)
    assert (repeat.status_code, repeat.json()["chunks"], repeat.json()["duration_ms"]) == (
        200,
        2,
        3500,
    )
    assert len(stored(media)) == 2
    finished = finish(coach, consented, rid).json()
    assert (finished["finished"], finished["duration_ms"]) == (True, 3500)
    name = f"recordings/{consented.session_id}/{rid}.webm"
    assert stored(media) == [name]
    assert default_storage.open(name).read() == FIRST + MORE
    assert finish(coach, consented, rid).json()["finished"] is True  # again: the same
    assert chunk(coach, consented, rid, 2, MORE).json()["error"]["code"] == "invalid_transition"


def test_chunks_are_checked(coach, consented):
    rid = start(coach, consented).json()["id"]
    assert chunk(coach, consented, rid, 0, b"not webm at all").status_code == 415
    assert chunk(coach, consented, rid, 0, b"").status_code == 400
    too_long = chunk(coach, consented, rid, 0, FIRST, duration_ms=50_000)
    assert too_long.json()["error"]["fields"]["duration_ms"] == [
        "The chunks are longer than the time since the start."
    ]
    url = session_url(consented, "recordings") + f"{rid}/chunks/0/"
    missing = api_client_for(coach).generic(
        "PUT", url, FIRST, content_type="application/octet-stream"
    )
    assert missing.json()["error"]["fields"] == {
        "duration_ms": ["duration_ms is the chunk's length in ms."]
    }
    far = start(coach, consented, started_at=int(time.time() * 1000) - 3_600_000)
    assert far.json()["error"]["fields"]["started_at"]


def test_the_replay_places_the_recording_and_only_participants_hear_it(
    student, coach, other_coach, consented, media
):
    recap = session_url(consented, "recap")
    assert api_client_for(student).get(recap).json()["call_recording_ms"] is None
    rid = start(coach, consented).json()["id"]
    chunk(coach, consented, rid, 0, FIRST)
    chunk(coach, consented, rid, 1, MORE)
    assert api_client_for(student).get(recap).json()["call_recording_ms"] == 4000
    # The page closed without finishing: the lesson's end joins what it sent.
    consented.status = "ended"
    consented.save()
    with TestCase.captureOnCommitCallbacks(execute=True):
        (entry,) = replay_document(consented)["recordings"]
    assert stored(media) == [f"recordings/{consented.session_id}/{rid}.webm"]
    recording = CallRecording.objects.get()
    assert entry == {
        "id": rid,
        "start_ms": recording.started_ms,
        "duration_ms": 4000,
        "url": f"/media/recordings/{consented.session_id}/{rid}.webm",
    }
    assert recording.finished
    for user, code in ((student, 200), (coach, 200), (other_coach, 404)):
        client = Client()
        client.force_login(user)
        response = client.get(entry["url"])
        assert response.status_code == code
        if code == 200:
            assert b"".join(response.streaming_content) == FIRST + MORE
    assert Client().get(entry["url"]).status_code == 404


@pytest.mark.parametrize("who", ["student", "coach"])
def test_one_delete_by_the_student_or_the_coach_removes_every_recording_and_its_files(
    request, who, coach, consented, media
):
    first = start(coach, consented).json()["id"]
    chunk(coach, consented, first, 0, FIRST)
    finish(coach, consented, first)
    second = start(coach, consented).json()["id"]
    chunk(coach, consented, second, 0, FIRST)  # still open
    assert len(stored(media)) == 2
    with captured_broadcasts() as sent:
        response = api_client_for(request.getfixturevalue(who)).delete(
            session_url(consented, "recordings")
        )
    assert response.status_code == 204
    assert CallRecording.objects.count() == 0
    assert stored(media) == []
    assert len(events_named(sent, "recording:deleted")) == 1
    assert replay_document(consented)["recordings"] == []


def test_nobody_else_deletes_a_recording(coach, admin_user, other_coach, consented, media):
    rid = start(coach, consented).json()["id"]
    chunk(coach, consented, rid, 0, FIRST)
    url = session_url(consented, "recordings")
    assert api_client_for(admin_user).delete(url).status_code == 403
    assert api_client_for(other_coach).delete(url).status_code == 404
    assert CallRecording.objects.count() == 1
    assert len(stored(media)) == 1
