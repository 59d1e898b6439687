"""The probes: `/healthz` while the process runs, `/readyz` while it can take traffic,
naming what fails; no token, and no access-log line per probe."""

import json
import urllib.error
import urllib.request

import pytest

from coaching.realtime import health
from tests.support.servers import free_port

pytestmark = pytest.mark.django_db(transaction=True)


def probe(server, path: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"{server.http_url}{path}", timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_a_healthy_process_is_live_and_ready_and_does_not_log_the_probes(spawn_server):
    server = spawn_server(LOG_LEVEL="INFO")
    assert probe(server, "/healthz") == (200, {"status": "ok"})
    assert probe(server, "/readyz") == (200, {"status": "ok"})
    urllib.request.urlopen(f"{server.http_url}/login/", timeout=10).read()  # logged
    log = server.log_path.read_text()
    assert '"GET /login/"' in log
    assert "/healthz" not in log and "/readyz" not in log


def test_readiness_names_the_database_when_it_does_not_answer(spawn_server):
    nothing = f"postgres://postgres@127.0.0.1:{free_port()}/inswing"
    server = spawn_server(DATABASE_URL=nothing)
    assert probe(server, "/healthz") == (200, {"status": "ok"})
    assert probe(server, "/readyz") == (503, {"status": "unavailable", "failed": ["postgresql"]})


def test_readiness_names_redis_when_it_does_not_answer(spawn_server, settings):
    if not settings.REDIS_URL:
        pytest.skip("the in-memory layer has no Redis to lose")  # CI sets REDIS_URL
    server = spawn_server(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    assert probe(server, "/readyz") == (503, {"status": "unavailable", "failed": ["redis"]})


async def test_a_draining_process_is_not_ready(monkeypatch, transactional_db):
    monkeypatch.setattr(health, "stopping", lambda: True)
    try:
        assert "draining" in await health.readiness()
    finally:
        await health.pg.socket_pool().close()
