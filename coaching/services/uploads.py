"""Swing videos uploaded from the lesson room, resumably (docs/api.md, "Uploading a swing").

An upload is announced first (name, size, type, duration, poster frame), then sent in
chunks, each at the offset the server has: a chunk at any other offset is refused with
the current one, so a page that lost its connection asks for the offset and goes on
from there. Each chunk is its own object in Django's default storage (local files or
an S3-compatible bucket), so whichever process takes the next chunk has all before it.
The last chunk joins them into the video, checks its container once more, and
attaches the swing through the swings service (`swing:added`, as for the Node API's
swings); the analysis webhook is queued in the same transaction.

The type is checked from the bytes, not only from what the page declares: the first
chunk must start like an MP4/QuickTime (ISO BMFF) or WebM file of the declared type.
"""

import base64
import binascii
import struct
import tempfile
from datetime import timedelta
from typing import IO, Any

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from coaching import policy, text
from coaching.errors import ServiceError, invalid
from coaching.models import SwingUpload, UploadStatus, User
from coaching.services import analysis_webhook
from coaching.services.lookup import get_session
from coaching.services.swings import (
    MAX_DURATION_MS,
    MAX_LABEL_CHARS,
    MAX_SWINGS_PER_SESSION,
    swing_attach_uploaded,
)

# Declared type → (container family, file extension).
VIDEO_TYPES = {
    "video/mp4": ("isobmff", "mp4"),
    "video/quicktime": ("isobmff", "mov"),
    "video/webm": ("webm", "webm"),
}
# Largest chunk one request may carry, whatever the page was told to send.
MAX_CHUNK_BYTES = 2 * 1024 * 1024  # under nginx's client_max_body_size (deploy/nginx)
MAX_POSTER_BYTES = 1024 * 1024
MAX_FILENAME_CHARS = 200
# QuickTime files may open with another top-level atom than `ftyp`.
ISOBMFF_FIRST_BOXES = {b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip"}
EBML_MAGIC = b"\x1a\x45\xdf\xa3"
POSTER_TYPES = {b"\xff\xd8\xff": "jpg", b"\x89PNG\r\n\x1a\n": "png"}
SNIFF_BYTES = 64


class OffsetMismatch(ServiceError):
    """A chunk sent at another offset than the upload's: resend from `offset`."""

    def __init__(self, offset: int) -> None:
        super().__init__(
            "offset_mismatch", f"The upload is at byte {offset}: send the chunk from there."
        )
        self.offset = offset


def sniff(head: bytes) -> str | None:
    """The container family the first bytes show (`isobmff` or `webm`), or None."""
    if len(head) >= 8 and head[4:8] in ISOBMFF_FIRST_BOXES:
        return "isobmff"
    if head.startswith(EBML_MAGIC) and b"webm" in head[:SNIFF_BYTES]:
        return "webm"
    return None


def _poster(data: Any) -> tuple[bytes, str] | None:
    """A poster frame as base64 (optionally a data: URL), checked to be a JPEG or PNG."""
    if data is None:
        return None
    if not isinstance(data, str):
        raise invalid("poster", "poster must be a base64 JPEG or PNG image.")
    encoded = data.split(",", 1)[1] if data.startswith("data:") else data
    if len(encoded) > MAX_POSTER_BYTES * 4 // 3 + 4:
        raise invalid("poster", f"poster is larger than {MAX_POSTER_BYTES} bytes.")
    try:
        image = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise invalid("poster", "poster must be a base64 JPEG or PNG image.") from None
    for magic, ext in POSTER_TYPES.items():
        if image.startswith(magic):
            return image, ext
    raise invalid("poster", "poster must be a base64 JPEG or PNG image.")


def _positive_int(value: Any, field: str, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
        raise invalid(field, f"{field} must be an integer from 1 to {high}.")
    return value


def upload_start(*, session_id: str, actor: User, data: dict[str, Any]) -> SwingUpload:
    """Announce an upload: `{filename, size, content_type, duration_ms, poster?, label?}`.

    Refused: anyone but the session's student and coach, an ended lesson, a size over
    SWING_UPLOAD_MAX_BYTES (`too_large`), a type other than MP4, QuickTime or WebM
    (`unsupported_type`), a session that has all its swings already.
    """
    session = get_session(session_id)
    policy.check_view(actor, session)
    policy.check_upload(actor, session)
    content_type = data.get("content_type")
    if not isinstance(content_type, str):
        raise invalid("content_type", "content_type must be a string such as video/mp4.")
    if content_type not in VIDEO_TYPES:
        raise ServiceError(
            "unsupported_type", f"content_type must be one of {sorted(VIDEO_TYPES)}."
        )
    size = data.get("size")
    limit = settings.SWING_UPLOAD_MAX_BYTES
    if isinstance(size, int) and not isinstance(size, bool) and size > limit:
        raise ServiceError("too_large", f"A swing video has at most {limit} bytes.")
    size = _positive_int(size, "size", limit)
    duration_ms = _positive_int(data.get("duration_ms"), "duration_ms", MAX_DURATION_MS)
    filename = data.get("filename")
    if not isinstance(filename, str) or not filename.strip() or len(filename) > MAX_FILENAME_CHARS:
        raise invalid(
            "filename",
            f"filename is a non-empty string of at most {MAX_FILENAME_CHARS} characters.",
        )
    label = data.get("label")
    label = "" if label is None else label
    if not isinstance(label, str) or len(label) > MAX_LABEL_CHARS:
        raise invalid("label", f"label is a string of at most {MAX_LABEL_CHARS} characters.")
    text.ensure_storable(filename, field="filename")
    text.ensure_storable(label, field="label")
    poster = _poster(data.get("poster"))
    if session.swings.count() >= MAX_SWINGS_PER_SESSION:
        raise invalid("size", f"A session has at most {MAX_SWINGS_PER_SESSION} swings.")
    upload = SwingUpload(
        session=session,
        uploader=actor,
        filename=filename.strip(),
        content_type=content_type,
        size=size,
        duration_ms=duration_ms,
        label=label.strip(),
    )
    if poster is not None:
        image, ext = poster
        upload.poster_name = default_storage.save(
            f"swings/{session.session_id}/{upload.upload_id}.{ext}", ContentFile(image)
        )
    upload.save()
    return upload


def _own_upload(session_id: str, upload_id: str, actor: User, *, lock: bool) -> SwingUpload:
    """The upload, if `actor` started it in this session (anyone else: not found)."""
    uploads = SwingUpload.objects.select_for_update() if lock else SwingUpload.objects
    upload = uploads.filter(
        upload_id=upload_id, session__session_id=session_id, uploader=actor
    ).first()
    if upload is None:
        raise ServiceError("not_found", "No such upload.")
    return upload


def upload_status(*, session_id: str, upload_id: str, actor: User) -> SwingUpload:
    """The upload as stored: its offset, and its swing once complete."""
    return _own_upload(session_id, upload_id, actor, lock=False)


@transaction.atomic
def upload_append(
    *, session_id: str, upload_id: str, actor: User, offset: int, chunk: bytes
) -> SwingUpload:
    """Store one chunk at `offset`; the chunk that reaches the size completes the upload.

    A chunk at another offset (a repeat, or one after a gap) raises OffsetMismatch with
    the upload's offset, and stores nothing.
    """
    upload = _own_upload(session_id, upload_id, actor, lock=True)
    if upload.status == UploadStatus.COMPLETE or offset != upload.offset:
        raise OffsetMismatch(upload.offset)
    policy.check_upload(actor, upload.session)
    if not chunk:
        raise invalid("body", "A chunk has at least one byte.")
    if len(chunk) > MAX_CHUNK_BYTES:
        raise ServiceError("too_large", f"A chunk has at most {MAX_CHUNK_BYTES} bytes.")
    if offset + len(chunk) > upload.size:
        raise invalid("body", f"The chunk goes past the upload's size ({upload.size} bytes).")
    if offset == 0 and sniff(chunk[:SNIFF_BYTES]) != VIDEO_TYPES[upload.content_type][0]:
        raise ServiceError("unsupported_type", f"The file is not a {upload.content_type} video.")
    name = f"uploads/{upload.upload_id}/{offset:012d}"
    if default_storage.exists(name):  # left by an attempt whose transaction rolled back
        default_storage.delete(name)
    upload.parts = [*upload.parts, default_storage.save(name, ContentFile(chunk))]
    upload.offset = offset + len(chunk)
    if upload.offset == upload.size:
        _complete(upload)
    upload.save()
    return upload


def _complete(upload: SwingUpload) -> None:
    """Join the chunks into the video, attach the swing, queue its analysis."""
    family, ext = VIDEO_TYPES[upload.content_type]
    with tempfile.TemporaryFile() as joined:
        for part in upload.parts:
            with default_storage.open(part) as chunk:
                while data := chunk.read(1024 * 1024):
                    joined.write(data)
        duration_ms = (mp4_duration_ms(joined) if family == "isobmff" else None) or min(
            upload.duration_ms, MAX_DURATION_MS
        )
        joined.seek(0)
        upload.video_name = default_storage.save(
            f"swings/{upload.session.session_id}/{upload.upload_id}.{ext}", File(joined)
        )
    swing = swing_attach_uploaded(
        session_id=upload.session.session_id,
        swing={
            "swing_id": upload.upload_id,
            "video_url": settings.MEDIA_URL + upload.video_name,
            "poster_url": settings.MEDIA_URL + upload.poster_name if upload.poster_name else None,
            "duration_ms": duration_ms,
            "label": upload.label or None,
            "recorded_at": int(timezone.now().timestamp() * 1000),
        },
    )
    upload.swing = swing
    upload.status = UploadStatus.COMPLETE
    parts, upload.parts = upload.parts, []
    analysis_webhook.queue(swing)
    transaction.on_commit(lambda: _delete(parts))


def mp4_duration_ms(file: IO[bytes]) -> int | None:
    """The duration in an ISO BMFF file's movie header (moov/mvhd), or None."""
    file.seek(0, 2)
    end = file.tell()
    position = 0
    while position + 8 <= end:
        file.seek(position)
        size, kind = struct.unpack(">I4s", file.read(8))
        header = 8
        if size == 1:
            size = struct.unpack(">Q", file.read(8))[0]
            header = 16
        elif size == 0:
            size = end - position
        if size < header:
            return None
        if kind == b"moov":
            return _mvhd_duration(file, position + header, position + size)
        position += size
    return None


def _mvhd_duration(file: IO[bytes], start: int, end: int) -> int | None:
    position = start
    while position + 8 <= end:
        file.seek(position)
        size, kind = struct.unpack(">I4s", file.read(8))
        if size < 8:
            return None
        if kind == b"mvhd":
            version = file.read(4)[0]
            if version == 1:
                _, _, timescale, duration = struct.unpack(">QQIQ", file.read(28))
            else:
                _, _, timescale, duration = struct.unpack(">IIII", file.read(16))
            if not timescale or not duration or duration == 0xFFFFFFFF:
                return None
            return min(round(duration * 1000 / timescale), MAX_DURATION_MS) or None
        position += size
    return None


def _delete(names: list[str]) -> None:
    for name in names:
        default_storage.delete(name)


def uploads_expire() -> int:
    """Remove unfinished uploads untouched for SWING_UPLOAD_EXPIRE_HOURS, with their
    chunks and poster; returns how many. (`manage.py clean_uploads`.)"""
    cutoff = timezone.now() - timedelta(hours=settings.SWING_UPLOAD_EXPIRE_HOURS)
    removed = 0
    for upload in SwingUpload.objects.filter(
        status=UploadStatus.RECEIVING, updated_at__lt=cutoff
    ).iterator():
        with transaction.atomic():
            locked = SwingUpload.objects.select_for_update(skip_locked=True).filter(
                pk=upload.pk, status=UploadStatus.RECEIVING
            )
            row = locked.first()
            if row is None:
                continue
            _delete([*row.parts, *([row.poster_name] if row.poster_name else [])])
            row.delete()
            removed += 1
    return removed
