"""The database connection pool's answer while PostgreSQL is down: at once, not after a wait.

psycopg's pool connects in the background and lets a request wait up to its `timeout`
for a connection. With `reconnect_timeout=0` it gives up after one retry and calls
`reconnect_failed`; by then the database has refused twice, so the requests waiting
are failed there and then (REST answers 503, the socket `unavailable`) instead of each
waiting out the whole timeout. The next request tries again, so recovery is at once too.
"""

from collections import deque

from psycopg_pool import ConnectionPool, PoolTimeout


def fail_waiting_requests(pool: ConnectionPool) -> None:
    """`reconnect_failed` callback: fail every request waiting for a connection."""
    # psycopg_pool has no public call for this; `_lock` guards `_waiting` (3.2, 3.3).
    with pool._lock:
        waiting, pool._waiting = pool._waiting, deque()
    for client in waiting:
        client.fail(PoolTimeout("the database did not accept a connection"))
