"""`LOG_FORMAT=json`: every line a server writes is one JSON object, REST lines carry
their request id, sockets log their opening and closing with duration and close code,
and no line carries a chat text, a token or a password."""

import json
import urllib.error
import urllib.request

import pytest

from tests.conftest import PASSWORD
from tests.support.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

SECRET_LINE = "the-secret-chat-line-5d1f"


def request(server, path: str, body: dict | None = None, headers: dict | None = None):
    data = json.dumps(body).encode() if body is not None else None
    headers = {"content-type": "application/json", **(headers or {})}
    req = urllib.request.Request(f"{server.http_url}{path}", data=data, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def test_json_lines_with_context_and_nothing_secret(spawn_server, connect, student, active_session):
    server = spawn_server(LOG_FORMAT="json", LOG_LEVEL="INFO")
    status, _, tokens = request(
        server, "/api/auth/token/", {"username": student.username, "password": PASSWORD}
    )
    assert status == 200
    auth = {"Authorization": f"Bearer {tokens['access']}"}
    status, headers, _ = request(server, "/api/sessions/nope/", headers=auth)
    assert status == 404
    request_id = headers["X-Request-Id"]  # as daphne spells it
    with connect(student, on=server, token=tokens["access"]) as client:
        join_ref, _ = client.join_ok(active_session.topic)
        reply = client.call(active_session.topic, join_ref, "chat:new", {"message": SECRET_LINE})
        assert reply["status"] == "ok"

    def lines() -> list[dict]:
        return [json.loads(line) for line in server.log_path.read_text().splitlines() if line]

    closed = wait_until(
        "the socket's closing line",
        lines,
        until=lambda entries: any(e["message"] == "socket closed" for e in entries),
    )
    for entry in closed:
        assert {"ts", "level", "logger", "message"} <= set(entry)
    text = server.log_path.read_text()
    for secret in (SECRET_LINE, tokens["access"], tokens["refresh"], PASSWORD):
        assert secret not in text
    access = [e for e in closed if e["logger"] == "access"]
    assert {"message": "GET /api/sessions/nope/", "status": 404} in [
        {"message": e["message"], "status": e["status"]} for e in access
    ]
    assert any(e.get("request_id") == request_id for e in closed if e["logger"] != "access")
    [opened] = [e for e in closed if e["message"] == "socket opened"]
    [shut] = [e for e in closed if e["message"] == "socket closed"]
    assert opened["user_id"] == shut["user_id"] == student.pk
    assert shut["socket_id"] == opened["socket_id"]
    assert shut["duration_ms"] >= 0 and shut["code"] == 1000
