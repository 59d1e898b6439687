"""Reading the deploy topology (tests/deploy/conftest.py starts it): requests through
nginx, from a chosen client address, and the app processes' own counts."""

import http.client
import json
import re
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import Message

from inswing_realtime.cluster import Nginx
from tests.support.servers import ServerProcess


@dataclass
class Front:
    """nginx on one port in front of the app processes."""

    nginx: Nginx
    apps: list[ServerProcess]

    @property
    def url(self) -> str:
        return self.nginx.url

    @property
    def socket_url(self) -> str:
        scheme = "wss" if self.nginx.tls_certificate else "ws"
        return f"{scheme}://127.0.0.1:{self.nginx.port}/socket/websocket"

    def log_lines(self, containing: str = "", at_least: int = 0) -> list[str]:
        """nginx's access log lines (those `containing`), once there are `at_least`: nginx
        writes a request's line just after its response, which the test may read first."""
        deadline = time.monotonic() + 5
        while True:
            lines = [
                line
                for line in self.nginx.access_log.read_text().splitlines()
                if containing in line
            ]
            if len(lines) >= at_least or time.monotonic() > deadline:
                return lines
            time.sleep(0.02)


def unverified() -> ssl.SSLContext:
    """For the tests' self-signed certificate."""
    return ssl._create_unverified_context()


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, Message, bytes]:
    """(status, headers, body) of GET `url`, error statuses included; no http_proxy."""
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=unverified())
    )
    try:
        with opener.open(urllib.request.Request(url, headers=headers or {}), timeout=10) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def post_json(front: Front, path: str, payload: dict, headers: dict[str, str]) -> int:
    """The status of POST `path` through nginx with a JSON body."""
    conn = http.client.HTTPConnection("127.0.0.1", front.nginx.port, timeout=10)
    try:
        conn.request(
            "POST", path, json.dumps(payload), {"content-type": "application/json", **headers}
        )
        return conn.getresponse().status
    finally:
        conn.close()


def login_status(front: Front, source: str, forwarded_for: str | None = None) -> int:
    """The status of a (wrong) password login through nginx from the address `source`
    (any of 127/8 is this machine's), with the client's own X-Forwarded-For if given."""
    conn = http.client.HTTPConnection(
        "127.0.0.1", front.nginx.port, timeout=10, source_address=(source, 0)
    )
    headers = {"content-type": "application/json"}
    if forwarded_for:
        headers["X-Forwarded-For"] = forwarded_for
    body = json.dumps({"username": "nobody", "password": "not-the-password"})
    try:
        conn.request("POST", "/api/auth/token/", body=body, headers=headers)
        return conn.getresponse().status
    finally:
        conn.close()


def sockets_open(app: ServerProcess) -> int:
    """The process's open sockets, from its /metrics (read directly, from loopback)."""
    status, _, body = get(f"{app.http_url}/metrics")
    assert status == 200, body
    return int(float(re.search(rb"^inswing_sockets_open (\S+)$", body, re.M).group(1)))


def wait_ready(front: Front, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while get(f"{front.url}/readyz")[0] != 200:
        assert time.monotonic() < deadline, "no process got ready behind nginx"
        time.sleep(0.1)
