"""Real server processes for tests: daphne serving the app against the test database."""

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_database_url() -> str:
    """The URL of the database pytest-django set up, for processes we start."""
    db = connection.settings_dict
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


@dataclass
class ServerProcess:
    """One daphne process; `restart()` keeps its port, `kill()` is a SIGKILL."""

    port: int
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen | None = None
    extra_args: list[str] = field(default_factory=list)

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def socket_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/socket/websocket"

    def start(self) -> "ServerProcess":
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "inswing_realtime.serve",
                "-b",
                "127.0.0.1",
                "-p",
                str(self.port),
                *self.extra_args,
                "inswing_realtime.asgi:application",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self._wait_ready()
        return self

    def _wait_ready(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"server did not start: {self.log_path.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to clean up (a crash)."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


def wait_for_quiet_database(timeout: float = 5.0) -> None:
    """Wait until no other connection to the test database is inside a transaction.

    Server processes may still be finishing work for a client that has just left
    (an entry notice, a last chat batch). Flushing the tables under them can
    deadlock, so tests that used a server wait for it to settle first.
    """
    deadline = time.monotonic() + timeout
    quiet_checks = 0
    while time.monotonic() < deadline and quiet_checks < 2:
        with connection.cursor() as cursor:
            cursor.execute(
                "select count(*) from pg_stat_activity where datname = current_database() "
                "and pid <> pg_backend_pid() and state <> 'idle'"
            )
            busy = cursor.fetchone()[0]
        quiet_checks = 0 if busy else quiet_checks + 1
        time.sleep(0.03)


def server_env(**overrides: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "inswing_realtime.settings",
        "DATABASE_URL": test_database_url(),
        "REALTIME_PREFIX": settings.REALTIME_PREFIX,
        "SECRET_KEY": settings.SECRET_KEY,
        # A stop closes the sockets in one batch (a drain shorter than its half-second
        # batches), not spread over the default ten seconds: tests stop servers often.
        "DRAIN_SECONDS": "0.5",
        "LOG_LEVEL": os.environ.get("SERVER_LOG_LEVEL", "WARNING"),
    }
    if settings.REDIS_URL:
        env["REDIS_URL"] = settings.REDIS_URL
    env.update(overrides)
    return env
