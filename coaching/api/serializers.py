"""Input and output shapes of the REST API (the OpenAPI schema is generated from them).

Responses are the payloads of `coaching.events`, sent as they are, so a REST
client and a socket client see the same objects; the output serializers here
describe those payloads for the schema.
"""

import json
from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiResponse
from rest_framework import serializers

from coaching.models import Status, Step, StepSource
from coaching.selectors import EVENTS_PAGE_DEFAULT, EVENTS_PAGE_MAX
from coaching.services.checkpoints import MAX_NOTE_CHARS
from coaching.services.notices import LEVELS

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


class SessionCreateSerializer(serializers.Serializer):
    student_id = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_DB_INT,
        help_text="Required for the service account; students omit it.",
    )
    title = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")


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
    session_id = serializers.CharField()
    swing_id = serializers.CharField()
    summary = serializers.CharField()
    metrics = serializers.DictField()
    recommendations = serializers.ListField(child=serializers.CharField())
    level = serializers.CharField(allow_blank=True)
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
    },
)


class SocketTokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Pass as the socket's `token` param.")
    expires_in = serializers.IntegerField(help_text="Seconds.")
