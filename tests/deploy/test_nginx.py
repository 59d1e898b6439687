"""One address: nginx (deploy/nginx/) in front of two app processes passes HTTP and the
socket, serves the static files itself, answers the probes unlogged, keeps /metrics
inside, routes around a process that is down, and forwards the client's address and
scheme, which the app trusts exactly as far as NUM_PROXIES says."""

import datetime
import ipaddress
import re
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as ws_connect

from tests.deploy.topology import (
    Front,
    get,
    login_status,
    post_json,
    sockets_open,
    unverified,
)
from tests.support.auth import token_for
from tests.support.phoenix import PhoenixClient

ROOT = Path(__file__).resolve().parents[2]


def connect_through(front: Front, user, opened: list[PhoenixClient]) -> tuple[PhoenixClient, int]:
    """A socket of `user`'s opened through nginx, and the index of the app process that
    got it (the one whose open sockets went up)."""
    running = [i for i, app in enumerate(front.apps) if app.proc is not None]
    before = {i: sockets_open(front.apps[i]) for i in running}
    client = PhoenixClient(front.socket_url, token_for(user))
    opened.append(client)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        grown = [i for i in running if sockets_open(front.apps[i]) > before[i]]
        if grown:
            return client, grown[0]
        time.sleep(0.05)
    raise AssertionError("no app process counts the new socket")


def upstreams(log_line: str) -> list[str]:
    """The app processes nginx tried for a request, in order (its access log's line)."""
    return re.search(r" upstream=(.*?) upstream_status=", log_line).group(1).split(", ")


@pytest.fixture
def opened():
    clients: list[PhoenixClient] = []
    yield clients
    for client in clients:
        client.close()


def test_socket_join_and_chat_through_nginx_reach_a_client_on_the_other_process(
    through, opened, student, coach, active_session
):
    topic = active_session.topic
    s, s_app = connect_through(through, student, opened)
    for _ in range(4):  # round robin: the next socket goes to the other process
        c, c_app = connect_through(through, coach, opened)
        if c_app != s_app:
            break
    assert c_app != s_app, "nginx sent every socket to one process"

    s_ref, _ = s.join_ok(topic)
    c_ref, _ = c.join_ok(topic)
    s.call(topic, s_ref, "chat:new", {"message": "through nginx, process one"})
    assert c.event(topic, "chat:added")["message"] == "through nginx, process one"
    c.call(topic, c_ref, "chat:new", {"message": "and back"})
    assert (
        s.event(topic, "chat:added", where=lambda m: m["sender"]["role"] == "coach")["message"]
        == "and back"
    )
    assert s.heartbeat()["status"] == "ok"


def test_the_http_api_through_nginx(through, opened, student, active_session):
    bearer = {"Authorization": f"Bearer {token_for(student)}"}
    path = f"/api/sessions/{active_session.session_id}/"
    status, headers, body = get(f"{through.url}{path}", bearer)
    assert status == 200, body
    assert active_session.session_id in body.decode()
    # nginx's request id reached the app (which answers with it) and nginx's log.
    line = through.log_lines(f"GET {path} ", at_least=1)[-1]
    assert line.endswith(f"id={headers['X-Request-ID']}")
    assert upstreams(line)[0].startswith("127.0.0.1:")

    # A POST with a body, reaching a socket open through nginx.
    s, _ = connect_through(through, student, opened)
    s.join_ok(active_session.topic)
    conn_status = post_json(
        through,
        f"/api/sessions/{active_session.session_id}/messages/",
        {"message": "by REST"},
        bearer,
    )
    assert conn_status == 201
    assert s.event(active_session.topic, "chat:added")["message"] == "by REST"


def test_static_files_are_served_by_nginx_not_the_app(front):
    status, headers, body = get(f"{front.url}/static/coaching/app.css")
    assert status == 200
    assert body == (ROOT / "static/coaching/app.css").read_bytes()
    assert headers["Content-Type"].startswith("text/css")
    line = front.log_lines('"GET /static/coaching/app.css', at_least=1)[-1]
    assert upstreams(line) == ["-"]  # no app process was asked
    status, headers, _ = get(f"{front.url}/static/vendor/phoenix/phoenix.mjs")
    assert (status, headers["Content-Type"]) == (200, "application/javascript")
    assert get(f"{front.url}/static/coaching/no-such-file.css")[0] == 404


def test_probes_pass_unlogged_and_metrics_stay_inside(front):
    status, _, body = get(f"{front.url}/readyz")
    assert (status, body) == (200, b'{"status": "ok"}')
    assert get(f"{front.url}/healthz")[0] == 200
    # Per process, for Prometheus on the inside: nginx does not pass it on, whoever asks.
    assert get(f"{front.url}/metrics")[0] == 404
    assert get(f"{front.url}/metrics", {"X-Forwarded-For": "127.0.0.1"})[0] == 404
    assert get(f"{front.apps[0].http_url}/metrics")[0] == 200
    get(f"{front.url}/login/")
    assert front.log_lines('"GET /login/ HTTP/1.1" 200', at_least=1)  # written by now
    lines = front.log_lines()
    assert not [line for line in lines if "/readyz" in line or "/healthz" in line]


def test_a_process_that_is_down_gets_no_requests(through, opened, student, active_session):
    bearer = {"Authorization": f"Bearer {token_for(student)}"}
    url = f"{through.url}/api/sessions/{active_session.session_id}/"
    down, up = through.apps
    down.kill()  # the `front` fixture starts it again for the next test
    # nginx finds it refusing connections, passes each request on to the other process,
    # and then leaves it out: nothing fails.
    assert [get(url, bearer)[0] for _ in range(6)] == [200] * 6
    assert get(f"{through.url}/readyz")[0] == 200
    _, on = connect_through(through, student, opened)
    assert through.apps[on] is up
    lines = through.log_lines(f"GET /api/sessions/{active_session.session_id}/ ", at_least=6)
    tried = [upstreams(line) for line in lines[-6:]]
    # Each ended on the live one; the dead one was tried once at most (then left out).
    assert all(addresses[-1] == f"127.0.0.1:{up.port}" for addresses in tried), tried
    assert sum(addresses.count(f"127.0.0.1:{down.port}") for addresses in tried) <= 1, tried


def test_num_proxies_1_the_app_sees_the_address_nginx_forwarded(front):
    # 127.0.0.3 and .4 are two clients; nginx reaches the app from 127.0.0.1.
    assert login_status(front, "127.0.0.3") != 429
    # The client's own X-Forwarded-For entry is not believed: still 127.0.0.3, refused.
    assert login_status(front, "127.0.0.3", forwarded_for="203.0.113.9") == 429
    # Another client has a budget of its own: the app took nginx's entry, not its peer.
    assert login_status(front, "127.0.0.4") != 429
    # The process's scope sees it too: a request straight to it whose (one) proxy entry
    # says 203.0.113.9 is from outside, and /metrics refuses it.
    app = front.apps[0].http_url
    assert get(f"{app}/metrics", {"X-Forwarded-For": "203.0.113.9"})[0] == 403


def test_num_proxies_0_the_app_sees_its_peer(start_front):
    front = start_front(0)
    assert login_status(front, "127.0.0.5") != 429
    # Another client, but the app believes no header: both are nginx (127.0.0.1) to it.
    assert login_status(front, "127.0.0.6") == 429
    app = front.apps[0].http_url
    assert get(f"{app}/metrics", {"X-Forwarded-For": "203.0.113.9"})[0] == 200


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1: (certificate file, key file)."""
    home = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = home / "cert.pem", home / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


def test_tls_on_the_same_port_and_the_app_knows_the_page_is_https(
    start_front, front, certificate, transactional_db, student
):
    tls = start_front(apps=front.apps, tls=certificate)
    assert tls.url.startswith("https://")
    assert get(f"{tls.url}/readyz")[0] == 200
    url = f"{tls.socket_url}?vsn=2.0.0&token={token_for(student)}"
    # The page's own origin is https: the app took the scheme from X-Forwarded-Proto.
    with ws_connect(
        url, ssl=unverified(), additional_headers={"Origin": tls.url}, open_timeout=5
    ) as ws:
        ws.send('[null, "1", "phoenix", "heartbeat", {}]')
        assert '"status":"ok"' in ws.recv(timeout=5).replace(" ", "")
    # A plain-http page is another origin, refused before the upgrade.
    with pytest.raises(InvalidStatus) as refused:
        ws_connect(
            url,
            ssl=unverified(),
            additional_headers={"Origin": tls.url.replace("https", "http")},
            open_timeout=5,
        )
    assert refused.value.response.status_code == 403
