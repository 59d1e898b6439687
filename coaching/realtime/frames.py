"""Phoenix Channels frames, in both wire versions a client may ask for with `vsn`.

- V2 (`vsn=2.0.0`, phoenix.js ≥ 1.4): `[join_ref, ref, topic, event, payload]`.
- V1 (`vsn=1.0.0`, the npm `phoenix-channels`/`phoenix-socket` clients, and the
  default when `vsn` is absent, as in Phoenix): `{"topic", "event", "payload",
  "ref", "join_ref"}`; V1 clients may omit `join_ref`.

A socket picks its serializer at connect and speaks only that version. Binary
frames carry no JSON: a V2 binary push (phoenix.js sends one for an ArrayBuffer
payload) is answered `bad_frame` through the ref in its header; any other binary
frame has no readable ref and is dropped.
"""

import json
import re
from dataclasses import dataclass
from typing import Any, NoReturn

import orjson

# A ref as the client sent it (phoenix.js: strings; other clients: integers), echoed as is.
Ref = str | int | None


class FrameError(ValueError):
    """A frame that is not a message; `ref` (and `topic`) are set when they could be read."""

    def __init__(self, message: str, *, ref: Ref = None, topic: str | None = None):
        super().__init__(message)
        self.ref = ref
        self.topic = topic


@dataclass(frozen=True, slots=True)
class Message:
    join_ref: Ref
    ref: Ref
    topic: str
    event: str
    payload: dict[str, Any]


def _ref(value: Any) -> Ref:
    if value is None:
        return None
    if isinstance(value, str) and len(value) <= 64:
        return value
    if isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63:
        return value
    raise FrameError("refs must be strings, integers or null")


def _readable_ref(value: Any) -> Ref:
    """The ref of a frame that is otherwise wrong, if it can be read (to answer it)."""
    try:
        return _ref(value)
    except FrameError:
        return None


def _message(join_ref_raw: Any, ref_raw: Any, topic: Any, event: Any, payload: Any) -> Message:
    """Check the fields in an order that reads the ref first, so every later fault is
    answered (`bad_frame` needs a ref to reply to)."""
    ref = _ref(ref_raw)
    if not isinstance(topic, str) or not topic or len(topic) > 200:
        raise FrameError("topic must be a non-empty string", ref=ref)
    try:
        join_ref = _ref(join_ref_raw)
    except FrameError:
        raise FrameError("join_ref must be a string or null", ref=ref, topic=topic) from None
    if not isinstance(event, str) or not event or len(event) > 100:
        raise FrameError("event must be a non-empty string", ref=ref, topic=topic)
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        raise FrameError("payload must be an object", ref=ref, topic=topic)
    return Message(join_ref, ref, topic, event, payload)


# The start of a V2 frame, `[join_ref, ref, "topic", …`: read from a frame that is not
# JSON (or nests too deep to parse), so that it can still be answered.
_V2_HEAD = re.compile(
    r'\s*\[\s*(?:null|-?\d{1,19}|"(?:[^"\\]|\\.){0,64}")\s*,'
    r'\s*(null|-?\d{1,19}|"(?:[^"\\]|\\.){0,64}")\s*,\s*("(?:[^"\\]|\\.){1,200}")'
)


def _json(text: str, head: re.Pattern | None = None) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    # orjson refuses some frames the standard library reads: a lone surrogate (`\ud800`)
    # in a chat line, which the text rules then answer `invalid_input` naming the field,
    # and nesting past 1,024 levels.
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        ref, topic = _head(text, head)
        raise FrameError("frame is not JSON", ref=ref, topic=topic) from None


def _head(text: str, head: re.Pattern | None) -> tuple[Ref, str | None]:
    """The ref and topic at the start of an unparsable frame, when they can be read."""
    match = head.match(text) if head is not None else None
    if match is None:
        return None, None
    try:
        ref, topic = json.loads(match.group(1)), json.loads(match.group(2))
    except ValueError:
        return None, None
    return _readable_ref(ref), topic if isinstance(topic, str) else None


def _dumps(data: Any) -> str:
    """Compact JSON, text as UTF-8 (not \\u escapes: Korean chat is half the bytes)."""
    try:
        return orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS).decode()
    except orjson.JSONEncodeError:
        # A lone surrogate a client sent in a ref or topic, echoed in the reply: escaped,
        # as the standard library writes it.
        return json.dumps(data, separators=(",", ":"))


class Serializer:
    """One wire version: text frames to messages and back."""

    vsn: str
    # Whether a push may leave out join_ref and so address the topic's current join.
    join_ref_optional: bool = False

    def decode(self, text: str) -> Message:
        raise NotImplementedError

    def encode(self, join_ref: Ref, ref: Ref, topic: str, event: str, payload: dict) -> str:
        raise NotImplementedError

    def reply(self, join_ref: Ref, ref: Ref, topic: str, status: str, response: dict) -> str:
        return self.encode(
            join_ref, ref, topic, "phx_reply", {"status": status, "response": response}
        )

    def decode_binary(self, data: bytes) -> NoReturn:
        """Binary payloads are not supported: always a FrameError, with the ref when the
        frame is a V2 binary push (kind 0) whose header can be read, else without one."""
        raise FrameError("binary frames are not supported")


class V2Serializer(Serializer):
    vsn = "2.0.0"

    def decode(self, text: str) -> Message:
        data = _json(text, _V2_HEAD)
        if not isinstance(data, list) or len(data) != 5:
            shape = "frame must be [join_ref, ref, topic, event, payload]"
            if isinstance(data, list) and len(data) >= 2:  # answer it where the ref is readable
                topic = data[2] if len(data) >= 3 and isinstance(data[2], str) else None
                raise FrameError(shape, ref=_readable_ref(data[1]), topic=topic)
            raise FrameError(shape)
        return _message(*data)

    def encode(self, join_ref: Ref, ref: Ref, topic: str, event: str, payload: dict) -> str:
        return _dumps([join_ref, ref, topic, event, payload])

    def decode_binary(self, data: bytes) -> NoReturn:
        # Phoenix's binary push: kind 0, then the sizes of join_ref, ref, topic and event.
        message = "binary payloads are not supported; send JSON text frames"
        if len(data) < 5 or data[0] != 0:
            raise FrameError(message)
        join_ref_size, ref_size, topic_size = data[1], data[2], data[3]
        start = 5 + join_ref_size
        end = start + ref_size + topic_size
        if ref_size == 0 or len(data) < end:
            raise FrameError(message)
        try:
            ref = data[start : start + ref_size].decode()
            topic = data[start + ref_size : end].decode()
        except UnicodeDecodeError:
            raise FrameError(message) from None
        raise FrameError(message, ref=ref[:64], topic=topic or None)


class V1Serializer(Serializer):
    vsn = "1.0.0"
    join_ref_optional = True

    def decode(self, text: str) -> Message:
        data = _json(text)
        if not isinstance(data, dict):
            raise FrameError('frame must be {"topic", "event", "payload", "ref"}')
        message = _message(
            data.get("join_ref"),
            data.get("ref"),
            data.get("topic"),
            data.get("event"),
            data.get("payload"),
        )
        if message.event == "phx_join" and message.join_ref is None:
            # Clients from before join_ref know a join by its ref (as Phoenix does).
            return Message(message.ref, message.ref, message.topic, message.event, message.payload)
        return message

    def encode(self, join_ref: Ref, ref: Ref, topic: str, event: str, payload: dict) -> str:
        return _dumps(
            {"topic": topic, "event": event, "payload": payload, "ref": ref, "join_ref": join_ref}
        )


SERIALIZERS: dict[str, Serializer] = {s.vsn: s for s in (V2Serializer(), V1Serializer())}
# Phoenix reads a connect without `vsn` as 1.0.0.
DEFAULT_VSN = "1.0.0"
