"""While the database is down REST says so (503, retryable) and logs it once, not per request;
and every refused request is logged once."""

import json
import urllib.error
import urllib.request

from tests.support.auth import token_for
from tests.support.servers import ServerProcess, free_port
from tests.support.waiting import wait_until


def http_get(server: ServerProcess, path: str, token: str | None = None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(f"{server.http_url}{path}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def wait_for_log(server: ServerProcess, text: str) -> str:
    """The server's log once `text` is in it."""
    return wait_until(
        f"{text!r} in the server's log", server.log_path.read_text, until=lambda log: text in log
    )


def test_rest_answers_503_with_retry_after_and_logs_one_line_while_the_database_is_down(
    spawn_server, student
):
    token = token_for(student)
    nothing_listens = f"postgres://postgres@127.0.0.1:{free_port()}/inswing"
    server = spawn_server(DATABASE_URL=nothing_listens, OUTAGE_LOG_INTERVAL="60")
    for _ in range(5):
        status, headers, body = http_get(server, "/api/sessions/", token)
        assert status == 503
        assert headers["Retry-After"] == "2"
        assert body["error"]["code"] == "unavailable"
        assert body["error"]["message"]
    log = wait_for_log(server, "database unavailable")
    assert log.count("database unavailable") == 1
    assert "Traceback" not in log
    assert "Service Unavailable" not in log


def test_a_refused_request_is_logged_once(spawn_server):
    server = spawn_server(DEBUG="1", LOG_LEVEL="WARNING")
    status, _, _ = http_get(server, "/api/sessions/")
    assert status == 401
    # The log is written in order: once a later request's line is in it, a second line
    # for the first would be too.
    assert http_get(server, "/api/no-such-thing/")[0] == 404
    log = wait_for_log(server, "Not Found: /api/no-such-thing/")
    assert log.count("Unauthorized: /api/sessions/") == 1
