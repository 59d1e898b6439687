"""The lesson's call recording (coaching/services/recordings.py; docs/api.md,
"Recording the call"): each participant's consent, the coach's page's chunks, the
recordings' deletion.
"""

from typing import Any

from asgiref.sync import async_to_sync
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import api_view, parser_classes
from rest_framework.request import Request
from rest_framework.response import Response

from coaching.api import serializers as s
from coaching.api.errors import error_body
from coaching.api.parsers import StrictJSONParser
from coaching.api.uploads import read_chunk
from coaching.models import CallRecording
from coaching.realtime.call_room import current_call
from coaching.services.recordings import (
    MAX_CHUNK_MS,
    ChunkOutOfOrder,
    consent_read,
    consent_set,
    recording_append,
    recording_finish,
    recording_start,
    recordings_delete,
)

CHUNK_TYPE = "application/octet-stream"


class ConsentSerializer(serializers.Serializer):
    student = serializers.BooleanField(allow_null=True, help_text="null: not asked yet.")
    coach = serializers.BooleanField(allow_null=True, help_text="null: not asked yet.")
    recording = serializers.BooleanField(help_text="Both consent: the call may be recorded.")
    server_ts = serializers.IntegerField()


class ConsentInputSerializer(serializers.Serializer):
    consent = serializers.BooleanField(help_text="true: give consent; false: withdraw it.")


class RecordingStartSerializer(serializers.Serializer):
    started_at = serializers.IntegerField(
        help_text="The recording's first sample, in the server's epoch ms (within a minute)."
    )


class RecordingSerializer(serializers.Serializer):
    id = serializers.CharField()
    start_ms = serializers.IntegerField()
    duration_ms = serializers.IntegerField(help_text="The stored chunks' lengths together.")
    chunks = serializers.IntegerField(help_text="Chunks stored: send chunk `chunks` next.")
    finished = serializers.BooleanField()


def _body(recording: CallRecording, chunks: int | None = None) -> dict[str, Any]:
    return {
        "id": recording.recording_id,
        "start_ms": recording.started_ms,
        "duration_ms": recording.duration_ms,
        "chunks": len(recording.chunks) if chunks is None else chunks,
        "finished": recording.finished,
    }


@extend_schema(
    methods=["GET"],
    summary="Consent to record the call",
    responses={200: ConsentSerializer, **s.error_responses(401, 403, 404)},
)
@extend_schema(
    methods=["PUT"],
    summary="Give or withdraw consent to record the call",
    request=ConsentInputSerializer,
    responses={200: ConsentSerializer, **s.error_responses(400, 401, 403, 404, 409)},
)
@api_view(["GET", "PUT"])
@parser_classes([StrictJSONParser])
def recording_consent(request: Request, session_id: str) -> Response:
    """The lesson's student and coach, each for themselves; the room hears every change
    as `recording:consent`. Consent only while the lesson is open (409 after)."""
    if request.method == "GET":
        return Response(consent_read(session_id=session_id, actor=request.user))
    data = request.data if isinstance(request.data, dict) else {}
    state = consent_set(session_id=session_id, actor=request.user, consent=data.get("consent"))
    return Response(state)


@extend_schema(
    methods=["POST"],
    summary="Start recording the call",
    request=RecordingStartSerializer,
    responses={
        201: OpenApiResponse(RecordingSerializer, description="Send chunk 0 next."),
        403: OpenApiResponse(
            description="`consent_required`: not both participants consent; `forbidden`: "
            "not the lesson's coach."
        ),
        409: OpenApiResponse(
            description="`invalid_transition`: the lesson's call is not connected; "
            "`session_ended`: the lesson has ended."
        ),
        **s.error_responses(400, 401, 404),
    },
)
@extend_schema(
    methods=["DELETE"],
    summary="Delete the lesson's call recordings",
    responses={204: None, **s.error_responses(401, 403, 404)},
)
@api_view(["POST", "DELETE"])
@parser_classes([StrictJSONParser])
def recordings(request: Request, session_id: str) -> Response:
    """POST: the coach's page, while the lesson is open, both consent and the call is
    connected (the room's call state, read from its store). DELETE: the
    student or the coach removes every recording of the lesson and its files."""
    if request.method == "DELETE":
        recordings_delete(session_id=session_id, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
    data = request.data if isinstance(request.data, dict) else {}
    recording = recording_start(
        session_id=session_id,
        actor=request.user,
        started_at=data.get("started_at"),
        call_state=async_to_sync(current_call)(session_id)["state"],
    )
    return Response(_body(recording), status=status.HTTP_201_CREATED)


@extend_schema(
    summary="Append a chunk of the recording",
    request={CHUNK_TYPE: OpenApiTypes.BINARY},
    parameters=[
        OpenApiParameter(
            "duration_ms",
            {"type": "integer", "minimum": 0, "maximum": MAX_CHUNK_MS},
            OpenApiParameter.QUERY,
            required=True,
            description="The chunk's length in ms, as the page measured it.",
        )
    ],
    responses={
        200: OpenApiResponse(
            RecordingSerializer, description="Stored (a chunk stored before: the same answer)."
        ),
        403: OpenApiResponse(
            description="`consent_required`: not both participants consent now; nothing was stored."
        ),
        409: OpenApiResponse(
            description="`chunk_out_of_order`: send chunk `next` first; `invalid_transition`: "
            "the recording is finished."
        ),
        **s.error_responses(400, 401, 404, 413, 415),
    },
)
@api_view(["PUT"])
@parser_classes([])
def recording_chunk(request: Request, session_id: str, recording_id: str, n: int) -> Response:
    """Chunk `n` (from 0, in order) of MediaRecorder's WebM/Opus stream,
    `Content-Type: application/octet-stream`."""
    duration = request.query_params.get("duration_ms", "")
    try:
        recording = recording_append(
            session_id=session_id,
            recording_id=recording_id,
            actor=request.user,
            n=n,
            # Checked by the service, after who may send it (404, 403 before 400).
            duration_ms=int(duration) if duration.isascii() and duration.isdigit() else duration,
            chunk=read_chunk(request),
        )
    except ChunkOutOfOrder as exc:
        return Response(
            {**error_body(exc.code, exc.message), "next": exc.next},
            status=status.HTTP_409_CONFLICT,
        )
    return Response(_body(recording))


@extend_schema(
    summary="Finish the recording",
    request=None,
    responses={200: RecordingSerializer, **s.error_responses(401, 404)},
)
@api_view(["POST"])
def recording_finish_view(request: Request, session_id: str, recording_id: str) -> Response:
    """Join the chunks into the recording's file (the replay plays it); again: the same."""
    recording = recording_finish(
        session_id=session_id, recording_id=recording_id, actor=request.user
    )
    return Response(_body(recording, chunks=0))
