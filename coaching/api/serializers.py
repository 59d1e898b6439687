"""Input and output shapes of the REST API (the OpenAPI schema is generated from them).

Responses are the payloads of `coaching.events`, sent as they are, so a REST
client and a socket client see the same objects; the output serializers here
describe those payloads for the schema.
"""

import json
from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiResponse
from rest_framework import serializers

from coaching.models import Status, Step
from coaching.services.checkpoints import MAX_NOTE_CHARS
from coaching.services.notices import LEVELS

# The largest id or seq the database stores (a signed 64-bit integer).
MAX_DB_INT = 2**63 - 1
MAX_METRICS_JSON_CHARS = 10_000


class EventsQuerySerializer(serializers.Serializer):
    before_seq = serializers.IntegerField(required=False, min_value=1, max_value=MAX_DB_INT)
    limit = serializers.IntegerField(required=False, default=50, min_value=1, max_value=200)


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


class SessionSerializer(SessionStateSerializer):
    """A session as listed, and as the lobby's `session:*` events carry it."""

    title = serializers.CharField(allow_blank=True)
    created_at = serializers.IntegerField(help_text="Epoch milliseconds.")


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
    text = serializers.CharField()
    level = serializers.ChoiceField(choices=LEVELS)
    code = serializers.CharField(
        help_text="`participant_joined`, `participant_left` or `service`: pages render the "
        "notice from `code` + `params` in their viewer's language; `text` is Korean."
    )
    params = serializers.DictField(child=serializers.CharField())
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
