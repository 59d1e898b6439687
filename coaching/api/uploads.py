"""Resumable swing uploads from the room (coaching/services/uploads.py; docs/api.md).

`POST …/uploads/` announces one, `PATCH …/uploads/{upload_id}/` appends a chunk at
`Upload-Offset`, `HEAD`/`GET` tell the offset to go on from after a dropped connection.
"""

from typing import Any

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import api_view, parser_classes
from rest_framework.request import Request
from rest_framework.response import Response

from coaching import events
from coaching.api import serializers as s
from coaching.api.errors import error_body
from coaching.api.parsers import StrictJSONParser
from coaching.errors import ServiceError
from coaching.models import SwingUpload
from coaching.services.swings import MAX_DURATION_MS, MAX_LABEL_CHARS
from coaching.services.uploads import (
    MAX_CHUNK_BYTES,
    MAX_FILENAME_CHARS,
    VIDEO_TYPES,
    OffsetMismatch,
    upload_append,
    upload_start,
    upload_status,
)

OFFSET_HEADER = "Upload-Offset"
CHUNK_TYPE = "application/octet-stream"


# Base64 of a JPEG (FF D8 FF: "/9j/") or a PNG (its 8-byte signature: "iVBORw0KGg" and one of
# o-r), optionally as a data: URL: what the service's check (`_poster`) accepts, stated
# for the schema so that a client (or a schema fuzzer) can tell a poster from any string.
POSTER_PATTERN = (
    r"^(data:image/(jpeg|png);base64,)?"
    r"(/9j/([A-Za-z0-9+/]{4})*|iVBORw0KGg[o-r][A-Za-z0-9+/]([A-Za-z0-9+/]{4})*)"
    r"([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"
)


class UploadStartSerializer(serializers.Serializer):
    """What the service checks (coaching/services/uploads.py), stated for the schema."""

    filename = serializers.CharField(max_length=MAX_FILENAME_CHARS)
    size = serializers.IntegerField(
        min_value=1,
        max_value=settings.SWING_UPLOAD_MAX_BYTES,
        help_text="Bytes; at most SWING_UPLOAD_MAX_BYTES (`too_large`, 413, beyond).",
    )
    content_type = serializers.ChoiceField(sorted(VIDEO_TYPES))
    duration_ms = serializers.IntegerField(
        min_value=1,
        max_value=MAX_DURATION_MS,
        help_text="As the page's player measured it (MP4/QuickTime: the file's own is kept).",
    )
    poster = serializers.RegexField(
        POSTER_PATTERN,
        required=False,
        allow_null=True,
        help_text="A poster frame: base64 JPEG or PNG (a data: URL too), at most 1 MB.",
    )
    label = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, max_length=MAX_LABEL_CHARS
    )


class UploadSerializer(serializers.Serializer):
    upload_id = serializers.CharField()
    offset = serializers.IntegerField(help_text="Bytes received: send the next chunk from here.")
    size = serializers.IntegerField()
    chunk_size = serializers.IntegerField(help_text="The chunk size to send.")
    status = serializers.ChoiceField(["receiving", "complete"])
    swing = s.SwingSerializer(allow_null=True, help_text="The swing, once complete.")


def read_chunk(request: Request) -> bytes:
    """A chunk's raw body (an upload's or a call recording's), at most MAX_CHUNK_BYTES
    (one byte more is read, for the service to refuse)."""
    length = request.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > MAX_CHUNK_BYTES:
        raise ServiceError("too_large", f"A chunk has at most {MAX_CHUNK_BYTES} bytes.")
    return request.stream.read(MAX_CHUNK_BYTES + 1) if request.stream else b""


def _body(upload: SwingUpload) -> dict[str, Any]:
    return {
        "upload_id": upload.upload_id,
        "offset": upload.offset,
        "size": upload.size,
        "chunk_size": min(settings.SWING_UPLOAD_CHUNK_BYTES, MAX_CHUNK_BYTES),
        "status": upload.status,
        "swing": events.swing(upload.swing) if upload.swing else None,
    }


def _answer(upload: SwingUpload, code: int = status.HTTP_200_OK) -> Response:
    response = Response(_body(upload), status=code)
    response[OFFSET_HEADER] = str(upload.offset)
    response["Cache-Control"] = "no-store"
    return response


@extend_schema(
    summary="Start uploading a swing video",
    request=UploadStartSerializer,
    responses={
        201: OpenApiResponse(UploadSerializer, description="Send the chunks from offset 0."),
        **s.error_responses(400, 401, 403, 404, 409, 413, 415),
    },
)
@api_view(["POST"])
@parser_classes([StrictJSONParser])
def upload_create(request: Request, session_id: str) -> Response:
    """The session's student or coach, while the lesson is open: MP4, QuickTime or WebM
    (checked from the bytes), at most SWING_UPLOAD_MAX_BYTES (`too_large`, 413)."""
    data = request.data if isinstance(request.data, dict) else {}
    upload = upload_start(session_id=session_id, actor=request.user, data=dict(data))
    return _answer(upload, status.HTTP_201_CREATED)


@extend_schema(
    methods=["GET"],
    summary="An upload's offset",
    responses={200: UploadSerializer, **s.error_responses(401, 404)},
)
@extend_schema(
    methods=["PATCH"],
    summary="Append a chunk",
    request={CHUNK_TYPE: OpenApiTypes.BINARY},
    parameters=[
        OpenApiParameter(
            OFFSET_HEADER,
            OpenApiTypes.INT,
            OpenApiParameter.HEADER,
            required=True,
            description="Where the chunk starts: the upload's offset.",
        )
    ],
    responses={
        200: OpenApiResponse(
            UploadSerializer,
            description="Stored; the last chunk attaches "
            "the swing (`swing`, and `swing:added` in the room).",
        ),
        409: OpenApiResponse(
            description="`offset_mismatch`: the chunk is not at the upload's offset (in "
            "`offset` and the Upload-Offset header); nothing was stored. Also once complete."
        ),
        **s.error_responses(400, 401, 403, 404, 413, 415),
    },
)
@api_view(["GET", "HEAD", "PATCH"])
@parser_classes([])
def upload_detail(request: Request, session_id: str, upload_id: str) -> Response:
    """HEAD or GET: the offset to go on from (also in the Upload-Offset header). PATCH: the
    next chunk, `Content-Type: application/octet-stream`, at `Upload-Offset`."""
    if request.method != "PATCH":
        upload = upload_status(session_id=session_id, upload_id=upload_id, actor=request.user)
        return _answer(upload)
    offset = request.headers.get(OFFSET_HEADER, "")
    if not offset.isdigit() or not offset.isascii():
        raise ServiceError(
            "invalid_input",
            f"{OFFSET_HEADER} must be a whole number of bytes.",
            field=OFFSET_HEADER,
        )
    try:
        upload = upload_append(
            session_id=session_id,
            upload_id=upload_id,
            actor=request.user,
            offset=int(offset),
            chunk=read_chunk(request),
        )
    except OffsetMismatch as exc:
        response = Response(
            {**error_body(exc.code, exc.message), "offset": exc.offset},
            status=status.HTTP_409_CONFLICT,
        )
        response[OFFSET_HEADER] = str(exc.offset)
        return response
    return _answer(upload)
