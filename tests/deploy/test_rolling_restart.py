"""A rolling restart of `make cluster` under load, the operator's way (SIGHUP to the
cluster): every app process is replaced while sessions chat through nginx with clients
that behave like the page (reconnect with jitter, rejoin with last_seq/last_eid, resend
unacknowledged lines with the same client_msg_id: bench/harness/page_client.py).
Nothing acknowledged is lost, every line is logged once, and no client misses or is
sent twice an event. bench/rolling_restart.py measures the same at scale."""

import asyncio
import shutil
import socket
import time
import uuid

import pytest
from django.conf import settings

from bench.harness.page_client import EventLog, Participant, tally
from bench.harness.rolling import ClusterRun, restart_under_load
from coaching.models import CoachingSession, Role
from inswing_realtime.cluster import STATE, Cluster
from tests.deploy.test_cluster import cluster_port
from tests.deploy.topology import get
from tests.support.auth import token_for
from tests.support.servers import server_env, wait_for_quiet_database

SESSIONS = 3
RATE = 4.0  # lines a second per socket


@pytest.fixture
def sessions(transactional_db, make_user) -> list[tuple[str, str, str]]:
    """(topic, student's token, coach's token) of active sessions, committed."""
    out = []
    for _ in range(SESSIONS):
        student, coach = make_user(Role.STUDENT), make_user(Role.COACH)
        session = CoachingSession.objects.create(student=student, coach=coach, status="active")
        out.append((session.topic, token_for(student), token_for(coach)))
    yield out
    wait_for_quiet_database()


@pytest.fixture(scope="module")
def cluster(django_db_setup, deploy_redis_url, tmp_path_factory):
    """One cluster for the module: each test restarts it from wherever the last left it."""
    port = cluster_port(4)  # nginx, two app processes and their two spare ports
    env = server_env(
        REDIS_URL=deploy_redis_url,
        REALTIME_PREFIX=f"{settings.REALTIME_PREFIX}-rolling-{uuid.uuid4().hex[:8]}",
        DRAIN_SECONDS="1",  # a batch every half second: two batches per process
    )
    cluster = ClusterRun(port, 2, env, tmp_path_factory.mktemp("cluster") / "cluster.log")
    yield cluster
    cluster.stop()
    shutil.rmtree(STATE / str(port), ignore_errors=True)


def test_a_rolling_restart_under_load_loses_nothing_and_nobody_misses_an_event(cluster, sessions):
    pairs = [
        (
            Participant(cluster.socket_url, topic, student, f"s{i}"),
            Participant(cluster.socket_url, topic, coach, f"c{i}"),
        )
        for i, (topic, student, coach) in enumerate(sessions)
    ]
    spare = Cluster(cluster.port, 2).spare_port
    before = cluster.app_ports()
    restarts = cluster.log().count("drained and exited (0)")
    run = asyncio.run(
        restart_under_load(cluster, pairs, rate=RATE, before=1.5, after=1.5, settle=15)
    )
    figures = tally(pairs, EventLog.read([topic for topic, _, _ in sessions]), run.windows)
    log = cluster.log()

    # Every process was replaced, one at a time, each on its spare port.
    assert log.count("drained and exited (0)") == restarts + 2, log
    assert sorted(cluster.app_ports()) == sorted(spare(p) for p in before), log
    # Every socket was closed by a drain (4012) and came back with a replay.
    sockets = 2 * SESSIONS
    assert figures["close_codes"].get("4012", 0) >= sockets, figures
    assert figures["recoveries"]["replay"] >= sockets, figures
    assert figures["recoveries"]["first"] == sockets, figures
    # Writing went on throughout, and every line written was acknowledged and stored once.
    assert run.settled, figures
    assert figures["sent"] >= sockets * RATE * 3, figures
    assert figures["acked"] == figures["sent"], figures
    assert (figures["unacked"], figures["failed"]) == (0, 0), figures
    assert (figures["lost"], figures["duplicated_in_log"]) == (0, 0), figures
    # Every event logged after a client's first join reached it, none twice or late.
    assert figures["events_missed"] == 0, figures
    assert (figures["duplicated_frames"], figures["seq_gaps"]) == (0, 0), figures


def test_a_replacement_that_cannot_start_stops_the_restart_and_the_old_process_serves(cluster):
    spare = Cluster(cluster.port, 2).spare_port
    first, second = cluster.app_ports()
    restarts = cluster.log().count("drained and exited (0)")
    with socket.socket() as taken:
        # As a server binds: the port's last connections may linger in TIME_WAIT.
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind(("127.0.0.1", spare(second)))
        taken.listen()
        cluster.restart()
        deadline = time.monotonic() + 60
        while "cluster: rolling restart stopped" not in cluster.log():
            assert time.monotonic() < deadline, cluster.log()
            time.sleep(0.2)
    log = cluster.log()
    assert f"port {spare(second)} is in use: app :{second} was not replaced" in log, log
    # The first was replaced; the second still serves; the cluster runs on.
    assert log.count("drained and exited (0)") == restarts + 1, log
    assert sorted(cluster.app_ports()) == sorted([spare(first), second]), log
    assert get(f"{cluster.url}/readyz")[0] == 200
    assert cluster.proc.poll() is None, log
