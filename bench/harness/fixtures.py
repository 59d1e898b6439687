"""The benchmark database and the sessions each workload uses.

Django is set up against BENCH_DATABASE_URL (default: database `inswing_bench` on the
server DATABASE_URL names, which `make bench` sets to the embedded PostgreSQL when it is
unset; created and migrated if missing). Every workload run gets fresh sessions (an
active session with its student and coach) and real tokens.
"""

import itertools
import os
import time
from urllib.parse import urlsplit

from inswing_realtime import embedded_db


def _on_database(url: str, name: str) -> str:
    """`url` with its database name replaced by `name`."""
    return urlsplit(url)._replace(path=f"/{name}").geturl()


DB_URL = os.environ.get("BENCH_DATABASE_URL") or _on_database(
    os.environ.get("DATABASE_URL") or embedded_db.database_url(), "inswing_bench"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/2")

# What the servers run with: production-like (DEBUG off, no query log).
SERVER_ENV = {
    "DATABASE_URL": DB_URL,
    "REDIS_URL": REDIS_URL,
    "REALTIME_PREFIX": "bench",
    "LOG_LEVEL": "WARNING",
    "DEBUG": "0",
    "SECRET_KEY": "bench-only-secret-key-0123456789-abcdefghijklmnop",
    "JWT_ACCESS_MINUTES": "120",
    # Servers are stopped between runs: drain over a second, not ten.
    "DRAIN_SECONDS": "1",
}
_batch = itertools.count()


def setup_django() -> None:
    os.environ.update(SERVER_ENV)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "inswing_realtime.settings")
    _ensure_database()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _ensure_database() -> None:
    import psycopg

    name = urlsplit(DB_URL).path.lstrip("/")
    admin = _on_database(DB_URL, "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("select 1 from pg_database where datname=%s", [name]).fetchone():
            conn.execute(f'create database "{name}"')


def project_sessions(count: int) -> list[tuple[str, str, str]]:
    """`count` new active sessions: (topic, student token, coach token)."""
    from django.contrib.auth.hashers import make_password
    from rest_framework_simplejwt.tokens import AccessToken

    from coaching.models import CoachingSession, Role, User

    tag = f"{int(time.time())}x{next(_batch)}"
    password = make_password(None)
    students = User.objects.bulk_create(
        User(username=f"b{tag}s{i}", role=Role.STUDENT, name=f"S{i}", password=password)
        for i in range(count)
    )
    coaches = User.objects.bulk_create(
        User(username=f"b{tag}c{i}", role=Role.COACH, name=f"C{i}", password=password)
        for i in range(count)
    )
    sessions = CoachingSession.objects.bulk_create(
        CoachingSession(student=s, coach=c, status="active")
        for s, c in zip(students, coaches, strict=True)
    )
    return [
        (session.topic, str(AccessToken.for_user(s)), str(AccessToken.for_user(c)))
        for session, s, c in zip(sessions, students, coaches, strict=True)
    ]


def floor_sessions(count: int) -> list[tuple[str, str, str]]:
    tag = f"{int(time.time())}x{next(_batch)}"
    return [(f"session:floor{tag}-{i}", "-", "-") for i in range(count)]


def specs(
    sessions: list[tuple[str, str, str]], urls: list[str], members: int, *, together: bool = False
) -> list[dict]:
    """Per session: its members (student, coach, the student's second tab, the coach's),
    spread over the server processes so that fan-out crosses them, or (`together`) all on
    one process, sessions taking the processes in turn: what nginx's session affinity
    does (deploy/nginx/)."""
    out = []
    for i, (topic, student, coach) in enumerate(sessions):
        tokens = [student, coach, student, coach][:members]
        out.append(
            {
                "index": i,
                "topic": topic,
                "members": [
                    (urls[(i if together else i + j) % len(urls)], t) for j, t in enumerate(tokens)
                ],
            }
        )
    return out
