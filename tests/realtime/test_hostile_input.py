"""Whatever a client puts in a push's fields, it gets an answer and the server logs no
traceback: NUL, lone surrogates, wrong types and deep nesting in every field of every
event the session topic takes."""

import json

import pytest

from coaching.models import CoachingSession
from coaching.services.swings import swing_attach
from tests.support.broadcasts import captured_broadcasts

pytestmark = pytest.mark.django_db(transaction=True)

# Nesting past what JSON parsers take (sent in place of this marker).
DEEP = "<nested 1,100 levels>"
HOSTILE = ["\x00", "\ud800", "a\x00b", "\udfff\ud800", "", " \u200b ", 7, True, None, [], {}]
FIELDS = {
    "chat:new": ["message", "client_msg_id"],
    "session:control": ["status", "current_step"],
    "annotation:save": ["swing_id", "time_ms", "shapes", "note"],
    "review:update": ["swing_id", "playing", "position_ms", "rate"],
    "review:lead": ["user_id"],
    "review:stroke": ["stroke_id", "shape", "done"],
    "review:clear": [],
}
VALID = {
    "chat:new": {"message": "hi", "client_msg_id": "c1"},
    "session:control": {"status": "paused"},
    "annotation:save": {"swing_id": "sw_1", "time_ms": 10, "shapes": [], "note": ""},
    "review:update": {"swing_id": "sw_1", "playing": False, "position_ms": 0, "rate": 1},
    "review:lead": {"user_id": "0"},
    "review:stroke": {"stroke_id": "s1", "shape": {"kind": "line", "points": []}, "done": True},
    "review:clear": {},
}


def frame(join_ref: str, ref: str, topic: str, event: str, payload: dict) -> str:
    """JSON with \\u escapes, as a client sends a lone surrogate."""
    return json.dumps([join_ref, ref, topic, event, payload])


def test_every_field_of_every_event_is_answered_without_a_traceback(
    server, connect, coach, service, active_session: CoachingSession
):
    with captured_broadcasts():
        swing_attach(
            session_id=active_session.session_id,
            actor=service,
            swing={"swing_id": "sw_1", "video_url": "/media/a.mp4", "duration_ms": 1000},
        )
    log_start = server.log_path.stat().st_size
    topic = active_session.topic
    with connect(coach) as client:
        join_ref, _ = client.join_ok(topic)
        sent = 0
        for event, fields in FIELDS.items():
            for field in fields:
                for value in [*HOSTILE, DEEP]:
                    sent += 1
                    ref = f"r{sent}"
                    payload = {**VALID[event], field: value}
                    text = frame(join_ref, ref, topic, event, payload)
                    client.send(text.replace(json.dumps(DEEP), "[" * 1100 + "]" * 1100))
                    reply = client.reply(ref)
                    assert reply["status"] in ("ok", "error"), (event, field, value)
                    if reply["status"] == "error":
                        assert reply["response"]["reason"] != "internal_error", (event, field)
        assert client.heartbeat()["status"] == "ok"
    log = server.log_path.read_bytes()[log_start:].decode(errors="replace")
    assert "Traceback" not in log
    assert "cannot encode" not in log  # nothing unsendable got as far as a broadcast
