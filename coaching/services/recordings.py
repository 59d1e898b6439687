"""The lesson's call, recorded with both participants' consent (docs/api.md, "Recording
the call"; issue 18, item 4).

Consent is asked once per lesson of the student and of the coach, kept per lesson and
person (RecordingConsent), changeable while the lesson lasts and broadcast to the room
as `recording:consent`. The coach's page mixes both voices and uploads a WebM/Opus chunk
every couple of seconds: every chunk is refused (`consent_required`, 403) unless both
consent at that moment, so a withdrawal stops the recording on the server whatever the
page does. Chunks are objects in Django's default storage (local files or an
S3-compatible bucket), so a page that crashes loses only its last chunk; the finish
joins them into one file, and a recording left unfinished (the page closed) is joined
when the lesson has ended or it has had no chunk for RECORDING_IDLE_MS.
"""

import tempfile
import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from coaching import broadcasts, policy
from coaching.errors import ServiceError, invalid
from coaching.models import CallRecording, CoachingSession, RecordingConsent, Status, User
from coaching.services import call
from coaching.services.lookup import get_session
from coaching.services.uploads import MAX_CHUNK_BYTES, SNIFF_BYTES, sniff

CONSENT_EVENT = "recording:consent"
DELETED_EVENT = "recording:deleted"
# How far the page's idea of the server's time may be from the server's own.
CLOCK_SLACK_MS = 60_000
# A chunk's reported length: MediaRecorder's timeslice is ~2 s; a stalled tab's is longer.
MAX_CHUNK_MS = 60_000
# What the chunks' lengths together may exceed the wall clock since the start by.
DURATION_SLACK_MS = 5_000
# An unfinished recording this long without a chunk is joined as it is.
RECORDING_IDLE_MS = 60_000


class ChunkOutOfOrder(ServiceError):
    """A chunk after a gap: send chunk `next` first."""

    def __init__(self, next_chunk: int) -> None:
        super().__init__(
            "chunk_out_of_order", f"The recording expects chunk {next_chunk}: send it first."
        )
        self.next = next_chunk


def _now_ms() -> int:
    return int(time.time() * 1000)


def consent_state(session: CoachingSession) -> dict[str, Any]:
    """`{student, coach}`: each one's answer (true, false, or null when not asked yet), and
    `recording`: whether both said yes (a call may be recorded now)."""
    answers = dict(
        RecordingConsent.objects.filter(session=session).values_list("user_id", "consented")
    )
    student = answers.get(session.student_id)
    coach = answers.get(session.coach_id) if session.coach_id is not None else None
    return {
        "student": student,
        "coach": coach,
        "recording": bool(student and coach),
        "server_ts": _now_ms(),
    }


def _both_consent(session: CoachingSession) -> bool:
    return consent_state(session)["recording"]


def consent_read(*, session_id: str, actor: User) -> dict[str, Any]:
    session = get_session(session_id)
    policy.check_view(actor, session)
    policy.check_recording_consent(actor, session)
    return consent_state(session)


@transaction.atomic
def consent_set(*, session_id: str, actor: User, consent: Any) -> dict[str, Any]:
    """Give (`true`) or withdraw (`false`) `actor`'s consent; the room hears the new state
    as `recording:consent`. A withdrawal is taken at any time; consent only while the
    lesson is open."""
    if not isinstance(consent, bool):
        raise invalid("consent", "consent must be true or false.")
    session = get_session(session_id)
    policy.check_view(actor, session)
    policy.check_recording_consent(actor, session)
    if consent and session.status == Status.ENDED:
        raise ServiceError("session_ended", "The lesson has ended.")
    RecordingConsent.objects.update_or_create(
        session=session, user=actor, defaults={"consented": consent}
    )
    state = consent_state(session)
    broadcasts.on_commit(session.topic, CONSENT_EVENT, state)
    return state


def _require_consent(session: CoachingSession) -> None:
    if not _both_consent(session):
        raise ServiceError(
            "consent_required",
            "The call is recorded only while both the student and the coach consent.",
        )


def recording_start(
    *, session_id: str, actor: User, started_at: Any, call_state: str
) -> CallRecording:
    """Start a recording whose first sample is at `started_at` (the server's epoch ms, as
    the page's clock estimates it): the coach's page, while the lesson is open, both
    consent and the room's call (`call_state`, coaching/services/call.py) is connected or
    reconnecting."""
    session = get_session(session_id)
    policy.check_view(actor, session)
    policy.check_record(actor, session)
    _require_consent(session)
    if call_state not in call.REPORTED:
        raise ServiceError(
            "invalid_transition", "A recording starts only while the lesson's call is connected."
        )
    if isinstance(started_at, bool) or not isinstance(started_at, int):
        raise invalid("started_at", "started_at is the server's time in epoch ms.")
    if abs(started_at - _now_ms()) > CLOCK_SLACK_MS:
        raise invalid("started_at", "started_at is not within a minute of the server's time.")
    return CallRecording.objects.create(session=session, started_by=actor, started_ms=started_at)


def _own_recording(session_id: str, recording_id: str, actor: User) -> CallRecording:
    recording = (
        CallRecording.objects.select_for_update()
        .select_related("session")
        .filter(recording_id=recording_id, session__session_id=session_id, started_by=actor)
        .first()
    )
    if recording is None:
        raise ServiceError("not_found", "No such recording.")
    return recording


@transaction.atomic
def recording_append(
    *,
    session_id: str,
    recording_id: str,
    actor: User,
    n: int,
    duration_ms: Any,
    chunk: bytes,
) -> CallRecording:
    """Store chunk `n` (from 0, in order) of `duration_ms`. A chunk already stored is
    answered as stored (a retry); one after a gap raises ChunkOutOfOrder. Refused unless
    both participants consent now."""
    recording = _own_recording(session_id, recording_id, actor)
    _require_consent(recording.session)
    if recording.finished:
        raise ServiceError("invalid_transition", "The recording is finished.")
    if n < len(recording.chunks):
        return recording
    if n > len(recording.chunks):
        raise ChunkOutOfOrder(len(recording.chunks))
    if isinstance(duration_ms, bool) or not isinstance(duration_ms, int):
        raise invalid("duration_ms", "duration_ms is the chunk's length in ms.")
    if not 0 <= duration_ms <= MAX_CHUNK_MS:
        raise invalid("duration_ms", f"duration_ms is from 0 to {MAX_CHUNK_MS}.")
    if recording.duration_ms + duration_ms > _now_ms() - recording.started_ms + DURATION_SLACK_MS:
        raise invalid("duration_ms", "The chunks are longer than the time since the start.")
    if not chunk:
        raise invalid("body", "A chunk has at least one byte.")
    if len(chunk) > MAX_CHUNK_BYTES:
        raise ServiceError("too_large", f"A chunk has at most {MAX_CHUNK_BYTES} bytes.")
    if n == 0 and sniff(chunk[:SNIFF_BYTES]) != "webm":
        raise ServiceError("unsupported_type", "A recording is WebM audio.")
    name = f"recordings/{recording.session.session_id}/{recording.recording_id}/{n:06d}"
    if default_storage.exists(name):  # left by an attempt whose transaction rolled back
        default_storage.delete(name)
    recording.chunks = [
        *recording.chunks,
        [default_storage.save(name, ContentFile(chunk)), duration_ms],
    ]
    recording.duration_ms += duration_ms
    recording.save()
    return recording


@transaction.atomic
def recording_finish(*, session_id: str, recording_id: str, actor: User) -> CallRecording:
    """Join the chunks into the recording's file (again: the same answer)."""
    recording = _own_recording(session_id, recording_id, actor)
    if not recording.finished:
        _join(recording)
    return recording


def _join(recording: CallRecording) -> None:
    """The chunks, in order, as one WebM file (MediaRecorder's chunks continue its first
    one's stream); the chunk objects go once the transaction commits."""
    names = [name for name, _ in recording.chunks]
    if names:
        with tempfile.TemporaryFile() as joined:
            for name in names:
                with default_storage.open(name) as chunk:
                    while data := chunk.read(1024 * 1024):
                        joined.write(data)
            joined.seek(0)
            recording.audio_name = default_storage.save(
                f"recordings/{recording.session.session_id}/{recording.recording_id}.webm",
                File(joined),
            )
        transaction.on_commit(lambda: _delete(names))
    recording.chunks = []
    recording.finished = True
    recording.save()


def _delete(names: list[str]) -> None:
    for name in names:
        default_storage.delete(name)


def _settled(recording: CallRecording, ended: bool, idle_since: Any) -> CallRecording:
    """`recording`, joined if the page left it unfinished: every open one once the
    lesson has ended, else one without a chunk for RECORDING_IDLE_MS."""
    if recording.finished or not (ended or recording.updated_at < idle_since):
        return recording
    with transaction.atomic():
        locked = (
            CallRecording.objects.select_for_update(skip_locked=True)
            .select_related("session")
            .filter(pk=recording.pk, finished=False)
            .first()
        )
        if locked is not None:
            _join(locked)
            return locked
    return recording


def recording_list(session: CoachingSession) -> list[dict[str, Any]]:
    """The lesson's recordings as the replay places them: `{id, start_ms, duration_ms,
    url}`, oldest first (only those with sound). One query, unless one is left to join."""
    ended = session.status == Status.ENDED
    idle_since = timezone.now() - timedelta(milliseconds=RECORDING_IDLE_MS)
    recordings = [
        _settled(recording, ended, idle_since)
        for recording in CallRecording.objects.filter(session=session).only(
            "recording_id", "started_ms", "duration_ms", "audio_name", "finished", "updated_at"
        )
    ]
    return [
        {
            "id": recording.recording_id,
            "start_ms": recording.started_ms,
            "duration_ms": recording.duration_ms,
            "url": settings.MEDIA_URL + recording.audio_name,
        }
        for recording in recordings
        if recording.finished and recording.audio_name
    ]


def recordings_delete(*, session_id: str, actor: User) -> int:
    """Delete every recording of the lesson's call and its files: one action for the
    student or the coach. Returns how many."""
    session = get_session(session_id)
    policy.check_view(actor, session)
    policy.check_recording_delete(actor, session)
    return delete_recordings(session)


@transaction.atomic
def delete_recordings(session: CoachingSession) -> int:
    """Delete the lesson's recordings (the API's delete and the admin's action): the rows
    now, the files and the room's `recording:deleted` once this commits. Returns how many."""
    recordings = list(CallRecording.objects.select_for_update().filter(session=session))
    names = [
        name
        for recording in recordings
        for name in [*(n for n, _ in recording.chunks), recording.audio_name]
        if name
    ]
    CallRecording.objects.filter(pk__in=[r.pk for r in recordings]).delete()
    transaction.on_commit(lambda: _delete(names))
    broadcasts.on_commit(session.topic, DELETED_EVENT, {"server_ts": _now_ms()})
    return len(recordings)
