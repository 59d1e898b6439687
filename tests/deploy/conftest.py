"""The deploy topology with real processes: Debian's nginx, configured from deploy/nginx/
as docker-compose and `make cluster` configure it, in front of two app processes
(tests/support/servers.py) on the test database and Redis (the run's REDIS_URL, else a
redis-server of the test's own, so that these tests never skip)."""

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings

from inswing_realtime.cluster import Nginx, RedisServer
from tests.deploy.topology import Front, wait_ready
from tests.support.servers import ServerProcess, free_port, server_env, wait_for_quiet_database

# Login attempts per client address: one a minute, so that a second one from the same
# address is refused (429): the throttle tells which address the app took for the client.
ONE_LOGIN = {"AUTH_TOKEN_RATE": "1/minute"}


@pytest.fixture(scope="session")
def deploy_redis_url(tmp_path_factory) -> Iterator[str]:
    """The run's Redis, or one started for these tests."""
    if settings.REDIS_URL:
        yield settings.REDIS_URL
        return
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    with open(server.home / "redis.log", "ab") as log:
        server.start(output=log)
        yield server.url
        server.stop()


@pytest.fixture(scope="session")
def collected_static(tmp_path_factory) -> Path:
    """`collectstatic` into a directory of the run's (as links: fast), as deployments do."""
    root = tmp_path_factory.mktemp("staticfiles")
    with override_settings(STATIC_ROOT=root):
        call_command("collectstatic", interactive=False, link=True, verbosity=0)
    return root


@pytest.fixture(scope="session")
def start_front(
    django_db_setup, django_db_blocker, deploy_redis_url, collected_static, tmp_path_factory
):
    """`start_front(num_proxies)`: two app processes with NUM_PROXIES=num_proxies and
    nginx in front of them; `apps=`: in front of those instead; `tls=(certificate, key)`:
    TLS on nginx's port. All stopped when the run ends."""
    started: list[tuple[Nginx, list[ServerProcess]]] = []

    def start(
        num_proxies: int = 1,
        *,
        apps: list[ServerProcess] | None = None,
        tls: tuple[str, str] = ("", ""),
    ) -> Front:
        home = tmp_path_factory.mktemp("front")
        own_apps: list[ServerProcess] = []
        if apps is None:
            with django_db_blocker.unblock():
                env = server_env(
                    REDIS_URL=deploy_redis_url,
                    NUM_PROXIES=str(num_proxies),
                    # Keys of their own: no other server's logins count against ONE_LOGIN.
                    REALTIME_PREFIX=f"{settings.REALTIME_PREFIX}-front-{uuid.uuid4().hex[:8]}",
                    **ONE_LOGIN,
                )
            for _ in range(2):
                port = free_port()
                own_apps.append(ServerProcess(port, env, home / f"app-{port}.log"))
            apps = own_apps
        nginx = Nginx(
            home / "nginx",
            free_port(),
            [f"127.0.0.1:{app.port}" for app in apps],
            collected_static,
            tls_certificate=tls[0],
            tls_certificate_key=tls[1],
        )
        started.append((nginx, own_apps))
        for app in own_apps:
            app.start()
        with open(home / "nginx.out", "ab") as output:
            nginx.start(output=output)  # nginx keeps its own copy of the descriptor
        front = Front(nginx, apps)
        wait_ready(front)
        return front

    yield start
    for nginx, apps in started:
        nginx.stop()
        for app in apps:
            app.stop()


@pytest.fixture(scope="module")
def module_front(start_front) -> Front:
    return start_front(1)


@pytest.fixture
def front(module_front) -> Front:
    """NUM_PROXIES=1 behind nginx, as docker-compose and `make cluster` run it; both app
    processes running (a test may have stopped one)."""
    stopped = [app for app in module_front.apps if app.proc is None or app.proc.poll() is not None]
    for app in stopped:
        app.start()
    if stopped:
        wait_ready(module_front)
    return module_front


@pytest.fixture
def through(front, transactional_db) -> Iterator[Front]:
    """`front`, for a test whose rows the processes must see (committed)."""
    yield front
    wait_for_quiet_database()
