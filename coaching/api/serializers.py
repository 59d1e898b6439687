"""Input and output shapes of the REST API (the OpenAPI schema is generated from them).

Responses are the payloads of `coaching.events`, sent as they are, so a REST
client and a socket client see the same objects; the output serializers here
describe those payloads for the schema.
"""

import json
from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiResponse
from rest_framework import serializers

from coaching.errors import ServiceError
from coaching.models import CameraAngle, Status, Step
from coaching.services import swings as swing_rules
from coaching.services.annotations import MAX_NOTE_CHARS as MAX_ANNOTATION_NOTE_CHARS
from coaching.services.checkpoints import MAX_NOTE_CHARS
from coaching.services.notices import LEVELS
from coaching.shapes import KINDS, MAX_SHAPES, clean_shape

# The largest id or seq the database stores (a signed 64-bit integer).
MAX_DB_INT = 2**63 - 1
MAX_METRICS_JSON_CHARS = 10_000

# --- Errors -------------------------------------------------------------------


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(
        help_text="Stable machine-readable code, e.g. `invalid_input`, `not_authenticated`, "
        "`forbidden`, `not_found`, `already_claimed`, `invalid_transition`, `session_ended`."
    )
    message = serializers.CharField(help_text="Human-readable explanation.")
    fields = serializers.DictField(
        required=False,
        help_text="Only for `invalid_input`: the offending input fields and their messages.",
    )


class ErrorSerializer(serializers.Serializer):
    """Every error response: `{"error": {"code", "message", "fields"?}}`."""

    error = ErrorDetailSerializer()


ERROR_DESCRIPTIONS = {
    400: "Invalid input; `error.fields` names each offending field.",
    401: "No credentials, or invalid ones (`not_authenticated`, `authentication_failed`).",
    403: "Your role may not do this (`forbidden`).",
    404: "No such session, or not one you may see; on lists, no such page (`not_found`).",
    409: "The session's state refuses it (`already_claimed`, `invalid_transition`, "
    "`session_ended`).",
}


def error_responses(*codes: int, not_found: str | None = None) -> dict[int, OpenApiResponse]:
    """Schema entries for the given error status codes, all in the one error shape."""
    descriptions = {**ERROR_DESCRIPTIONS, **({404: not_found} if not_found else {})}
    return {
        code: OpenApiResponse(ErrorSerializer, description=descriptions[code]) for code in codes
    }


def _service_checked(rule: Any, *args: Any) -> Any:
    """Run a service's input rule for a serializer: its refusal as a field error."""
    try:
        return rule(*args)
    except ServiceError as exc:
        raise serializers.ValidationError(exc.message) from None


# --- Swings -------------------------------------------------------------------


class SwingSerializer(serializers.Serializer):
    """A swing attached to the session: what the room plays."""

    swing_id = serializers.CharField()
    video_url = serializers.CharField(help_text="http(s) URL, or a path under /static/ or /media/.")
    poster_url = serializers.CharField(allow_null=True)
    fps = serializers.IntegerField(allow_null=True)
    duration_ms = serializers.IntegerField(allow_null=True)
    club = serializers.CharField(allow_null=True)
    camera_angle = serializers.ChoiceField(choices=CameraAngle.values, allow_null=True)
    label = serializers.CharField(allow_null=True)
    recorded_at = serializers.IntegerField(allow_null=True, help_text="Epoch milliseconds.")
    key_frames = serializers.DictField(
        child=serializers.IntegerField(), allow_null=True, help_text="Name → ms."
    )


class SwingAddedSerializer(serializers.Serializer):
    """The `swing:added` payload."""

    seq = serializers.IntegerField()
    session_id = serializers.CharField()
    swing = SwingSerializer()


class SwingCreateSerializer(serializers.Serializer):
    """A swing the Node API attaches; only `swing_id` and `video_url` are required."""

    swing_id = serializers.CharField(
        max_length=swing_rules.MAX_SWING_ID_CHARS,
        help_text="The Node API's id of the swing (what feedback and progress name); "
        "one swing per id in a session.",
    )
    video_url = serializers.CharField(
        max_length=swing_rules.MAX_URL_CHARS,
        help_text="http(s) URL of the video (H.264 MP4 or WebM), or a path under "
        "/static/ or /media/ on this site.",
    )
    poster_url = serializers.CharField(
        max_length=swing_rules.MAX_URL_CHARS, required=False, allow_null=True
    )
    fps = serializers.IntegerField(
        min_value=1, max_value=swing_rules.MAX_FPS, required=False, allow_null=True
    )
    duration_ms = serializers.IntegerField(
        min_value=1, max_value=swing_rules.MAX_DURATION_MS, required=False, allow_null=True
    )
    club = serializers.CharField(
        max_length=swing_rules.MAX_CLUB_CHARS, required=False, allow_null=True
    )
    camera_angle = serializers.ChoiceField(
        choices=CameraAngle.values, required=False, allow_null=True
    )
    label = serializers.CharField(
        max_length=swing_rules.MAX_LABEL_CHARS, required=False, allow_null=True
    )
    recorded_at = serializers.IntegerField(
        min_value=0,
        max_value=swing_rules.MAX_RECORDED_AT_MS,
        required=False,
        allow_null=True,
        help_text="Epoch milliseconds.",
    )
    key_frames = serializers.DictField(
        child=serializers.IntegerField(min_value=0, max_value=swing_rules.MAX_DURATION_MS),
        required=False,
        allow_null=True,
        help_text=f"Key positions, name → ms: at most {swing_rules.MAX_KEY_FRAMES}, names of "
        f"1-{swing_rules.MAX_KEY_FRAME_NAME_CHARS} characters, within `duration_ms`.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        try:
            swing_rules.clean_swing(attrs)
        except ServiceError as exc:
            raise serializers.ValidationError({exc.field: [exc.message]}) from None
        return attrs


SWING_EXAMPLE = OpenApiExample(
    "A driver swing, face-on",
    request_only=True,
    value={
        "swing_id": "sw_999",
        "video_url": "https://cdn.example.com/swings/sw_999.mp4",
        "poster_url": "https://cdn.example.com/swings/sw_999.jpg",
        "fps": 60,
        "duration_ms": 3200,
        "club": "driver",
        "camera_angle": "face_on",
        "label": "Driver #3",
        "recorded_at": 1764288000000,
        "key_frames": {"address": 0, "top": 1300, "impact": 1900, "finish": 2800},
    },
)
SWING_MINIMAL_EXAMPLE = OpenApiExample(
    "Only what is required",
    request_only=True,
    value={"swing_id": "sw_1000", "video_url": "/media/swings/sw_1000.mp4"},
)


# --- Sessions -----------------------------------------------------------------


class PersonSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()


class SessionStateSerializer(serializers.Serializer):
    """The contract's session state, as sent in `session:state`."""

    session_id = serializers.CharField()
    status = serializers.ChoiceField(choices=Status.values)
    current_step = serializers.ChoiceField(choices=Step.values)
    coach = PersonSerializer(allow_null=True)
    student = PersonSerializer()
    updated_at = serializers.IntegerField(help_text="Epoch milliseconds.")


class SessionSerializer(SessionStateSerializer):
    """A session as listed, and as the lobby's `session:*` events carry it."""

    title = serializers.CharField(allow_blank=True)
    created_at = serializers.IntegerField(help_text="Epoch milliseconds.")


class SessionDetailSerializer(SessionSerializer):
    last_seq = serializers.IntegerField(
        help_text="Seq of the session's latest persisted event: join with it as `last_seq`."
    )
    swings = SwingSerializer(many=True, help_text="The session's swings, in the order attached.")


class SessionCreateSerializer(serializers.Serializer):
    student_id = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_DB_INT,
        help_text="Required for the service account; students omit it.",
    )
    title = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    swings = SwingCreateSerializer(
        many=True,
        required=False,
        max_length=swing_rules.MAX_SWINGS_PER_SESSION,
        help_text="Service account only: swings to attach at once (see `POST …/swings/`).",
    )


class SessionListQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=Status.values, required=False, help_text="Only sessions in this status."
    )


# --- Chat ---------------------------------------------------------------------


class SenderSerializer(PersonSerializer):
    role = serializers.ChoiceField(choices=["student", "coach", "service", "admin"])


class ChatMetaSerializer(serializers.Serializer):
    ts = serializers.IntegerField(help_text="Epoch milliseconds.")


class ChatMessageSerializer(serializers.Serializer):
    """A chat line: the `chat:added` payload."""

    id = serializers.CharField()
    seq = serializers.IntegerField()
    session_id = serializers.CharField()
    sender = SenderSerializer()
    message = serializers.CharField()
    client_msg_id = serializers.CharField(allow_null=True)
    meta = ChatMetaSerializer()


class MessagesQuerySerializer(serializers.Serializer):
    after_seq = serializers.IntegerField(
        required=False,
        default=0,
        min_value=0,
        max_value=MAX_DB_INT,
        help_text="Only messages with a greater seq (what a client missed).",
    )


# --- Analysis: feedback and progress --------------------------------------------


class FeedbackSerializer(serializers.Serializer):
    """A feedback card: the `ai:feedback` payload."""

    id = serializers.CharField()
    seq = serializers.IntegerField()
    session_id = serializers.CharField()
    swing_id = serializers.CharField()
    summary = serializers.CharField()
    metrics = serializers.DictField()
    recommendations = serializers.ListField(child=serializers.CharField())
    level = serializers.CharField(allow_blank=True)
    key_frames = serializers.DictField(
        child=serializers.IntegerField(),
        allow_null=True,
        help_text="The swing's key positions, name → ms (e.g. address, top, impact, finish).",
    )
    created_at = serializers.IntegerField(help_text="Epoch milliseconds.")


class FeedbackCreateSerializer(serializers.Serializer):
    swing_id = serializers.CharField(
        max_length=100, help_text="The Node API's id of the swing; one card per swing."
    )
    summary = serializers.CharField(max_length=4000)
    metrics = serializers.DictField(
        required=False, default=dict, help_text='Free-form numbers, e.g. `{"face_angle": 5.2}`.'
    )
    recommendations = serializers.ListField(
        child=serializers.CharField(max_length=500), required=False, default=list, max_length=20
    )
    level = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    key_frames = serializers.DictField(
        child=serializers.IntegerField(min_value=0, max_value=swing_rules.MAX_DURATION_MS),
        required=False,
        allow_null=True,
        default=None,
        help_text=f"Key positions of the swing, name → ms: at most {swing_rules.MAX_KEY_FRAMES}, "
        f"names of 1-{swing_rules.MAX_KEY_FRAME_NAME_CHARS} characters, within the swing's "
        "`duration_ms` when the session has the swing.",
    )

    def validate_key_frames(self, value: dict[str, int] | None) -> dict[str, int] | None:
        return _service_checked(swing_rules.clean_key_frames, value, None)

    def validate_metrics(self, value: dict[str, Any]) -> dict[str, Any]:
        if len(json.dumps(value)) > MAX_METRICS_JSON_CHARS:
            raise serializers.ValidationError(
                f"metrics is larger than {MAX_METRICS_JSON_CHARS} characters of JSON."
            )
        return value


FEEDBACK_EXAMPLE = OpenApiExample(
    "A driver swing",
    request_only=True,
    value={
        "swing_id": "sw_999",
        "summary": "The club face tends to be open at impact.",
        "metrics": {"face_angle": 5.2, "tempo_score": 78},
        "recommendations": [
            "Take a slightly stronger grip at address.",
            "Hinge the lead wrist a little less at the top of the backswing.",
        ],
        "level": "intermediate",
        "key_frames": {"address": 0, "top": 1300, "impact": 1900, "finish": 2800},
    },
)


class ProgressSerializer(serializers.Serializer):
    """A progress tick: the `swing:progress` payload (ephemeral, no seq)."""

    session_id = serializers.CharField(read_only=True)
    swing_id = serializers.CharField(max_length=100)
    percent = serializers.IntegerField(min_value=0, max_value=100)
    step = serializers.CharField(max_length=40, help_text="What the analysis is doing now.")


# --- Notices and checkpoints ------------------------------------------------------


class NoticeSerializer(serializers.Serializer):
    """A notice: the `system:notice` payload."""

    type = serializers.CharField(help_text="Always `system`.")
    text = serializers.CharField()
    level = serializers.ChoiceField(choices=LEVELS)
    seq = serializers.IntegerField()


class NoticeCreateSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=500)
    level = serializers.ChoiceField(choices=LEVELS, default="info", required=False)
    notice_id = serializers.CharField(
        max_length=100,
        required=False,
        help_text="Your id for the notice: a retry with the same id is stored and sent once.",
    )


class CheckpointSerializer(serializers.Serializer):
    """A coach's bookmark on a feedback card: the `checkpoint:added` payload."""

    id = serializers.CharField()
    seq = serializers.IntegerField()
    session_id = serializers.CharField()
    feedback_id = serializers.CharField()
    swing_id = serializers.CharField()
    coach = PersonSerializer()
    note = serializers.CharField(allow_blank=True)
    created_at = serializers.IntegerField(help_text="Epoch milliseconds.")


class CheckpointCreateSerializer(serializers.Serializer):
    feedback_id = serializers.IntegerField(
        min_value=1, max_value=MAX_DB_INT, help_text="`id` of a feedback card of this session."
    )
    note = serializers.CharField(
        max_length=MAX_NOTE_CHARS, required=False, allow_blank=True, default=""
    )


class SocketTokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Pass as the socket's `token` param.")
    expires_in = serializers.IntegerField(help_text="Seconds.")


# --- Annotations ----------------------------------------------------------------


class ShapeSerializer(serializers.Serializer):
    """A shape on the frame; coordinates are normalized to it (0..1 from the top-left)."""

    kind = serializers.ChoiceField(
        choices=KINDS,
        help_text="`line` and `arrow`: [from, to]; `angle`: [end, vertex, end]; "
        "`circle`: [centre, a point on the circle].",
    )
    points = serializers.ListField(
        child=serializers.ListField(
            child=serializers.FloatField(min_value=0, max_value=1), min_length=2, max_length=2
        ),
        min_length=2,
        max_length=3,
        help_text="[[x, y], …]: 2 points, 3 for an angle.",
    )
    color = serializers.RegexField(r"^#[0-9a-fA-F]{6}$", required=False, help_text="#rrggbb")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return _service_checked(clean_shape, dict(attrs))


class AnnotationSerializer(serializers.Serializer):
    """A saved drawing on a swing's frame: the `annotation:added` payload."""

    id = serializers.CharField()
    seq = serializers.IntegerField()
    session_id = serializers.CharField()
    swing_id = serializers.CharField()
    time_ms = serializers.IntegerField(help_text="The frame's time in the swing, in ms.")
    shapes = ShapeSerializer(many=True)
    note = serializers.CharField(allow_blank=True)
    coach = PersonSerializer()
    created_at = serializers.IntegerField(help_text="Epoch milliseconds.")


class AnnotationCreateSerializer(serializers.Serializer):
    swing_id = serializers.CharField(
        max_length=swing_rules.MAX_SWING_ID_CHARS, help_text="A swing of this session."
    )
    time_ms = serializers.IntegerField(
        min_value=0,
        max_value=swing_rules.MAX_DURATION_MS,
        help_text="The frame's time in ms, within the swing's duration.",
    )
    shapes = ShapeSerializer(many=True, max_length=MAX_SHAPES)
    note = serializers.CharField(
        max_length=MAX_ANNOTATION_NOTE_CHARS, required=False, allow_blank=True, default=""
    )


ANNOTATION_EXAMPLE = OpenApiExample(
    "Spine angle at the top",
    request_only=True,
    value={
        "swing_id": "sw_999",
        "time_ms": 1300,
        "shapes": [
            {"kind": "angle", "points": [[0.42, 0.2], [0.45, 0.55], [0.6, 0.6]]},
            {"kind": "line", "points": [[0.1, 0.9], [0.9, 0.9]], "color": "#ffcc00"},
            {"kind": "circle", "points": [[0.5, 0.3], [0.55, 0.3]]},
            {"kind": "arrow", "points": [[0.3, 0.7], [0.45, 0.6]], "color": "#ff3b30"},
        ],
        "note": "Keep this angle through impact.",
    },
)
