"""REST under the ASGI server borrows database connections from a bounded pool and gives
them back: however many requests come, the process holds no more than the pool's size."""

import urllib.request
from concurrent.futures import ThreadPoolExecutor

from django.db import connection

from tests.support.auth import token_for

POOL_MAX = 4


def server_connections(application_name: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "select count(*) from pg_stat_activity"
            " where datname = current_database() and application_name = %s",
            [application_name],
        )
        return cursor.fetchone()[0]


def test_many_concurrent_requests_leave_no_more_connections_than_the_pool(spawn_server, student):
    name = "inswing-pool-test"
    server = spawn_server(
        DB_POOL_MIN_SIZE="1",
        DB_POOL_MAX_SIZE=str(POOL_MAX),
        DB_APPLICATION_NAME=name,
        DB_POOL_TIMEOUT="5",
    )
    token = token_for(student)

    def get(_: int) -> int:
        request = urllib.request.Request(
            f"{server.http_url}/api/sessions/", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status

    with ThreadPoolExecutor(max_workers=10) as clients:
        statuses = list(clients.map(get, range(200)))

    assert statuses == [200] * 200
    # A request that kept its connection would leave the next ones waiting for the pool
    # (DB_POOL_TIMEOUT) and answering 503; and the process holds no more than the pool.
    assert 1 <= server_connections(name) <= POOL_MAX
