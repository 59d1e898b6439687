"""Input and output shapes of the REST API (the OpenAPI schema is generated from them)."""

from rest_framework import serializers


class PersonSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()


class SessionStateSerializer(serializers.Serializer):
    """The contract's session state, as sent in `session:state`."""

    session_id = serializers.CharField()
    status = serializers.ChoiceField(choices=["waiting", "active", "paused", "ended"])
    current_step = serializers.ChoiceField(choices=["upload", "analysis", "feedback"])
    coach = PersonSerializer(allow_null=True)
    student = PersonSerializer()
    updated_at = serializers.IntegerField(help_text="Epoch milliseconds.")


class SessionSerializer(SessionStateSerializer):
    title = serializers.CharField(allow_blank=True)
    created_at = serializers.IntegerField(help_text="Epoch milliseconds.")


class SessionCreateSerializer(serializers.Serializer):
    student_id = serializers.IntegerField(
        required=False, help_text="Required for the service account; students omit it."
    )
    title = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
