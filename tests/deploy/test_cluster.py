"""`make cluster` starts nginx in front of the app processes (with PostgreSQL and Redis
when the environment names none), serves through one port, and Ctrl-C or SIGTERM stops
everything it started: no nginx, daphne, redis-server or PostgreSQL is left."""

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
from django.conf import settings

from inswing_realtime import embedded_db
from inswing_realtime.cluster import STATE, port_is_free
from tests.deploy.topology import get
from tests.support import servers

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 100  # a fresh checkout's embedded PostgreSQL: initdb and every migration


# The cluster's ports are a run (nginx's, then the app processes' and their spares): taken
# below the kernel's ephemeral range, in a block of this test process's own (pytest-xdist
# worker N: CLUSTER_PORTS + N * 1000), so that no other test's server, which binds port
# 0, takes one of them while the cluster runs.
CLUSTER_PORTS = 21000


def cluster_port(processes: int = 2) -> int:
    """A port whose next `processes` ports are free too."""
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    block = CLUSTER_PORTS + worker * 1000
    for _ in range(50):
        port = block + random.randrange(0, 1000 - processes - 1)
        if all(port_is_free(p) for p in range(port, port + processes + 1)):
            return port
    raise AssertionError("no run of free ports")


def ready(base: str) -> bool:
    try:
        return get(f"{base}/readyz")[0] == 200
    except OSError:  # not listening yet
        return False


def postmaster() -> psutil.Process | None:
    """The embedded PostgreSQL's server process, if it runs."""
    if embedded_db._running_port() is None:
        return None
    return psutil.Process(int((embedded_db.PGDATA / "postmaster.pid").read_text().split()[0]))


@dataclass
class Run:
    """A cluster that was started, checked and stopped."""

    started: list[psutil.Process]  # what it had started (whatever their parent now)
    kinds: str  # their command lines
    database: psutil.Process | None  # the embedded PostgreSQL while it ran
    returncode: int
    log: str


def run_cluster(
    argv: list[str], env: dict[str, str], port: int, stop: Callable[[subprocess.Popen], None]
) -> Run:
    """Start the cluster, check that it serves through nginx, and `stop` it."""
    with tempfile.TemporaryFile() as log:

        def output() -> str:
            log.seek(0)
            return log.read().decode(errors="replace")[-4000:]

        proc = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + START_TIMEOUT
            while not ready(base):
                assert proc.poll() is None, f"the cluster exited:\n{output()}"
                assert time.monotonic() < deadline, f"not ready in time:\n{output()}"
                time.sleep(0.2)
            assert get(f"{base}/login/")[0] == 200
            status, _, body = get(f"{base}/static/coaching/app.css")
            # As collected when the cluster started (STATIC_ROOT).
            assert (status, body) == (200, (ROOT / "staticfiles/coaching/app.css").read_bytes())
            time.sleep(0.2)  # nginx writes a line just after its response
            access_log = (STATE / str(port) / "nginx" / "access.log").read_text()
            assert "GET /static/coaching/app.css HTTP/1.1" in access_log
            assert "GET /login/" in access_log and "/readyz" not in access_log
            started = psutil.Process(proc.pid).children(recursive=True)
            kinds = " ".join(names(started))
            database = postmaster()
        except BaseException:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
        stop(proc)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise AssertionError(f"did not stop:\n{output()}") from None
        return Run(started, kinds, database, proc.returncode, output())


def exited(process: psutil.Process) -> bool:
    """Ended (a zombie too: a daemon's parent is init, which may be slow to reap it)."""
    try:
        return not process.is_running() or process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def names(processes: list[psutil.Process]) -> list[str]:
    result = []
    for process in processes:
        try:
            result.append(" ".join(process.cmdline()[:3]))
        except psutil.Error:
            result.append(f"pid {process.pid}")
    return result


def assert_all_stopped(run: Run, port: int) -> None:
    _, alive = psutil.wait_procs(run.started, timeout=10)
    alive = [process for process in alive if not exited(process)]
    assert not alive, f"left running: {names(alive)}\n{run.log}"
    assert all(port_is_free(p) for p in range(port, port + 3))
    assert "cluster: stopped" in run.log
    shutil.rmtree(STATE / str(port))  # its configuration and log, kept for a developer


def without_make(env: dict[str, str]) -> dict[str, str]:
    """The environment, less what a `make test` around this run would pass to a sub-make."""
    return {k: v for k, v in env.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}


def test_make_cluster_on_embedded_defaults_and_ctrl_c_stops_everything():
    port = cluster_port()
    env = without_make(os.environ)
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    database_before = postmaster()
    # Ctrl-C: SIGINT to the terminal's foreground process group (make and the cluster).
    run = run_cluster(
        ["make", "--no-print-directory", "cluster", f"CLUSTER_PORT={port}"],
        env,
        port,
        lambda proc: os.killpg(proc.pid, signal.SIGINT),
    )
    assert run.kinds.count("inswing_realtime.serve") == 2, run.kinds
    assert "nginx: master process" in run.kinds and "redis-server" in run.kinds, run.kinds
    assert run.database is not None and "(embedded)" in run.log
    assert_all_stopped(run, port)
    # The embedded PostgreSQL is stopped, unless it ran before (another command uses it).
    if database_before is None:
        assert exited(run.database) and embedded_db._running_port() is None
    else:
        assert postmaster() == database_before


def test_the_cluster_on_given_servers_stops_on_sigterm(transactional_db):
    port = cluster_port()
    env = {**without_make(os.environ), "DATABASE_URL": servers.test_database_url()}
    if settings.REDIS_URL:
        env["REDIS_URL"] = settings.REDIS_URL
    else:
        env.pop("REDIS_URL", None)
    database_before = postmaster()
    run = run_cluster(
        [sys.executable, "-m", "inswing_realtime.cluster", "--port", str(port)],
        env,
        port,
        lambda proc: proc.send_signal(signal.SIGTERM),
    )
    assert run.returncode == 0, run.log
    assert run.kinds.count("inswing_realtime.serve") == 2, run.kinds
    assert ("redis-server" in run.kinds) == (not settings.REDIS_URL), run.kinds
    assert_all_stopped(run, port)
    # DATABASE_URL given: no embedded server was started.
    assert run.database == database_before and postmaster() == database_before


@pytest.mark.parametrize("busy", [0, 2])
def test_a_busy_port_is_named_before_anything_starts(busy):
    port = cluster_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port + busy))
        taken.listen()
        result = subprocess.run(
            [sys.executable, "-m", "inswing_realtime.cluster", "--port", str(port)],
            cwd=ROOT,
            env={**os.environ, "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none"},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert f"port {port + busy} is in use" in result.stderr
