"""Input fields with the project's rules, and the schema that states those rules.

`TextField`: free text under `coaching.text` (the socket's rules too): a JSON
string (`0` is not coerced to `"0"`), storable, NFC, trimmed. Every request
string field's schema has a `pattern` saying that NUL is refused.

`MetricsField`: the AI's free-form metrics. They are stored as jsonb and broadcast
through the channel layer's msgpack encoder, so only what both carry intact is
accepted (finite numbers within ±1e15, short strings, booleans, nested objects
and lists), bounded in depth and size.
"""

import json
import math
from typing import Any

from django.core.validators import RegexValidator
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import ProhibitNullCharactersValidator

from coaching import text
from coaching.errors import ServiceError
from coaching.services import swings

# The schema's form of text.UNSTORABLE (JSON Schema regexes are ECMA-262).
SCHEMA_PATTERN = r"^[^\u0000]*$"
# Text that must not be blank once trimmed: at least one character that is not
# whitespace (to JavaScript's regexes or to Python's `str.strip`) nor invisible.
NONBLANK_SCHEMA_PATTERN = rf"^[^\u0000]*[^\s\u0000\u001c-\u001f\u0085{text.INVISIBLE}][^\u0000]*$"


class TextField(serializers.CharField):
    """Free text: a string only, under the rules of `coaching.text`."""

    def to_internal_value(self, data: Any) -> str:
        try:
            return text.clean_text(
                data,
                field=self.field_name or "value",
                max_chars=self.max_length,
                allow_blank=self.allow_blank,
            )
        except ServiceError as exc:
            raise serializers.ValidationError(exc.message) from None


class StorableTextSchema(OpenApiSerializerFieldExtension):
    """Request string fields refuse NUL (DRF's own validator, and TextField): say so in
    the schema, so that schema-valid input is accepted input."""

    target_class = serializers.CharField
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        refuses_nul = any(
            isinstance(v, ProhibitNullCharactersValidator) for v in self.target.validators
        )
        has_own_pattern = any(isinstance(v, RegexValidator) for v in self.target.validators)
        if (
            direction == "request"
            and refuses_nul
            and "pattern" not in schema
            and not has_own_pattern
        ):
            refuses_blank = isinstance(self.target, TextField) and not self.target.allow_blank
            pattern = NONBLANK_SCHEMA_PATTERN if refuses_blank else SCHEMA_PATTERN
            schema = {**schema, "pattern": pattern}
        return schema


MAX_METRICS_BYTES = 16 * 1024
MAX_METRICS_DEPTH = 4  # the metrics object itself is the first level
MAX_METRICS_ENTRIES = 100  # per object or list
MAX_METRICS_KEY_CHARS = 64
MAX_METRICS_STRING_CHARS = 200
MAX_METRICS_NUMBER = 10**15


def _metrics_value_schema(levels: int) -> dict[str, Any]:
    """A metrics value that may still hold `levels` levels of objects or lists."""
    kinds: list[dict[str, Any]] = [
        {"type": "number", "minimum": -MAX_METRICS_NUMBER, "maximum": MAX_METRICS_NUMBER},
        {"type": "string", "maxLength": MAX_METRICS_STRING_CHARS, "pattern": SCHEMA_PATTERN},
        {"type": "boolean"},
    ]
    if levels > 0:
        inner = _metrics_value_schema(levels - 1)
        kinds.append(
            {
                "type": "object",
                "maxProperties": MAX_METRICS_ENTRIES,
                "additionalProperties": inner,
            }
        )
        kinds.append({"type": "array", "maxItems": MAX_METRICS_ENTRIES, "items": inner})
    return {"anyOf": kinds}


METRICS_SCHEMA = {
    "type": "object",
    "maxProperties": MAX_METRICS_ENTRIES,
    "additionalProperties": _metrics_value_schema(MAX_METRICS_DEPTH - 1),
    "description": (
        'Free-form measurements, e.g. `{"face_angle": 5.2, "tempo": {"ratio": 3.1}}`: numbers '
        f"within ±1e15, strings of at most {MAX_METRICS_STRING_CHARS} characters, booleans, and "
        f"objects or lists of those, nested at most {MAX_METRICS_DEPTH} levels deep (this object "
        f"is the first), at most {MAX_METRICS_ENTRIES} entries each; keys of at most "
        f"{MAX_METRICS_KEY_CHARS} characters; NUL nowhere; at most {MAX_METRICS_BYTES} bytes of "
        "JSON in all."
    ),
}


def metrics_problem(value: Any) -> str | None:
    """What makes `value` unacceptable as metrics, or None when it is fine."""
    if not isinstance(value, dict):
        return "metrics must be an object."
    stack: list[tuple[str, Any, int]] = [("metrics", value, 1)]
    while stack:
        path, item, depth = stack.pop()
        if isinstance(item, bool):
            continue
        if isinstance(item, int | float):
            if not (math.isfinite(item) and -MAX_METRICS_NUMBER <= item <= MAX_METRICS_NUMBER):
                return f"{path}: numbers must be finite and within ±1e15."
        elif isinstance(item, str):
            if len(item) > MAX_METRICS_STRING_CHARS or not text.is_storable(item):
                return (
                    f"{path}: strings must have at most {MAX_METRICS_STRING_CHARS} "
                    "characters, and no NUL or lone surrogate."
                )
        elif isinstance(item, dict | list):
            if depth > MAX_METRICS_DEPTH:
                return f"{path}: nested deeper than {MAX_METRICS_DEPTH} levels."
            if len(item) > MAX_METRICS_ENTRIES:
                return f"{path}: more than {MAX_METRICS_ENTRIES} entries."
            if isinstance(item, list):
                stack.extend((f"{path}[{i}]", v, depth + 1) for i, v in enumerate(item))
                continue
            for key, v in item.items():
                if len(key) > MAX_METRICS_KEY_CHARS:
                    return f"{path}: keys must have at most {MAX_METRICS_KEY_CHARS} characters."
                if not text.is_storable(key):
                    return f"{path}: keys may not contain NUL or a lone surrogate."
                stack.append((f"{path}.{key}", v, depth + 1))
        else:
            return f"{path}: only numbers, strings, booleans, objects and lists are allowed."
    size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())
    if size > MAX_METRICS_BYTES:
        return f"metrics is larger than {MAX_METRICS_BYTES} bytes of JSON."
    return None


@extend_schema_field(METRICS_SCHEMA)
class MetricsField(serializers.Field):
    """The feedback card's metrics, checked against METRICS_SCHEMA's rules."""

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        problem = metrics_problem(data)
        if problem:
            raise serializers.ValidationError(problem)
        return data

    def to_representation(self, value: dict[str, Any]) -> dict[str, Any]:
        return value


def key_frames_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "nullable": True,
        "maxProperties": swings.MAX_KEY_FRAMES,
        "additionalProperties": {
            "type": "integer",
            "minimum": 0,
            "maximum": swings.MAX_DURATION_MS,
        },
        "description": "Key positions of the swing, name → ms, within the swing's `duration_ms` "
        f"when it is known; names of 1-{swings.MAX_KEY_FRAME_NAME_CHARS} characters, not all "
        "spaces (OpenAPI 3.0 cannot state rules on keys).",
    }


@extend_schema_field(key_frames_schema())
class KeyFramesField(serializers.DictField):
    """Key positions `{name: ms}`, checked by `coaching.services.swings.clean_key_frames`."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(child=serializers.IntegerField(), **kwargs)

    def to_internal_value(self, data: Any) -> dict[str, int] | None:
        try:
            return swings.clean_key_frames(data, None, self.field_name or "key_frames")
        except ServiceError as exc:
            raise serializers.ValidationError(exc.message) from None
