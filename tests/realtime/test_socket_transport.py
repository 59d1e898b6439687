"""The socket's transport: who may connect, and the Phoenix V2 framing rules."""

import base64
import json
import socket
from datetime import timedelta

import pytest
from autobahn.exception import Disconnected
from django.db import connection
from rest_framework_simplejwt.tokens import AccessToken
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from coaching.models import ChatMessage, SessionEvent
from coaching.realtime.socket import PhoenixSocket
from tests.support import servers
from tests.support.auth import token_for
from tests.support.proxy import TcpProxy


def refused_status(url: str, **kwargs) -> int:
    with pytest.raises(InvalidStatus) as info:
        connect(url, open_timeout=5, legacy=True, **kwargs)
    return info.value.response.status_code


class TestConnect:
    def test_token_param_connects(self, connect, student):
        with connect(student) as client:
            assert client.heartbeat()["status"] == "ok"

    def test_missing_token_is_refused_before_upgrade(self, server):
        assert refused_status(f"{server.socket_url}?vsn=2.0.0") == 403

    def test_invalid_token_is_refused(self, server):
        assert refused_status(f"{server.socket_url}?vsn=2.0.0&token=not-a-jwt") == 403

    def test_expired_token_is_refused(self, server, student):
        token = AccessToken.for_user(student)
        token.set_exp(lifetime=timedelta(seconds=-1))
        assert refused_status(f"{server.socket_url}?vsn=2.0.0&token={token}") == 403

    def test_inactive_user_is_refused(self, server, student):
        token = token_for(student)
        student.is_active = False
        student.save()
        assert refused_status(f"{server.socket_url}?vsn=2.0.0&token={token}") == 403

    def test_unsupported_protocol_version_is_refused(self, server, student):
        url = f"{server.socket_url}?vsn=3.0.0&token={token_for(student)}"
        assert refused_status(url) == 403

    def test_auth_token_subprotocol_connects_and_answers_phoenix_only(self, server, student):
        encoded = base64.b64encode(token_for(student).encode()).decode().rstrip("=")
        ws = connect(
            f"{server.socket_url}?vsn=2.0.0",
            subprotocols=["phoenix", f"base64url.bearer.phx.{encoded}"],
            open_timeout=5,
            legacy=True,
        )
        try:
            assert ws.subprotocol == "phoenix"
            ws.send(json.dumps([None, "1", "phoenix", "heartbeat", {}]))
            assert json.loads(ws.recv(timeout=5))[4]["status"] == "ok"
        finally:
            ws.close()

    def test_cross_origin_browser_is_refused(self, server, student):
        url = f"{server.socket_url}?vsn=2.0.0&token={token_for(student)}"
        assert refused_status(url, origin="http://evil.example") == 403

    def test_same_origin_browser_connects(self, server, connect, student):
        origin = f"http://127.0.0.1:{server.port}"
        with connect(student, origin=origin) as client:
            assert client.heartbeat()["status"] == "ok"

    def test_client_without_origin_connects_by_token_alone(self, connect, student):
        with connect(student) as client:
            assert client.heartbeat()["status"] == "ok"


class TestFraming:
    def test_heartbeat_reply_echoes_ref(self, connect, student):
        with connect(student) as client:
            client.send([None, "abc-17", "phoenix", "heartbeat", {}])
            frame = client.expect(lambda f: f[1] == "abc-17")
            assert frame == [
                None,
                "abc-17",
                "phoenix",
                "phx_reply",
                {"status": "ok", "response": {}},
            ]

    def test_join_reply_echoes_join_ref_and_ref(self, connect, student, active_session):
        with connect(student) as client:
            client.send(["j9", "j9", active_session.topic, "phx_join", {}])
            frame = client.expect(lambda f: f[3] == "phx_reply")
            assert frame[:4] == ["j9", "j9", active_session.topic, "phx_reply"]
            assert frame[4]["status"] == "ok"

    def test_unknown_topic_gets_unmatched_topic_error(self, connect, student):
        with connect(student) as client:
            _, reply = client.join("nope:1")
            assert reply == {"status": "error", "response": {"reason": "unmatched topic"}}

    def test_leave_of_unknown_or_unjoined_topic_is_ok(self, connect, student):
        with connect(student) as client:
            ref = client.push("nope:1", "phx_leave", {}, "42")
            assert client.reply(ref)["status"] == "ok"

    def test_leave_replies_ok_then_closes_with_join_ref(self, connect, student, active_session):
        with connect(student) as client:
            join_ref, _ = client.join_ok(active_session.topic)
            ref = client.push(active_session.topic, "phx_leave", {}, join_ref)
            assert client.reply(ref)["status"] == "ok"
            close = client.expect(lambda f: f[3] == "phx_close")
            assert close == [join_ref, join_ref, active_session.topic, "phx_close", {}]
            # No longer joined: pushes are refused.
            reply = client.call(active_session.topic, join_ref, "chat:new", {"message": "hi"})
            assert reply == {"status": "error", "response": {"reason": "not_joined"}}

    def test_duplicate_join_closes_old_join_then_joins_again(
        self, connect, student, active_session
    ):
        with connect(student) as client:
            first, _ = client.join_ok(active_session.topic)
            second, reply = client.join_ok(active_session.topic)
            assert reply["session"]["session_id"] == active_session.session_id
            close = client.expect(lambda f: f[3] == "phx_close")
            assert close[:3] == [first, first, active_session.topic]
            ok = client.call(active_session.topic, second, "chat:new", {"message": "after"})
            assert ok["status"] == "ok"
            stale = client.call(active_session.topic, first, "chat:new", {"message": "stale"})
            assert stale["response"]["reason"] == "not_joined"

    def test_several_topics_on_one_socket(self, connect, student, make_user, coach):
        from coaching.models import CoachingSession

        one = CoachingSession.objects.create(student=student, coach=coach, status="active")
        two = CoachingSession.objects.create(student=student, coach=coach, status="active")
        with connect(student) as client:
            ref_one, _ = client.join_ok(one.topic)
            ref_two, _ = client.join_ok(two.topic)
            assert client.call(two.topic, ref_two, "chat:new", {"message": "two"})["status"] == "ok"
            assert client.call(one.topic, ref_one, "chat:new", {"message": "one"})["status"] == "ok"
            two_msg = client.event(two.topic, "chat:added")
            one_msg = client.event(one.topic, "chat:added")
            assert (one_msg["message"], two_msg["message"]) == ("one", "two")

    def test_push_replies_carry_the_callers_refs(self, connect, student, active_session):
        with connect(student) as client:
            join_ref, _ = client.join_ok(active_session.topic)
            client.send([join_ref, "r-77", active_session.topic, "chat:new", {"message": "x"}])
            frame = client.expect(lambda f: f[1] == "r-77")
            assert frame[0] == join_ref and frame[3] == "phx_reply"


class TestBadInput:
    """Every bad frame gets a clear answer (or is dropped) and nothing else breaks."""

    @pytest.mark.parametrize(
        "frame",
        [
            "not json",
            "{}",
            '"a string"',
            "[1, 2, 3]",
            '[null, "5", "", "phx_join", {}]',
            '[null, "5", "phoenix", "heartbeat", []]',
            '[null, {"x": 1}, "phoenix", "heartbeat", {}]',
            "[" * 5000 + "]" * 5000,
        ],
    )
    def test_malformed_frames_keep_the_socket_working(self, connect, student, frame):
        with connect(student) as client:
            client.send(frame)
            assert client.heartbeat()["status"] == "ok"

    def test_malformed_frame_with_a_readable_ref_gets_an_error_reply(self, connect, student):
        with connect(student) as client:
            client.send('[null, "5", "phoenix", "heartbeat", [1]]')
            reply = client.reply("5")
            assert reply["status"] == "error"
            assert reply["response"]["reason"] == "bad_frame"

    def test_unknown_event_gets_error_reply(self, connect, student, active_session):
        with connect(student) as client:
            join_ref, _ = client.join_ok(active_session.topic)
            reply = client.call(active_session.topic, join_ref, "chat:explode", {})
            assert reply["status"] == "error"
            assert reply["response"]["reason"] == "unknown_event"
            assert client.heartbeat()["status"] == "ok"

    def test_push_to_a_topic_not_joined_gets_error_reply(self, connect, student, active_session):
        with connect(student) as client:
            reply = client.call(active_session.topic, "99", "chat:new", {"message": "hi"})
            assert reply["response"]["reason"] == "not_joined"
        assert not ChatMessage.objects.exists()

    @pytest.mark.parametrize(
        ("payload", "field"),
        [
            ({}, "message"),
            ({"message": None}, "message"),
            ({"message": 42}, "message"),
            ({"message": ["hi"]}, "message"),
            ({"message": "   \n\t "}, "message"),
            ({"message": "x" * 2001}, "message"),
            ({"message": "ok", "client_msg_id": 5}, "client_msg_id"),
            ({"message": "ok", "client_msg_id": "y" * 65}, "client_msg_id"),
        ],
    )
    def test_invalid_chat_is_refused_naming_the_field_and_nothing_is_written(
        self, connect, student, active_session, payload, field
    ):
        with connect(student) as client:
            join_ref, _ = client.join_ok(active_session.topic)
            reply = client.call(active_session.topic, join_ref, "chat:new", payload)
            assert reply["status"] == "error"
            assert reply["response"]["reason"] == "invalid_input"
            assert reply["response"]["field"] == field
            assert reply["response"]["message"]
        assert not ChatMessage.objects.exists()

    def test_chat_of_exactly_2000_characters_after_trimming_is_accepted(
        self, connect, student, active_session
    ):
        with connect(student) as client:
            join_ref, _ = client.join_ok(active_session.topic)
            text = "  " + "x" * 2000 + "  "
            reply = client.call(active_session.topic, join_ref, "chat:new", {"message": text})
            assert reply["status"] == "ok"
            assert reply["response"]["message"]["message"] == "x" * 2000

    def test_wrong_types_in_control_are_refused(self, connect, coach, active_session):
        with connect(coach) as client:
            join_ref, _ = client.join_ok(active_session.topic)
            reply = client.call(active_session.topic, join_ref, "session:control", {"status": 1})
            assert reply["response"] == {
                "reason": "invalid_input",
                "field": "status",
                "message": "status must be a string.",
            }
            reply = client.call(
                active_session.topic, join_ref, "session:control", {"status": "flying"}
            )
            assert reply["response"]["reason"] == "invalid_input"
        assert not SessionEvent.objects.filter(event="session:state").exists()

    def test_bad_input_on_one_socket_does_not_disturb_another(
        self, connect, student, coach, active_session
    ):
        with connect(student) as bad, connect(coach) as good:
            good_ref, _ = good.join_ok(active_session.topic)
            bad_ref, _ = bad.join_ok(active_session.topic)
            for frame in [
                "garbage",
                "[1]",
                json.dumps([bad_ref, "1", active_session.topic, "chat:new", {"message": 5}]),
            ]:
                bad.send(frame)
            reply = good.call(active_session.topic, good_ref, "chat:new", {"message": "still"})
            assert reply["status"] == "ok"
            assert bad.event(active_session.topic, "chat:added")["message"] == "still"


class TestHandshakeChecks:
    def test_an_https_origin_is_refused_by_a_plain_http_server(self, server, student):
        url = f"{server.socket_url}?vsn=2.0.0&token={token_for(student)}"
        assert refused_status(url, origin=f"https://127.0.0.1:{server.port}") == 403

    def test_a_host_outside_allowed_hosts_is_refused(self, server, student):
        assert upgrade_status(server, student, host="evil.example") == 403

    def test_an_allowed_host_with_its_port_connects(self, server, student):
        assert upgrade_status(server, student, host=f"localhost:{server.port}") == 101


def upgrade_status(server, user, *, host: str) -> int:
    """The status of a raw upgrade request with exactly this Host header."""
    request = (
        f"GET /socket/websocket?vsn=2.0.0&token={token_for(user)} HTTP/1.1\r\n"
        f"Host: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as conn:
        conn.sendall(request.encode())
        return int(conn.recv(1024).split(b" ", 2)[1])


class TestFrameFaults:
    def test_an_invalid_join_ref_with_a_readable_ref_gets_bad_frame(self, connect, student):
        with connect(student) as client:
            client.send('[{"bad": 1}, "7", "phoenix", "heartbeat", {}]')
            reply = client.reply("7")
            assert reply["status"] == "error"
            assert reply["response"]["reason"] == "bad_frame"
            assert "join_ref" in reply["response"]["message"]

    def test_a_binary_push_is_answered_bad_frame_through_its_ref(
        self, connect, student, active_session
    ):
        topic = active_session.topic.encode()
        with connect(student) as client:
            join_ref, _ = client.join_ok(active_session.topic)
            # Phoenix's binary push: kind 0, sizes of join_ref, ref, topic, event; then data.
            header = bytes([0, len(join_ref), 2, len(topic), 8])
            client.ws.send(header + join_ref.encode() + b"b1" + topic + b"chat:new" + b"\x01\x02")
            reply = client.reply("b1")
            assert reply["status"] == "error"
            assert reply["response"]["reason"] == "bad_frame"
        assert not ChatMessage.objects.exists()

    @pytest.mark.parametrize("data", [b"", b"\x00", b"\xff\x01\x02", b"\x00\x01\x05\x00\x00ab"])
    def test_other_binary_frames_are_dropped_and_the_socket_keeps_working(
        self, connect, student, data
    ):
        with connect(student) as client:
            client.ws.send(data)
            assert client.heartbeat()["status"] == "ok"
            assert client.inbox == []


class TestPhoenixV1:
    """vsn=1.0.0: JSON object frames, as the npm phoenix-channels/phoenix-socket clients send."""

    def v1(self, server, user, **query: str):
        params = "&".join(f"{k}={v}" for k, v in {"token": token_for(user), **query}.items())
        return connect(f"{server.socket_url}?{params}", open_timeout=5, legacy=True)

    def test_v1_frames_join_push_and_receive_broadcasts(self, server, student, active_session):
        topic = active_session.topic
        with self.v1(server, student, vsn="1.0.0") as ws:
            ws.send(json.dumps({"topic": topic, "event": "phx_join", "payload": {}, "ref": "1"}))
            reply = json.loads(ws.recv(timeout=5))
            assert reply["event"] == "phx_reply" and reply["ref"] == "1"
            assert reply["payload"]["status"] == "ok"
            ws.send(
                json.dumps(
                    {"topic": topic, "event": "chat:new", "payload": {"message": "v1"}, "ref": "2"}
                )
            )
            by_event: dict[str, dict] = {}
            while "chat:added" not in by_event or "phx_reply" not in by_event:
                frame = json.loads(ws.recv(timeout=5))
                by_event[frame["event"]] = frame
            assert by_event["phx_reply"]["ref"] == "2"
            assert by_event["phx_reply"]["payload"]["status"] == "ok"
            assert by_event["chat:added"]["payload"]["message"] == "v1"
            assert by_event["chat:added"]["topic"] == topic

    def test_v1_is_the_version_when_none_is_given_as_in_phoenix(self, server, student):
        with self.v1(server, student) as ws:
            ws.send(
                json.dumps({"topic": "phoenix", "event": "heartbeat", "payload": {}, "ref": "h"})
            )
            reply = json.loads(ws.recv(timeout=5))
            assert reply == {
                "topic": "phoenix",
                "event": "phx_reply",
                "payload": {"status": "ok", "response": {}},
                "ref": "h",
                "join_ref": None,
            }

    def test_v1_and_v2_sockets_get_the_same_broadcast_each_in_its_own_version(
        self, server, connect, student, coach, active_session
    ):
        topic = active_session.topic
        with self.v1(server, coach, vsn="1.0.0") as ws, connect(student) as v2:
            ws.send(json.dumps({"topic": topic, "event": "phx_join", "payload": {}, "ref": "1"}))
            assert json.loads(ws.recv(timeout=5))["payload"]["status"] == "ok"
            join_ref, _ = v2.join_ok(topic)
            assert v2.call(topic, join_ref, "chat:new", {"message": "both"})["status"] == "ok"
            assert v2.event(topic, "chat:added")["message"] == "both"
            while True:
                frame = json.loads(ws.recv(timeout=5))
                if frame["event"] == "chat:added":
                    break
            assert frame["payload"]["message"] == "both"

    def test_a_malformed_v1_frame_with_a_ref_gets_bad_frame(self, server, student):
        with self.v1(server, student, vsn="1.0.0") as ws:
            ws.send(
                json.dumps({"topic": "phoenix", "event": "heartbeat", "payload": [], "ref": "9"})
            )
            reply = json.loads(ws.recv(timeout=5))
            assert reply["ref"] == "9"
            assert reply["payload"]["response"]["reason"] == "bad_frame"


class TestDatabaseOutage:
    def test_pushes_and_joins_get_a_retryable_unavailable_and_one_log_line(
        self, spawn_server, connect, student, active_session
    ):
        db = connection.settings_dict
        port = int(db.get("PORT") or 5432)
        proxy = TcpProxy(port, db.get("HOST") or "127.0.0.1")
        try:
            url = servers.test_database_url().replace(f":{port}/", f":{proxy.port}/")
            server = spawn_server(DATABASE_URL=url, OUTAGE_LOG_INTERVAL="60")
            topic = active_session.topic
            with connect(student, on=server) as client:
                join_ref, _ = client.join_ok(topic)
                proxy.outage()
                for i in range(5):
                    reply = client.call(topic, join_ref, "chat:new", {"message": f"lost {i}"})
                    assert reply["status"] == "error"
                    assert reply["response"]["reason"] == "unavailable"
                    assert reply["response"]["retry_after_ms"] == 2000
                    assert reply["response"]["message"]
                _, rejoin = client.join(topic)
                assert rejoin["response"]["reason"] == "unavailable"
                proxy.restore()
                join_ref, _ = client.join_ok(topic)
                reply = client.call(topic, join_ref, "chat:new", {"message": "back"})
                assert reply["status"] == "ok"
            log = server.log_path.read_text()
            assert log.count("database unavailable in socket chat:new") == 1
            assert log.count("database unavailable in socket join") == 1
            assert "Traceback" not in log
            assert list(ChatMessage.objects.values_list("message", flat=True)) == ["back"]
        finally:
            proxy.close()


class TestClientGone:
    async def test_a_send_racing_the_clients_disconnect_is_not_an_error(self):
        # daphne raises this when a frame is sent after the client closed but before
        # the consumer has read the disconnect.
        socket = PhoenixSocket()

        async def gone(message: dict) -> None:
            raise Disconnected("Attempt to send on a closed protocol")

        socket.base_send = gone
        await socket.send_text('[null,null,"session:x","chat:added",{}]')
        assert socket.closed  # nothing more is tried; the disconnect ends the joins
