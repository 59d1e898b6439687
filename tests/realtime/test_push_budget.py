"""What spends a user's push budget (coaching/realtime/ratelimit.py) and what does not:
frames that are not messages spend it like any push, and a socket that keeps sending
them is closed; refusals the client cannot help, and resends answered from the store,
give their tokens back. Frames over the cap never reach the parser."""

import json
import time

import pytest
from websockets.exceptions import ConnectionClosed

from coaching.models import ChatMessage
from coaching.realtime import socket

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_socket_that_keeps_sending_frames_that_are_not_messages_is_closed(
    spawn_server, connect, student
):
    server = spawn_server(
        CLIENT_EVENTS_PER_SECOND="5", CLIENT_EVENTS_BURST="5", RATE_LIMIT_CLOSE_SECONDS="2"
    )
    with connect(student, on=server) as client:
        deadline = time.monotonic() + 15
        with pytest.raises(ConnectionClosed):
            while time.monotonic() < deadline:
                client.send("not a frame")
                client.send('[null, "1", "phoenix"]')
                try:
                    client.ws.recv(timeout=0.005)
                except TimeoutError:
                    pass
    assert client.ws.close_code == socket.CLOSE_RATE_LIMITED


def test_a_frame_over_the_cap_closes_the_socket_before_it_is_read(spawn_server, connect, student):
    server = spawn_server(WEBSOCKET_MAX_FRAME_BYTES="4096")
    with connect(student, on=server) as client:
        assert client.heartbeat()["status"] == "ok"
        client.send(json.dumps([None, "2", "phoenix", "heartbeat", {"pad": "x" * 5000}]))
        with pytest.raises(ConnectionClosed):  # dropped, never answered
            client.ws.recv(timeout=5)
    with connect(student, on=server) as other:  # the server itself carries on
        assert other.heartbeat()["status"] == "ok"


def test_broken_frames_are_answered_where_their_ref_can_be_read(connect, student):
    with connect(student) as client:
        client.send('["1", 7, "room:1"]')
        frame = client.expect(lambda f: f[3] == "phx_reply" and f[1] == 7)
        assert frame[2] == "room:1" and frame[4]["response"]["reason"] == "bad_frame"
        client.send('[null, 8, "phoenix", "heartbeat", {"a": ' + "[" * 1100 + "]" * 1100 + "}]")
        deep = client.expect(lambda f: f[3] == "phx_reply" and f[1] == 8)
        assert deep[4]["response"]["reason"] == "bad_frame"
        client.send('[null, 9, "phoenix", "heartbeat", {}]')
        assert client.expect(lambda f: f[1] == 9)[4] == {"status": "ok", "response": {}}


def test_refused_input_and_resends_cost_no_chat_tokens(
    spawn_server, connect, student, active_session
):
    server = spawn_server(CHAT_RATE_PER_SECOND="0.01", CHAT_RATE_BURST="2")
    topic = active_session.topic
    with connect(student, on=server) as client:
        join_ref, _ = client.join_ok(topic)
        for _ in range(5):
            refused = client.call(topic, join_ref, "chat:new", {"message": " \u200b "})
            assert refused["response"]["reason"] == "invalid_input"
        first = client.call(topic, join_ref, "chat:new", {"message": "one", "client_msg_id": "a"})
        for _ in range(5):  # an outbox resending after a reconnect
            again = client.call(
                topic, join_ref, "chat:new", {"message": "one", "client_msg_id": "a"}
            )
            assert again == first
        second = client.call(topic, join_ref, "chat:new", {"message": "two"})
        assert second["status"] == "ok"
        third = client.call(topic, join_ref, "chat:new", {"message": "three"})
        assert third["response"]["reason"] == "rate_limited"
    assert list(ChatMessage.objects.order_by("seq").values_list("message", flat=True)) == [
        "one",
        "two",
    ]
