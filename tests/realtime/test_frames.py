"""The frame decoders of both wire versions: every fault is a FrameError (with the ref when
one can be read), never a crash, and every valid message round-trips."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coaching.realtime.frames import SERIALIZERS, FrameError, Message, V1Serializer, V2Serializer

V1, V2 = V1Serializer(), V2Serializer()


def test_an_invalid_join_ref_keeps_the_ref_so_the_fault_can_be_answered():
    with pytest.raises(FrameError) as info:
        V2.decode('[{"x": 1}, "7", "phoenix", "heartbeat", {}]')
    assert (info.value.ref, info.value.topic) == ("7", "phoenix")


def test_an_invalid_ref_leaves_nothing_to_answer():
    with pytest.raises(FrameError) as info:
        V2.decode('[null, {"x": 1}, "phoenix", "heartbeat", {}]')
    assert info.value.ref is None


def test_v1_frames_are_objects_and_their_replies_too():
    msg = V1.decode('{"topic": "t:1", "event": "chat:new", "payload": {"a": 1}, "ref": "5"}')
    assert msg == Message(None, "5", "t:1", "chat:new", {"a": 1})
    assert json.loads(V1.reply(None, "5", "t:1", "ok", {})) == {
        "topic": "t:1",
        "event": "phx_reply",
        "payload": {"status": "ok", "response": {}},
        "ref": "5",
        "join_ref": None,
    }


@pytest.mark.parametrize("serializer", [V2, V1], ids=["v2", "v1"])
def test_an_integer_ref_comes_back_an_integer(serializer):
    text = (
        '[null, 5, "t:1", "chat:new", {}]'
        if serializer is V2
        else '{"topic": "t:1", "event": "chat:new", "payload": {}, "ref": 5}'
    )
    msg = serializer.decode(text)
    assert msg.ref == 5
    reply = json.loads(serializer.reply(msg.join_ref, msg.ref, msg.topic, "ok", {}))
    assert (reply[1] if serializer is V2 else reply["ref"]) == 5


@pytest.mark.parametrize(
    "text",
    [
        '["1", "7", "room:1"]',  # too short
        '["1", "7", "room:1", "ev", {}, "extra"]',  # too long
        '["1", "7", "room:1", "ev", {"a": ' + "[" * 1100 + "]" * 1100 + "}]",  # too deep
        '["1", "7", "room:1", "ev", {"a": nope}]',  # not JSON
    ],
)
def test_a_broken_v2_frame_whose_ref_is_readable_is_answered(text):
    with pytest.raises(FrameError) as info:
        V2.decode(text)
    assert (info.value.ref, info.value.topic) == ("7", "room:1")


@pytest.mark.parametrize("serializer", [V2, V1], ids=["v2", "v1"])
def test_a_lone_surrogate_a_client_sent_is_read_and_echoed_back(serializer):
    """orjson refuses them both ways; the frames fall back to the standard library."""
    frame = serializer.encode("1", "\ud800", "t:\udfff", "chat:new", {"message": "a \ud800"})
    msg = serializer.decode(frame)
    assert (msg.ref, msg.topic, msg.payload) == ("\ud800", "t:\udfff", {"message": "a \ud800"})
    assert json.loads(serializer.reply("1", msg.ref, msg.topic, "ok", {}))


def test_a_v1_join_without_join_ref_is_known_by_its_ref():
    msg = V1.decode('{"topic": "t:1", "event": "phx_join", "payload": {}, "ref": "3"}')
    assert msg.join_ref == "3"


def test_a_v2_binary_push_yields_its_ref_and_topic():
    frame = bytes([0, 1, 2, 3, 4]) + b"j" + b"r9" + b"t:1" + b"evnt" + b"data"
    with pytest.raises(FrameError) as info:
        V2.decode_binary(frame)
    assert (info.value.ref, info.value.topic) == ("r9", "t:1")


@pytest.mark.parametrize("serializer", [V1, V2])
@pytest.mark.parametrize("data", [b"", b"\x00", b"\x00\x01\x09\x01\x01", b"\x01abc", b"\xff" * 9])
def test_other_binary_frames_have_no_ref(serializer, data):
    with pytest.raises(FrameError) as info:
        serializer.decode_binary(data)
    assert info.value.ref is None


def test_vsn_values_map_to_their_serializers():
    assert SERIALIZERS["2.0.0"].vsn == "2.0.0" and SERIALIZERS["1.0.0"].vsn == "1.0.0"


# --- Fuzzing ---------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
# What JSON carries between peers unchanged: no infinities (not JSON), integers in 64 bits
# (a larger one is read as a float, as JavaScript reads it).
wire_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
refs = st.none() | st.text(max_size=70) | st.integers() | json_values
fields = st.tuples(refs, refs, json_values | st.text(max_size=210), json_values, json_values)


def v2_text(parts):
    return json.dumps(list(parts))


def v1_text(parts):
    join_ref, ref, topic, event, payload = parts
    return json.dumps(
        {"join_ref": join_ref, "ref": ref, "topic": topic, "event": event, "payload": payload}
    )


@pytest.mark.parametrize("serializer, as_text", [(V2, v2_text), (V1, v1_text)], ids=["v2", "v1"])
@given(data=st.one_of(fields, st.text(), st.binary().map(lambda b: b.decode("latin-1"))))
@settings(max_examples=300, deadline=None, database=None)
def test_any_text_decodes_to_a_message_or_a_frame_error(serializer, as_text, data):
    text = as_text(data) if isinstance(data, tuple) else data
    try:
        msg = serializer.decode(text)
    except FrameError as exc:
        ref = exc.ref
        assert ref is None or (isinstance(ref, str) and len(ref) <= 64) or isinstance(ref, int)
        return
    assert isinstance(msg.topic, str) and msg.topic
    assert isinstance(msg.event, str) and msg.event
    assert isinstance(msg.payload, dict)


@pytest.mark.parametrize("serializer", [V2, V1], ids=["v2", "v1"])
@given(
    join_ref=st.none() | st.text(min_size=1, max_size=64),
    ref=st.none() | st.text(max_size=64),
    topic=st.text(min_size=1, max_size=200),
    event=st.text(min_size=1, max_size=100).filter(lambda e: e != "phx_join"),
    payload=st.dictionaries(st.text(), wire_values, max_size=5),
)
@settings(max_examples=200, deadline=None, database=None)
def test_valid_messages_round_trip(serializer, join_ref, ref, topic, event, payload):
    sent = Message(join_ref, ref, topic, event, payload)
    assert serializer.decode(serializer.encode(join_ref, ref, topic, event, payload)) == sent


@pytest.mark.parametrize("serializer", [V2, V1], ids=["v2", "v1"])
@given(data=st.binary(max_size=300))
@settings(max_examples=200, deadline=None, database=None)
def test_any_binary_frame_is_a_frame_error(serializer, data):
    with pytest.raises(FrameError):
        serializer.decode_binary(data)
