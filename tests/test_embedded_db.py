"""PostgreSQL only: DATABASE_URL names it, or the embedded server of `make run` and the
tests (inswing_realtime/embedded_db.py) is used."""

import os
import stat
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from inswing_realtime import embedded_db
from tests.support.servers import ROOT


def fresh_process(code: str, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "inswing_realtime.settings", **env}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=90,
    )


def test_with_no_database_url_the_settings_name_the_embedded_server():
    out = fresh_process(
        "from django.conf import settings; d = settings.DATABASES['default'];"
        "print(d['ENGINE'], d['HOST'], d['PORT'], d['NAME'])",
        DATABASE_URL="",
    )
    assert out.stdout.split() == [
        "django.db.backends.postgresql",
        "127.0.0.1",
        str(embedded_db.configured_port()),
        "inswing",
    ]


def test_a_database_other_than_postgresql_is_refused():
    out = fresh_process("import django; django.setup()", DATABASE_URL="sqlite:///db.sqlite3")
    assert out.returncode != 0
    assert "DATABASE_URL must name a PostgreSQL database" in out.stderr


def others_may_enter(path) -> bool:
    return all(p.stat().st_mode & stat.S_IXOTH for p in [*path.parents, path])


@pytest.mark.skipif(
    os.geteuid() == 0 and not others_may_enter(ROOT),
    reason=f"as root the server runs as {embedded_db.SERVER_USER}, who may not reach {ROOT}",
)
def test_a_command_runs_on_the_embedded_server_and_its_status_is_passed_on():
    """Started for the command and stopped after it; or, when this run already uses the
    embedded server, joined and left running."""
    was_running = embedded_db._running_port() is not None
    command = (
        "import os, sys, psycopg;"
        "conn = psycopg.connect(os.environ['DATABASE_URL']);"
        "print(conn.execute('select current_database(), version()').fetchone());"
        "sys.exit(3)"
    )
    out = subprocess.run(
        [sys.executable, "-m", "inswing_realtime.embedded_db", "--", sys.executable, "-c", command],
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 3, out.stderr
    assert "('inswing', 'PostgreSQL 18" in out.stdout
    assert (embedded_db._running_port() is not None) == was_running


def test_commands_starting_at_once_create_the_database_one_after_the_other(tmp_path, monkeypatch):
    """`make run` and `make test` started together on a fresh checkout: each checks for the
    database and creates it under the lock, so the second finds the first's."""
    monkeypatch.setattr(embedded_db, "HOME", tmp_path)
    monkeypatch.setattr(embedded_db, "LOCK_FILE", tmp_path / "lock")
    monkeypatch.setattr(embedded_db, "_server_user", lambda: None)
    monkeypatch.setattr(embedded_db, "_initdb", lambda user: None)
    monkeypatch.setattr(embedded_db, "_running_port", lambda: 5999)
    monkeypatch.setattr(embedded_db, "_live_users", lambda: [])
    monkeypatch.setattr(embedded_db, "_write_users", lambda users: None)
    created, checking = [], threading.Lock()

    def ensure_database(port: int) -> None:
        assert checking.acquire(blocking=False), "two commands checked the database at once"
        try:
            time.sleep(0.2)  # between the check and the create
            created.append(port)
        finally:
            checking.release()

    monkeypatch.setattr(embedded_db, "_ensure_database", ensure_database)
    with ThreadPoolExecutor(2) as pool:
        ports = list(pool.map(lambda _: embedded_db.start(), range(2)))
    assert ports == created == [5999, 5999]
