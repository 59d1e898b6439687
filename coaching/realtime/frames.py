"""Phoenix Channels V2 frames: `[join_ref, ref, topic, event, payload]` as JSON text."""

import json
from dataclasses import dataclass
from typing import Any


class FrameError(ValueError):
    """A text frame that is not a V2 message; `ref` is set when one could be read."""

    def __init__(self, message: str, *, ref: str | None = None, topic: str | None = None):
        super().__init__(message)
        self.ref = ref
        self.topic = topic


@dataclass(frozen=True, slots=True)
class Message:
    join_ref: str | None
    ref: str | None
    topic: str
    event: str
    payload: dict[str, Any]


def _ref(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str) and len(value) <= 64:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise FrameError("refs must be strings or null")


def decode(text: str) -> Message:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise FrameError("frame is not JSON") from None
    if not isinstance(data, list) or len(data) != 5:
        raise FrameError("frame must be [join_ref, ref, topic, event, payload]")
    join_ref_raw, ref_raw, topic, event, payload = data
    ref = _ref(ref_raw)
    if not isinstance(topic, str) or not topic or len(topic) > 200:
        raise FrameError("topic must be a non-empty string", ref=ref)
    join_ref = _ref(join_ref_raw)
    if not isinstance(event, str) or not event or len(event) > 100:
        raise FrameError("event must be a non-empty string", ref=ref, topic=topic)
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        raise FrameError("payload must be an object", ref=ref, topic=topic)
    return Message(join_ref, ref, topic, event, payload)


def encode(
    join_ref: str | None, ref: str | None, topic: str, event: str, payload: dict[str, Any]
) -> str:
    return json.dumps([join_ref, ref, topic, event, payload], separators=(",", ":"))


def reply(
    msg_join_ref: str | None, ref: str | None, topic: str, status: str, response: dict
) -> str:
    return encode(msg_join_ref, ref, topic, "phx_reply", {"status": status, "response": response})
