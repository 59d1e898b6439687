"""A rolling restart of `make cluster` under load, the operator's way (SIGHUP to the
cluster): every app process is replaced while sessions chat through nginx with clients
that behave like the page (reconnect with jitter, rejoin with last_seq/last_eid, resend
unacknowledged lines with the same client_msg_id: bench/harness/page_client.py).
Nothing acknowledged is lost, every line is logged once, and no client misses or is
sent twice an event. bench/rolling_restart.py measures the same at scale."""

import asyncio
import shutil
import uuid

import pytest
from django.conf import settings

from bench.harness.page_client import EventLog, Participant, tally
from bench.harness.rolling import ClusterRun, restart_under_load
from coaching.models import CoachingSession, Role
from inswing_realtime.cluster import STATE
from tests.deploy.test_cluster import cluster_port
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


@pytest.fixture
def cluster(deploy_redis_url, tmp_path):
    port = cluster_port(4)  # nginx, two app processes and their two spare ports
    env = server_env(
        REDIS_URL=deploy_redis_url,
        REALTIME_PREFIX=f"{settings.REALTIME_PREFIX}-rolling-{uuid.uuid4().hex[:8]}",
        DRAIN_SECONDS="1",  # a batch every half second: two batches per process
    )
    cluster = ClusterRun(port, 2, env, tmp_path / "cluster.log")
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
    before = cluster.app_ports()
    run = asyncio.run(
        restart_under_load(cluster, pairs, rate=RATE, before=1.5, after=1.5, settle=15)
    )
    figures = tally(pairs, EventLog.read([topic for topic, _, _ in sessions]), run.windows)
    log = cluster.log()

    # Every process was replaced, one at a time, each on its spare port.
    assert log.count("drained and exited (0)") == 2, log
    assert sorted(cluster.app_ports()) == [p + 2 for p in before], log
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
