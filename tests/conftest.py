import os
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import connections
from xdist.scheduler import LoadFileScheduling

from coaching.models import CoachingSession, Role, User
from coaching.realtime.db import _pool as db_pool
from coaching.services.analysis import feedback_record
from inswing_realtime import embedded_db
from tests.support.servers import ServerProcess, free_port, server_env, wait_for_quiet_database
from tests.support.sockets import Connect, ConnectInProcess

EMBEDDED_POSTGRES_MODULES = {"tests/test_embedded_db.py", "tests/deploy/test_cluster.py"}


def pytest_sessionstart(session) -> None:
    """With REQUIRE_SERVICES set (CI), the machine's PostgreSQL and Redis must really be
    in use (DATABASE_URL and REDIS_URL), not the embedded server and the in-memory layer."""
    if not os.environ.get("REQUIRE_SERVICES"):
        return
    if not os.environ.get("DATABASE_URL") or not settings.REDIS_URL:
        pytest.exit(
            "REQUIRE_SERVICES: need DATABASE_URL and REDIS_URL, got "
            f"DATABASE_URL={'set' if os.environ.get('DATABASE_URL') else 'unset'} and "
            f"REDIS_URL={settings.REDIS_URL!r}",
            returncode=3,
        )
    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_timeout=3).ping()
    except redis.RedisError as exc:
        pytest.exit(f"REQUIRE_SERVICES: Redis unreachable: {exc}", returncode=3)
    # The phoenix.js and browser tests must run too, not skip.
    root = Path(__file__).resolve().parents[1]
    for needed in (root / "node_modules/phoenix", Path("/usr/bin/chromium")):
        if not needed.exists():
            pytest.exit(f"REQUIRE_SERVICES: {needed} is missing", returncode=3)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_setupnodes(config, specs) -> None:
    """`make test` runs the suite in parallel processes (pytest-xdist). Each gets a Redis key
    space of its own, set in its environment before Django reads its settings (user ids
    repeat from one process's test database to the next, so would their groups); its
    test database is its own already (pytest-django names it per process). With no
    DATABASE_URL, this process starts the embedded PostgreSQL for the run, before them:
    they join it, rather than all racing to start it and create its database."""
    for spec in specs:
        spec.env["REALTIME_PREFIX"] = f"{settings.REALTIME_PREFIX}-{spec.id}"
    if not os.environ.get("DATABASE_URL"):
        embedded_db.start()
        config.add_cleanup(embedded_db.release)


class ByModule(LoadFileScheduling):
    """Parallel runs hand a test module's tests to one process, so that its module-scoped
    fixtures (a browser, nginx with its app processes) start once; the modules that start
    and stop the embedded PostgreSQL in .pgdata/ go to the same one, since each checks
    whether it was running before."""

    def _split_scope(self, nodeid: str) -> str:
        module = super()._split_scope(nodeid)
        return "embedded-postgres" if module in EMBEDDED_POSTGRES_MODULES else module

    def _assign_work_unit(self, node) -> None:
        """LoadScopeScheduling's, but sending every test of a node id, not its first only:
        Schemathesis gives each API operation's test its function's node id."""
        scope, work_unit = self.workqueue.popitem(last=False)
        self.assigned_work.setdefault(node, {})[scope] = work_unit
        pending = {nodeid for nodeid, completed in work_unit.items() if not completed}
        collection = self.registered_collections[node]
        node.send_runtest_some([i for i, nodeid in enumerate(collection) if nodeid in pending])


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log) -> ByModule:
    return ByModule(config, log)


def pytest_report_header(config) -> list[str]:
    db = "DATABASE_URL's" if os.environ.get("DATABASE_URL") else "embedded (.pgdata/)"
    layer = settings.CHANNEL_LAYERS["default"]["BACKEND"].rsplit(".", 1)[-1]
    return [
        f"database: PostgreSQL, {db}; channel layer: {layer}; redis: {settings.REDIS_URL or 'none'}"
    ]


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix) -> Iterator[None]:
    """With no DATABASE_URL, the run's test database is created on the embedded
    PostgreSQL (inswing_realtime/embedded_db.py), started for the run (or joined, when
    `make run` has it running) and stopped after it."""
    if os.environ.get("DATABASE_URL"):
        yield
        return
    with embedded_db.running() as url:
        # In place: the connection handler holds this very dict.
        settings.DATABASES["default"]["PORT"] = urlsplit(url).port
        yield


PASSWORD = "pass-word-123"


@pytest.fixture(autouse=True)
def isolated_cache(settings) -> None:
    """A cache of its own for each test (REST throttle counters live there). A new key
    prefix rather than `cache.clear()`, which on Redis would flush the shared database."""
    settings.CACHES = {
        name: {**conf, "KEY_PREFIX": f"{conf.get('KEY_PREFIX', '')}:{uuid.uuid4().hex}"}
        for name, conf in settings.CACHES.items()
    }


@pytest.fixture(scope="session")
def password_hash() -> str:
    """Hashing is slow on purpose; hash the shared test password once per run."""
    return make_password(PASSWORD)


@pytest.fixture
def make_user(db, password_hash):
    counter = iter(range(1, 10_000))

    def make(role: str = Role.STUDENT, *, staff: bool = False, name: str = "") -> User:
        n = next(counter)
        user = User(
            username=f"{role}{n}",
            role=role,
            name=name or f"{role.title()} {n}",
            is_staff=staff,
            is_superuser=staff,
        )
        user.password = password_hash
        user.save()
        return user

    return make


@pytest.fixture
def student(make_user) -> User:
    return make_user(Role.STUDENT, name="Ian")


@pytest.fixture
def coach(make_user) -> User:
    return make_user(Role.COACH, name="IanPro")


@pytest.fixture
def service(make_user) -> User:
    return make_user(Role.SERVICE, name="INSwing API")


@pytest.fixture
def admin_user(make_user) -> User:
    return make_user(Role.STUDENT, staff=True, name="Admin")


@pytest.fixture
def waiting_session(student) -> CoachingSession:
    return CoachingSession.objects.create(student=student)


@pytest.fixture
def active_session(student, coach) -> CoachingSession:
    return CoachingSession.objects.create(student=student, coach=coach, status="active")


@pytest.fixture
def feedback_card(active_session: CoachingSession, service: User) -> dict:
    """A feedback card in the active session, as the Node API posted it."""
    payload, _ = feedback_record(
        session_id=active_session.session_id,
        actor=service,
        swing_id="sw_1",
        summary="The face is open at impact.",
        metrics={"face_angle": 5.2},
        recommendations=["Take a stronger grip."],
        level="intermediate",
    )
    return payload


@pytest.fixture(scope="session", autouse=True)
def close_realtime_db_threads(django_db_setup, django_db_blocker):
    """In-process socket tests leave connections open in the realtime DB thread pool,
    and asyncpg ones (chat writers, the socket pool) on event loops already closed;
    close them before the test database is dropped (PostgreSQL refuses otherwise)."""
    yield
    with django_db_blocker.unblock(), connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    workers = db_pool._max_workers
    barrier = threading.Barrier(workers)

    def close() -> None:
        connections.close_all()
        barrier.wait(timeout=5)

    for future in [db_pool.submit(close) for _ in range(workers)]:
        future.result(timeout=10)


@pytest.fixture(scope="session")
def server_log_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("servers")


@pytest.fixture(scope="session")
def live_server_process(django_db_setup, django_db_blocker, server_log_dir):
    """One daphne process for the whole run, on the test database.

    Tests that use it need `transactional_db` so the rows they create are
    committed and visible to the server.
    """
    with django_db_blocker.unblock():
        server = ServerProcess(free_port(), server_env(), server_log_dir / "server.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def server(live_server_process, transactional_db) -> Iterator[ServerProcess]:
    if live_server_process.proc is None or live_server_process.proc.poll() is not None:
        live_server_process.start()  # a test stopped it
    yield live_server_process
    wait_for_quiet_database()


@pytest.fixture
def spawn_server(django_db_setup, django_db_blocker, server_log_dir, transactional_db):
    """Start extra server processes (own ports, same database and Redis)."""
    started: list[ServerProcess] = []

    def spawn(**env: str) -> ServerProcess:
        with django_db_blocker.unblock():
            port = free_port()
            proc = ServerProcess(port, server_env(**env), server_log_dir / f"server-{port}.log")
        started.append(proc.start())
        return proc

    yield spawn
    for proc in started:
        proc.stop()
    wait_for_quiet_database()


@pytest.fixture
def connect(request, transactional_db) -> Iterator[Connect]:
    """`connect(user)`: a Phoenix V2 client of `user`'s (tests.support.phoenix) on the
    shared test server, or `on=` a process from `spawn_server`; see
    tests.support.sockets.Connect. Whatever is still open is closed when the test ends,
    before the servers are stopped or the database flushed."""
    if "spawn_server" in request.fixturenames:
        request.getfixturevalue("spawn_server")  # set up first, torn down after
        opener = Connect(None)
    else:
        opener = Connect(request.getfixturevalue("server"))
    yield opener
    opener.close_all()


@pytest.fixture
async def connect_in_process() -> AsyncIterator[ConnectInProcess]:
    """`await connect_in_process(user)`: a socket served by the app in this process, for
    tests that hold its code at a gate; disconnected when the test ends."""
    opener = ConnectInProcess()
    yield opener
    await opener.close_all()
