"""Input and output shapes of the REST API (the OpenAPI schema is generated from them).

Responses are the payloads of `coaching.events`, sent as they are, so a REST
client and a socket client see the same objects; the output serializers here
describe those payloads for the schema.
"""

from typing import Any

from django.core.validators import RegexValidator
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema_field
from rest_framework import serializers

from coaching import metrics as metric_catalog
from coaching.api.fields import KeyFramesField, MetricsField, TextField
from coaching.errors import ServiceError
from coaching.models import CameraAngle, Status, Step, StepSource
from coaching.selectors import EVENTS_PAGE_DEFAULT, EVENTS_PAGE_MAX
from coaching.services import rtc
from coaching.services import shares as share_rules
from coaching.services import swings as swing_rules
from coaching.services.annotations import MAX_NOTE_CHARS as MAX_ANNOTATION_NOTE_CHARS
from coaching.services.chat import MAX_CLIENT_MSG_ID_CHARS, MAX_MESSAGE_CHARS
from coaching.services.checkpoints import MAX_NOTE_CHARS
from coaching.services.notices import LEVELS
from coaching.shapes import MAX_SHAPES, POINTS_PER_KIND, clean_shape

# The largest id or seq the database stores (a signed 64-bit integer).
MAX_DB_INT = 2**63 - 1


def eid_field() -> serializers.CharField:
    """A logged event's `eid` (docs/protocol.md, Recovery)."""
    return serializers.CharField(
        allow_null=True,
        help_text="The event's id: 12 random characters (null on events stored before "
        "eids). A client that saw another event at this seq rejoins to a fresh snapshot.",
    )


# --- Errors -------------------------------------------------------------------


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(
        help_text="Stable machine-readable code, e.g. `invalid_input`, `not_authenticated`, "
        "`forbidden`, `not_found`, `already_claimed`, `invalid_transition`, `session_ended`, "
        "`unavailable`."
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
    413: "Larger than allowed (`too_large`).",
    415: "Not a video type taken here, or bytes that are not of the declared type "
    "(`unsupported_type`).",
    429: "Too many requests (`rate_limited`); retry after the `Retry-After` header's seconds.",
    503: "The database is briefly unavailable (`unavailable`); retry after `Retry-After` seconds.",
}


def error_responses(*codes: int, not_found: str | None = None) -> dict[int, OpenApiResponse]:
    """Schema entries for the given error status codes (and 503, which any operation may
    answer while the database is down), all in the one error shape."""
    descriptions = {**ERROR_DESCRIPTIONS, **({404: not_found} if not_found else {})}
    return {
        code: OpenApiResponse(ErrorSerializer, description=descriptions[code])
        for code in (*codes, 503)
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
    eid = eid_field()
    session_id = serializers.CharField()
    swing = SwingSerializer()


# Stated as a validator so that the schema carries the same pattern as the rule.
MEDIA_URL = RegexValidator(
    swing_rules.MEDIA_URL_PATTERN, "Must be an http(s) URL or a path under /static/ or /media/."
)


class SwingCreateSerializer(serializers.Serializer):
    """A swing the Node API attaches; only `swing_id` and `video_url` are required."""

    swing_id = TextField(
        max_length=swing_rules.MAX_SWING_ID_CHARS,
        help_text="The Node API's id of the swing (what feedback and progress name); "
        "one swing per id in a session.",
    )
    video_url = TextField(
        max_length=swing_rules.MAX_URL_CHARS,
        validators=[MEDIA_URL],
        help_text="http(s) URL of the video (H.264 MP4 or WebM), or a path under "
        "/static/ or /media/ on this site.",
    )
    poster_url = TextField(
        max_length=swing_rules.MAX_URL_CHARS,
        required=False,
        allow_null=True,
        validators=[MEDIA_URL],
    )
    fps = serializers.IntegerField(
        min_value=1, max_value=swing_rules.MAX_FPS, required=False, allow_null=True
    )
    duration_ms = serializers.IntegerField(
        min_value=1, max_value=swing_rules.MAX_DURATION_MS, required=False, allow_null=True
    )
    club = TextField(max_length=swing_rules.MAX_CLUB_CHARS, required=False, allow_null=True)
    camera_angle = serializers.ChoiceField(
        choices=CameraAngle.values, required=False, allow_null=True
    )
    label = TextField(max_length=swing_rules.MAX_LABEL_CHARS, required=False, allow_null=True)
    recorded_at = serializers.IntegerField(
        min_value=0,
        max_value=swing_rules.MAX_RECORDED_AT_MS,
        required=False,
        allow_null=True,
        help_text="Epoch milliseconds.",
    )
    key_frames = KeyFramesField(required=False, allow_null=True)

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
    created_at = serializers.IntegerField(help_text="Epoch milliseconds.")
    started_at = serializers.IntegerField(
        allow_null=True, help_text="Epoch milliseconds when a coach claimed it; null before."
    )
    ended_at = serializers.IntegerField(
        allow_null=True, help_text="Epoch milliseconds when it ended; null before."
    )
    step_source = serializers.ChoiceField(
        choices=StepSource.values,
        help_text="`auto`: the step follows the analysis events (progress → `analysis`, "
        "feedback → `feedback`); `coach`: the coach set it, and it stays.",
    )


class SwingSummarySerializer(serializers.Serializer):
    swing_id = serializers.CharField()
    summary = serializers.CharField()
    level = serializers.CharField(allow_blank=True)
    created_at = serializers.IntegerField(help_text="Epoch milliseconds.")


class SessionSerializer(SessionStateSerializer):
    """A session as listed, and as the lobby's `session:*` events carry it."""

    title = serializers.CharField(allow_blank=True)
    swing_summary = SwingSummarySerializer(
        allow_null=True, help_text="The latest feedback card in a line; null before the first."
    )


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
        help_text="The service account must give it (else 403: only a student opens a "
        "session for themselves); students omit it.",
    )
    title = TextField(required=False, allow_blank=True, max_length=200, default="")
    swings = SwingCreateSerializer(
        many=True,
        required=False,
        max_length=swing_rules.MAX_SWINGS_PER_SESSION,
        help_text="Service account only: swings to attach at once (see `POST …/swings/`).",
    )


class PageQuerySerializer(serializers.Serializer):
    """What every list's paginator reads (its schema comes from the paginator)."""

    page = serializers.IntegerField(required=False, min_value=1)  # past the last: 404
    page_size = serializers.IntegerField(required=False, min_value=1)  # over 100: capped


class SessionListQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=Status.values, required=False, help_text="Only sessions in this status."
    )
    mine = serializers.BooleanField(
        required=False,
        help_text="`true`: only sessions you take part in, as their student or their coach "
        "(a coach's own lessons, without the waiting ones of others).",
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
    eid = eid_field()
    session_id = serializers.CharField()
    sender = SenderSerializer()
    message = serializers.CharField()
    client_msg_id = serializers.CharField(allow_null=True)
    meta = ChatMetaSerializer()


class ChatMessageCreateSerializer(serializers.Serializer):
    """A chat line to post (the socket's `chat:new`); the chat service checks it."""

    message = TextField(max_length=MAX_MESSAGE_CHARS)
    client_msg_id = serializers.CharField(
        max_length=MAX_CLIENT_MSG_ID_CHARS,
        required=False,
        allow_null=True,
        help_text="Your id for the line: a retry with the same id is stored and sent once, "
        "and answers with the line first stored.",
    )


class MessagesQuerySerializer(serializers.Serializer):
    after_seq = serializers.IntegerField(
        required=False,
        default=0,
        min_value=0,
        max_value=MAX_DB_INT,
        help_text="Only messages with a greater seq (what a client missed).",
    )
    before_seq = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_DB_INT,
        help_text="Only messages with a smaller seq, newest page first (`page=1` is the "
        "page just before it); each page's results are oldest first. For “load earlier”.",
    )


# --- Analysis: feedback and progress --------------------------------------------


class FeedbackSerializer(serializers.Serializer):
    """A feedback card: the `ai:feedback` payload."""

    id = serializers.CharField()
    seq = serializers.IntegerField()
    eid = eid_field()
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
    swing_id = TextField(
        max_length=100, help_text="The Node API's id of the swing; one card per swing."
    )
    summary = TextField(max_length=4000)
    metrics = MetricsField(required=False, default=dict)
    recommendations = serializers.ListField(
        child=TextField(max_length=500), required=False, default=list, max_length=20
    )
    level = TextField(max_length=40, required=False, allow_blank=True, default="")
    key_frames = KeyFramesField(required=False, allow_null=True, default=None)


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
    swing_id = TextField(max_length=100)
    percent = serializers.IntegerField(min_value=0, max_value=100)
    step = TextField(max_length=40, help_text="What the analysis is doing now.")


# --- Notices and checkpoints ------------------------------------------------------


class NoticeSerializer(serializers.Serializer):
    """A notice: the `system:notice` payload."""

    type = serializers.CharField(help_text="Always `system`.")
    text = serializers.CharField(help_text="Korean, for clients that show it as is.")
    level = serializers.ChoiceField(choices=LEVELS)
    code = serializers.ChoiceField(
        choices=["service", "participant_joined", "participant_left"],
        help_text="What happened, for pages that render it in their own language; "
        "a notice posted here is `service` (shown as `text`).",
    )
    params = serializers.DictField(
        child=serializers.CharField(), help_text="`{name, role}` for the participant codes."
    )
    seq = serializers.IntegerField()
    eid = eid_field()


class NoticeCreateSerializer(serializers.Serializer):
    text = TextField(max_length=500)
    level = serializers.ChoiceField(choices=LEVELS, default="info", required=False)
    notice_id = TextField(
        max_length=100,
        required=False,
        help_text="Your id for the notice: a retry with the same id is stored and sent once.",
    )


class CheckpointSerializer(serializers.Serializer):
    """A coach's bookmark on a feedback card: the `checkpoint:added` payload."""

    id = serializers.CharField()
    seq = serializers.IntegerField()
    eid = eid_field()
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
    note = TextField(max_length=MAX_NOTE_CHARS, required=False, allow_blank=True, default="")


# --- History: the event log and the recap ------------------------------------------


class EventsQuerySerializer(serializers.Serializer):
    before_seq = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_DB_INT,
        help_text="Only entries with a smaller seq; omit it for the newest ones.",
    )
    limit = serializers.IntegerField(
        required=False,
        default=EVENTS_PAGE_DEFAULT,
        min_value=1,
        max_value=EVENTS_PAGE_MAX,
        help_text=f"At most {EVENTS_PAGE_MAX}.",
    )


class EventLogEntrySerializer(serializers.Serializer):
    seq = serializers.IntegerField()
    event = serializers.CharField(
        help_text="`chat:added`, `session:state`, `ai:feedback`, `system:notice`, "
        "`checkpoint:added`, `analysis:milestone`, …"
    )
    payload = serializers.DictField(help_text="The event's payload as it was broadcast.")
    created_at = serializers.IntegerField(help_text="Epoch milliseconds.")


class EventsPageSerializer(serializers.Serializer):
    events = EventLogEntrySerializer(many=True, help_text="Oldest first.")
    has_more = serializers.BooleanField(help_text="Earlier entries remain before this page.")


EVENTS_EXAMPLE = OpenApiExample(
    "A page of the timeline",
    response_only=True,
    value={
        "events": [
            {
                "seq": 41,
                "event": "system:notice",
                "payload": {
                    "type": "system",
                    "text": "코치 IanPro님이 세션에 입장했습니다.",
                    "level": "info",
                    "code": "participant_joined",
                    "params": {"name": "IanPro", "role": "coach"},
                    "seq": 41,
                    "eid": "k3Jq9xZ_b2Qa",
                },
                "created_at": 1733395200000,
            },
            {
                "seq": 42,
                "event": "analysis:milestone",
                "payload": {
                    "session_id": "sess_abc",
                    "swing_id": "sw_999",
                    "step": "pose_detection",
                    "percent": 15,
                    "seq": 42,
                    "eid": "Xw0c8TnL4pRe",
                },
                "created_at": 1733395201500,
            },
        ],
        "has_more": True,
    },
)


class RecapSerializer(serializers.Serializer):
    """The end-of-lesson summary (also the join snapshot's `recap` once ended)."""

    duration_ms = serializers.IntegerField(
        allow_null=True, help_text="From claim to end (to now before the end); null if unclaimed."
    )
    started_at = serializers.IntegerField(allow_null=True, help_text="Epoch milliseconds.")
    ended_at = serializers.IntegerField(allow_null=True, help_text="Epoch milliseconds.")
    feedback = FeedbackSerializer(many=True, help_text="Every card, in seq order.")
    checkpoints = CheckpointSerializer(many=True, help_text="The coach's bookmarks with notes.")
    practice = serializers.ListField(
        child=serializers.CharField(),
        help_text="What to practise: the cards' recommendations in card order, each once.",
    )
    annotations = serializers.ListField(child=serializers.DictField())
    call_recording_ms = serializers.IntegerField(
        allow_null=True,
        help_text="How long the call's recording is (both consented); null without one.",
    )


RECAP_EXAMPLE = OpenApiExample(
    "An ended lesson",
    response_only=True,
    value={
        "duration_ms": 1_860_000,
        "started_at": 1733395200000,
        "ended_at": 1733397060000,
        "feedback": [
            {
                "id": "7",
                "seq": 12,
                "eid": "Qm7_fV2sKd9a",
                "session_id": "sess_abc",
                "swing_id": "sw_999",
                "summary": "The club face tends to be open at impact.",
                "metrics": {"face_angle": 5.2, "club_path": -1.8},
                "recommendations": ["Take a slightly stronger grip at address."],
                "level": "intermediate",
                "created_at": 1733395500000,
            }
        ],
        "checkpoints": [
            {
                "id": "3",
                "seq": 14,
                "eid": "b8RzT1wYq0Hn",
                "session_id": "sess_abc",
                "feedback_id": "7",
                "swing_id": "sw_999",
                "coach": {"id": "2", "name": "IanPro"},
                "note": "Grip first.",
                "created_at": 1733395600000,
            }
        ],
        "practice": ["Take a slightly stronger grip at address."],
        "annotations": [],
        "call_recording_ms": 754_000,
    },
)


class SocketTokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Pass as the socket's `token` param.")
    expires_in = serializers.IntegerField(help_text="Seconds.")


class IceServerSerializer(serializers.Serializer):
    """An RTCIceServer, as `new RTCPeerConnection({iceServers})` takes it."""

    urls = serializers.ListField(
        child=serializers.CharField(), help_text="stun:, stuns:, turn: or turns: URLs."
    )
    username = serializers.CharField(
        required=False,
        help_text='TURN only: `"<expiry, Unix seconds>:<user id>"` (coturn\'s static-auth-secret).',
    )
    credential = serializers.CharField(
        required=False, help_text="TURN only: base64(HMAC-SHA1(the TURN secret, username))."
    )


class RtcCredentialsSerializer(serializers.Serializer):
    ice_servers = IceServerSerializer(
        many=True, help_text="The configured STUN/TURN servers, TURN's with a fresh credential."
    )
    ice_transport_policy = serializers.ChoiceField(
        choices=rtc.TRANSPORT_POLICIES, help_text="Pass as RTCConfiguration's iceTransportPolicy."
    )
    expires_at = serializers.IntegerField(
        allow_null=True,
        help_text="Epoch ms when the TURN credential stops working (at most an hour away); "
        "fetch again before it, and for each call. Null without TURN.",
    )


# --- Annotations ----------------------------------------------------------------


def _shape_schema() -> dict[str, Any]:
    """One variant per point count, so the schema states the rule `clean_shape` applies."""
    point = {
        "type": "array",
        "items": {"type": "number", "minimum": 0, "maximum": 1},
        "minItems": 2,
        "maxItems": 2,
    }
    by_count: dict[int, list[str]] = {}
    for kind, count in POINTS_PER_KIND.items():
        by_count.setdefault(count, []).append(kind)
    return {
        "oneOf": [
            {
                "type": "object",
                "required": ["kind", "points"],
                "additionalProperties": False,
                "properties": {
                    "kind": {"type": "string", "enum": kinds},
                    "points": {"type": "array", "items": point, "minItems": n, "maxItems": n},
                    "color": {"type": "string", "nullable": True, "pattern": "^#[0-9a-fA-F]{6}$"},
                },
            }
            for n, kinds in sorted(by_count.items())
        ],
        "description": "Normalized to the frame (0..1 from the top-left). `line` and `arrow`: "
        "[from, to]; `angle`: [end, vertex, end]; `circle`: [centre, a point on the circle].",
    }


@extend_schema_field(_shape_schema())
class ShapeField(serializers.Field):
    """A shape on the frame, checked by `coaching.shapes.clean_shape`."""

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        return _service_checked(clean_shape, data)

    def to_representation(self, value: dict[str, Any]) -> dict[str, Any]:
        return value


class AnnotationSerializer(serializers.Serializer):
    """A saved drawing on a swing's frame: the `annotation:added` payload."""

    id = serializers.CharField()
    seq = serializers.IntegerField()
    eid = eid_field()
    session_id = serializers.CharField()
    swing_id = serializers.CharField()
    time_ms = serializers.IntegerField(help_text="The frame's time in the swing, in ms.")
    shapes = serializers.ListField(child=ShapeField())
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
    shapes = serializers.ListField(child=ShapeField(), max_length=MAX_SHAPES)
    note = TextField(
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


# --- The library: past lessons, progress, shares -------------------------------------


class LessonSerializer(SessionSerializer):
    """A past lesson in the library."""

    duration_ms = serializers.IntegerField(
        allow_null=True, help_text="From the coach's claim to the end; null if never claimed."
    )
    clubs = serializers.ListField(
        child=serializers.CharField(),
        help_text="The clubs its swings were hit with, as the Node API named them, in the "
        "order first swung.",
    )
    swing_count = serializers.IntegerField()
    feedback_count = serializers.IntegerField()
    recap_url = serializers.CharField(
        help_text="The lesson's page, which opens on its recap once the lesson has ended."
    )
    replay_url = serializers.CharField(allow_null=True, help_text="The lesson's replay page.")


class LessonListQuerySerializer(serializers.Serializer):
    coach = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_DB_INT, help_text="Only with this coach (id)."
    )
    student = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_DB_INT,
        help_text="Only of this student (id).",
    )
    club = TextField(
        required=False,
        max_length=swing_rules.MAX_CLUB_CHARS,
        help_text="Only lessons with a swing of this club, as the Node API names it "
        "(`driver`, `7i`; any case).",
    )
    date_from = serializers.DateField(
        required=False, help_text="Only lessons on or after this day (YYYY-MM-DD, TIME_ZONE)."
    )
    date_to = serializers.DateField(
        required=False, help_text="Only lessons on or before this day (YYYY-MM-DD, TIME_ZONE)."
    )


class LessonFiltersSerializer(serializers.Serializer):
    coaches = PersonSerializer(many=True, help_text="The coaches of your past lessons.")
    students = PersonSerializer(many=True, help_text="The students of your past lessons.")
    clubs = serializers.ListField(
        child=serializers.CharField(), help_text="The clubs swung in your past lessons."
    )


class StudentPathSerializer(serializers.Serializer):
    student_id = serializers.IntegerField(min_value=1, max_value=MAX_DB_INT)


class StudentProgressQuerySerializer(serializers.Serializer):
    metric = serializers.ChoiceField(
        choices=[m.key for m in metric_catalog.METRICS],
        help_text="A metric of the catalog, by its own key (`GET` the lesson page's "
        "`metric-catalog` for labels, units, ranges and which way is better).",
    )


class ProgressPointSerializer(serializers.Serializer):
    session_id = serializers.CharField()
    swing_id = serializers.CharField()
    at = serializers.IntegerField(
        help_text="Epoch milliseconds: when the swing was recorded, else when its card arrived."
    )
    value = serializers.FloatField(help_text="In the metric's catalog unit (`unit`).")


class StudentProgressSerializer(serializers.Serializer):
    metric = serializers.CharField()
    unit = serializers.CharField(allow_blank=True, help_text="The catalog's unit; empty: none.")
    points = ProgressPointSerializer(many=True, help_text="One per analysed swing, oldest first.")


class StudentMetricSerializer(serializers.Serializer):
    metric = serializers.CharField()
    count = serializers.IntegerField(help_text="Swings with a value.")
    last_at = serializers.IntegerField(help_text="Epoch milliseconds of the newest.")


class StudentMetricsSerializer(serializers.Serializer):
    student = PersonSerializer()
    metrics = StudentMetricSerializer(
        many=True, help_text="In catalog order; only those with values."
    )


class ShareCreateSerializer(serializers.Serializer):
    expires_in_days = serializers.IntegerField(
        required=False,
        default=share_rules.DEFAULT_DAYS,
        min_value=share_rules.MIN_DAYS,
        max_value=share_rules.MAX_DAYS,
    )
    label = TextField(
        required=False,
        allow_blank=True,
        default="",
        max_length=share_rules.MAX_LABEL_CHARS,
        help_text="Your name for the link, e.g. who it is for.",
    )


class NameSerializer(serializers.Serializer):
    name = serializers.CharField()


class ShareSerializer(serializers.Serializer):
    """A link to the lesson's recap, as listed: never its secret or its URL."""

    share_id = serializers.CharField()
    label = serializers.CharField(allow_blank=True)
    created_at = serializers.IntegerField(help_text="Epoch milliseconds.")
    created_by = NameSerializer()
    expires_at = serializers.IntegerField(help_text="Epoch milliseconds.")
    revoked_at = serializers.IntegerField(allow_null=True, help_text="Epoch milliseconds.")
    state = serializers.ChoiceField(
        choices=share_rules.STATES,
        help_text="`active` (the link opens the recap), `expired` or `revoked` (it answers 410).",
    )


class ShareCreatedSerializer(ShareSerializer):
    url = serializers.CharField(
        help_text="The link, shown this once: only a digest of its secret is kept."
    )


class ReplaySessionSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The session id.")
    state = serializers.CharField(
        help_text=f"The session's status: {', '.join(f'`{v}`' for v in Status.values)}."
    )
    club = serializers.CharField(allow_null=True, help_text="The first swing's club, if named.")
    created_at = serializers.IntegerField(help_text="Epoch milliseconds.")
    started_at = serializers.IntegerField(allow_null=True, help_text="Epoch milliseconds.")
    ended_at = serializers.IntegerField(allow_null=True, help_text="Epoch milliseconds.")
    student = PersonSerializer()
    coach = PersonSerializer(allow_null=True)


class ReviewCompareSerializer(serializers.Serializer):
    swing_id = serializers.CharField()
    offset_ms = serializers.FloatField()


class ReviewStateSerializer(serializers.Serializer):
    """The room's shared playback (docs/protocol.md, ReviewState)."""

    swing_id = serializers.CharField(allow_null=True)
    playing = serializers.BooleanField()
    position_ms = serializers.FloatField()
    rate = serializers.FloatField()
    leader = PersonSerializer(allow_null=True)
    compare = ReviewCompareSerializer(allow_null=True)
    lead_request = PersonSerializer(allow_null=True)
    alone = PersonSerializer(many=True)
    server_ts = serializers.IntegerField(help_text="Epoch milliseconds: the entry's `at_ms`.")
    version = serializers.IntegerField()


class ReplayStrokeSerializer(serializers.Serializer):
    stroke_id = serializers.CharField()
    shape = ShapeField()
    by = PersonSerializer()


class ReplayReviewEntrySerializer(serializers.Serializer):
    """One recorded moment of the review: `state` carries `state`; `stroke` carries
    `swing_id` and `stroke`; `clear` carries `swing_id` and `by`."""

    at_ms = serializers.IntegerField(help_text="Epoch milliseconds (server).")
    kind = serializers.ChoiceField(choices=["state", "stroke", "clear"])
    state = ReviewStateSerializer(required=False, help_text="The settled state after a change.")
    swing_id = serializers.CharField(
        required=False, allow_null=True, help_text="The swing drawn on or cleared."
    )
    stroke = ReplayStrokeSerializer(required=False, help_text="A finished live stroke.")
    by = PersonSerializer(required=False, help_text="Who cleared the drawings.")


class ReplayEventSerializer(serializers.Serializer):
    seq = serializers.IntegerField()
    eid = eid_field()
    at_ms = serializers.IntegerField(help_text="Epoch milliseconds (server) it was logged.")
    event = serializers.CharField()
    payload = serializers.DictField(help_text="The event's payload as it was broadcast.")


class ReplayRecordingSerializer(serializers.Serializer):
    id = serializers.CharField()
    start_ms = serializers.IntegerField(help_text="Its first sample, epoch ms (server).")
    duration_ms = serializers.IntegerField()
    url = serializers.CharField(help_text="The WebM/Opus audio, for the lesson's participants.")


class ReplaySerializer(serializers.Serializer):
    """A lesson as it can be replayed (`coaching.replay.replay_document`)."""

    session = ReplaySessionSerializer()
    start_ms = serializers.IntegerField(
        help_text="The replay's zero: when the lesson started, else its first recorded moment."
    )
    end_ms = serializers.IntegerField(
        help_text="When it ended, else its last recorded moment (a running lesson: now)."
    )
    swings = SwingSerializer(many=True, help_text="In the order attached.")
    events = ReplayEventSerializer(many=True, help_text="The whole event log, in seq order.")
    review = ReplayReviewEntrySerializer(
        many=True, help_text="The recorded review, by `at_ms` (ties: the order recorded)."
    )
    recordings = ReplayRecordingSerializer(
        many=True,
        help_text="The call, recorded with both participants' consent, oldest first "
        "(not in a share link's replay).",
    )
