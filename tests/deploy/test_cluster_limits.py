"""A user's limits hold across the cluster (issue 16, item 6), on real processes: two app
processes behind nginx on PostgreSQL and Redis. A user's pushes on both processes count
together; their 21st socket is refused with HTTP 429 before the upgrade, wherever it
connects; a crashed process's sockets stop counting; with Redis stopped (a private
redis-server) each process limits on its own and says so once, and once Redis is back
the limits are cluster-wide again."""

import itertools
import json
import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from websockets.exceptions import InvalidStatus

from coaching.realtime.socket import TOO_MANY_SOCKETS
from tests.deploy.topology import Front, get
from tests.support.auth import token_for
from tests.support.faults import RedisServer
from tests.support.phoenix import PhoenixClient
from tests.support.servers import (
    ROOT,
    ServerProcess,
    free_port,
    server_env,
    wait_for_quiet_database,
)
from tests.support.waiting import wait_until

# Ten chat lines per user, refilled too slowly to matter: exact counts.
TIGHT = {"CHAT_RATE_PER_SECOND": "0.0001", "CHAT_RATE_BURST": "10"}
# Socket slots renewed every 0.5 s, expiring after 2 s (the defaults: 5 s, 20 s).
FAST_LIVENESS = {"PRESENCE_HEARTBEAT": "0.5", "PRESENCE_NODE_TTL": "2"}
DOWN_LINE = "limits: Redis is unavailable"
# phoenix.js 1.8.16's default reconnect backoff (socket.js `reconnectAfterMs`).
PHOENIX_RECONNECT_MS = [10, 50, 100, 150, 200, 250, 500, 1000, 2000]
BACK_LINE = "limits: Redis answers again"


def start_apps(home: Path, django_db_blocker, **env: str) -> list[ServerProcess]:
    with django_db_blocker.unblock():
        environment = server_env(
            NUM_PROXIES="1",
            REALTIME_PREFIX=f"{settings.REALTIME_PREFIX}-limits-{uuid.uuid4().hex[:8]}",
            **TIGHT,
            **FAST_LIVENESS,
            **env,
        )
    apps = []
    for _ in range(2):
        port = free_port()
        apps.append(ServerProcess(port, environment, home / f"app-{port}.log").start())
    return apps


@pytest.fixture(scope="module")
def limited(start_front, deploy_redis_url, django_db_blocker, tmp_path_factory) -> Iterator[Front]:
    """nginx in front of two app processes with TIGHT chat limits on the run's Redis."""
    apps = start_apps(
        tmp_path_factory.mktemp("limits"), django_db_blocker, REDIS_URL=deploy_redis_url
    )
    try:
        yield start_front(1, apps=apps)
    finally:
        for app in apps:
            app.stop()


@pytest.fixture
def cluster(limited, transactional_db) -> Iterator[Front]:
    """`limited`, both processes running, for a test whose rows they must see."""
    for app in limited.apps:
        if app.proc is None or app.proc.poll() is not None:
            app.start()
    yield limited
    wait_for_quiet_database()


def chat_outcomes(client: PhoenixClient, topic: str, join_ref: str, lines: int) -> list[str]:
    """Push `lines` chat lines, then read each one's outcome: `ok` or the error reason."""
    refs = [
        client.push(
            topic, "chat:new", {"message": f"line {n}", "client_msg_id": uuid.uuid4().hex}, join_ref
        )
        for n in range(lines)
    ]
    outcomes = []
    for ref in refs:
        reply = client.reply(ref, timeout=10)
        outcomes.append("ok" if reply["status"] == "ok" else reply["response"]["reason"])
    return outcomes


def refusal(url: str, user) -> InvalidStatus:
    with pytest.raises(InvalidStatus) as refused:
        PhoenixClient(url, token_for(user)).close()
    return refused.value


def test_a_users_pushes_on_two_processes_are_limited_together(cluster, student, active_session):
    topic = active_session.topic
    token = token_for(student)
    with (
        PhoenixClient(cluster.apps[0].socket_url, token) as one,
        PhoenixClient(cluster.apps[1].socket_url, token) as two,
    ):
        joins = [client.join_ok(topic)[0] for client in (one, two)]
        outcomes = [
            *chat_outcomes(one, topic, joins[0], 10),
            *chat_outcomes(two, topic, joins[1], 10),
        ]
    # One bucket of ten for the user, not ten on each process.
    assert outcomes.count("ok") == 10 and outcomes.count("rate_limited") == 10, outcomes


def test_the_21st_socket_is_refused_with_429_before_the_upgrade(cluster, student):
    token = token_for(student)
    opened = [
        PhoenixClient(cluster.apps[i % 2].socket_url, token)
        for i in range(settings.MAX_SOCKETS_PER_USER)
    ]
    try:
        for url in (cluster.apps[0].socket_url, cluster.apps[1].socket_url, cluster.socket_url):
            refused = refusal(url, student).response
            assert refused.status_code == 429, url
            assert refused.headers["content-type"] == "application/json"
            assert json.loads(refused.body) == {"error": TOO_MANY_SOCKETS}
        assert any(" 429 " in line for line in cluster.log_lines("/socket/websocket"))
        assert sum(refused_connects(app) for app in cluster.apps) >= 3
        # Closing one on one process frees a slot for a connect on the other.
        opened.pop(1).close()
        again = wait_until(
            "a connect to be let in once a socket closed",
            lambda: connect_or_none(cluster.apps[0].socket_url, student),
            wait=5,
        )
        opened.append(again)
        assert refusal(cluster.apps[1].socket_url, student).response.status_code == 429
    finally:
        for client in opened:
            client.close()


def refused_connects(app: ServerProcess) -> float:
    """The process's connects refused for too many sockets, from its /metrics."""
    status, _, body = get(f"{app.http_url}/metrics")
    assert status == 200, body
    found = re.search(rb'^inswing_rate_limited_total\{kind="sockets"\} (\S+)$', body, re.M)
    return float(found.group(1)) if found else 0.0


def connect_or_none(url: str, user) -> PhoenixClient | None:
    try:
        return PhoenixClient(url, token_for(user))
    except InvalidStatus as exc:
        assert exc.response.status_code == 429
        return None


def test_phoenix_js_refused_retries_on_its_backoff_and_gets_in_once_a_socket_closes(
    cluster, student
):
    node = shutil.which("node")
    if node is None or not (ROOT / "node_modules/phoenix/package.json").exists():
        pytest.skip("node or node_modules/phoenix is missing")
    token = token_for(student)
    opened = [
        PhoenixClient(cluster.apps[i % 2].socket_url, token)
        for i in range(settings.MAX_SOCKETS_PER_USER)
    ]
    config = {
        "endpoint": cluster.socket_url.removesuffix("/websocket"),  # phoenix.js adds it
        "token": token,
        "deadline_ms": 20_000,
    }
    script = Path(__file__).parent / "js" / "phoenix_over_limit.mjs"
    proc = subprocess.Popen(
        [node, str(script)],
        cwd=ROOT,
        env={**os.environ, "PHX_OVER_LIMIT": json.dumps(config)},
        stdout=subprocess.PIPE,
        text=True,
    )
    records: list[dict] = []
    try:
        # The script ends by its deadline: these reads are bounded.
        while sum("error" in r for r in records) < 4 and not (records and "done" in records[-1]):
            records.append(json.loads(proc.stdout.readline()))
        opened.pop().close()
        closed_at = records[-1]["t"]
        while "done" not in records[-1]:
            records.append(json.loads(proc.stdout.readline()))
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
        for client in opened:
            client.close()
    errors = [r["error"] for r in records if "error" in r]
    assert errors and all("429" in e for e in errors), records
    # Tried again on its own backoff, not in a storm, and in once a slot was free.
    attempts = [r["t"] for r in records if "attempt" in r]
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    assert all(gap >= ms - 5 for gap, ms in zip(gaps, PHOENIX_RECONNECT_MS, strict=False)), gaps
    assert [r for r in records if "opened" in r and r["t"] > closed_at], records
    assert not any(r.get("timed_out") for r in records), records


def test_a_crashed_processs_sockets_stop_counting(cluster, student):
    token = token_for(student)
    survivor, doomed = cluster.apps
    opened = [PhoenixClient(app.socket_url, token) for app in (survivor, doomed) for _ in range(10)]
    try:
        doomed.kill()
        killed_at = time.monotonic()
        assert refusal(survivor.socket_url, student).response.status_code == 429
        # The crashed process's ten slots expire within PRESENCE_NODE_TTL (2 s here).
        for _ in range(10):
            opened.append(
                wait_until(
                    "the crashed process's slots to expire",
                    lambda: connect_or_none(survivor.socket_url, student),
                    wait=2 + 3,
                )
            )
        freed = time.monotonic() - killed_at
        assert refusal(survivor.socket_url, student).response.status_code == 429
        print(f"\na crashed process's 10 sockets stopped counting {freed:.2f} s after the kill")
    finally:
        for client in opened:
            client.close()


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.close()


def join_once_subscribed(client: PhoenixClient, topic: str, wait: float = 20) -> str:
    """The join_ref of a join of `topic`, asked again while it times out or is refused
    `unavailable`."""
    deadline = time.monotonic() + wait
    while True:
        ref = client.next_ref()
        client.send([ref, ref, topic, "phx_join", {}])
        try:
            reply = client.reply(ref, timeout=max(0.1, deadline - time.monotonic()))
        except TimeoutError:
            reply = None
        if reply is not None and reply["status"] == "ok":
            return ref
        assert time.monotonic() < deadline, f"no join of {topic} in {wait} s: {reply}"
        time.sleep(0.2)


def log_lines(app: ServerProcess, containing: str) -> list[str]:
    return [line for line in app.log_path.read_text().splitlines() if containing in line]


def test_with_redis_stopped_the_limits_are_per_process_and_said_once(
    start_front,
    django_db_blocker,
    tmp_path,
    private_redis,
    transactional_db,
    student,
    active_session,
):
    apps = start_apps(
        tmp_path,
        django_db_blocker,
        REDIS_URL=private_redis.url,
        LOG_LEVEL="INFO",
        LOG_FORMAT="json",
    )
    try:
        start_front(1, apps=apps)
        topic = active_session.topic
        token = token_for(student)
        clients = [PhoenixClient(app.socket_url, token) for app in apps]
        joins = [client.join_ok(topic)[0] for client in clients]

        private_redis.kill()
        outcomes = [
            chat_outcomes(client, topic, join, 15)
            for client, join in zip(clients, joins, strict=True)
        ]
        # Each process's own bucket of ten: twenty lines in all.
        assert [o.count("ok") for o in outcomes] == [10, 10], outcomes
        assert {o for both in outcomes for o in both} == {"ok", "rate_limited"}
        assert [len(log_lines(app, DOWN_LINE)) for app in apps] == [1, 1]
        assert json.loads(log_lines(apps[0], DOWN_LINE)[0])["level"] == "warning"

        private_redis.start()  # empty: the user's bucket in it is full again
        for app in apps:
            wait_until(
                f"{app.port} to use Redis again", lambda app=app: log_lines(app, BACK_LINE), wait=10
            )
        for client in clients:
            client.close()
        # Cluster-wide again: ten lines between both processes.
        with (
            PhoenixClient(apps[0].socket_url, token) as one,
            PhoenixClient(apps[1].socket_url, token) as two,
        ):
            # The channel layer takes its own seconds to resubscribe after the restart.
            joins = [join_once_subscribed(client, topic) for client in (one, two)]
            outcomes = [
                *chat_outcomes(one, topic, joins[0], 8),
                *chat_outcomes(two, topic, joins[1], 8),
            ]
        assert outcomes.count("ok") == 10, outcomes
        assert [len(log_lines(app, DOWN_LINE)) for app in apps] == [1, 1]
    finally:
        for app in apps:
            app.stop()
        wait_for_quiet_database()
