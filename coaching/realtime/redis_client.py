"""The Redis clients this app opens itself (presence, batched publishing), one policy.

A connection that broke (Redis restarted, a network blip) is retried with
redis-py's own exponential backoff, a few times within about a second, then the
error surfaces: callers on a client's request path answer `unavailable` rather
than keep it waiting, and background work (the presence heartbeat) tries again
on its next round. Idle pooled connections are checked before use.
"""

import asyncio

import redis.asyncio as aioredis
from django.conf import settings
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError, TimeoutError

# 3 retries, 50 ms doubling up to 400 ms: ~0.7 s of backoff on top of the timeouts.
RETRIES = 3
BACKOFF_BASE, BACKOFF_CAP = 0.05, 0.4
CONNECT_TIMEOUT = 1.0
# No single command of ours takes long; one that does is a stalled server.
SOCKET_TIMEOUT = 3.0
HEALTH_CHECK_INTERVAL = 10
# How long a command may wait for a free pooled connection.
POOL_WAIT = 30.0


def redis_client(url: str, **options: object) -> aioredis.Redis:
    """A client for `url` on the running event loop.

    Its pool is bounded (REDIS_MAX_CONNECTIONS) and blocking: a burst (a reconnect
    storm) waits up to POOL_WAIT for a free connection instead of failing with "Too
    many connections".
    """
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        retry=Retry(ExponentialBackoff(cap=BACKOFF_CAP, base=BACKOFF_BASE), RETRIES),
        retry_on_error=[ConnectionError, TimeoutError],
        socket_connect_timeout=CONNECT_TIMEOUT,
        socket_timeout=SOCKET_TIMEOUT,
        health_check_interval=HEALTH_CHECK_INTERVAL,
        max_connections=settings.REDIS_MAX_CONNECTIONS,
        timeout=POOL_WAIT,
        **options,
    )
    return aioredis.Redis(connection_pool=pool)


class PerLoop:
    """One client per event loop (tests run several loops; a client is bound to one)."""

    def __init__(self, url: str, **options: object) -> None:
        self._url = url
        self._options = options
        self._clients: dict[asyncio.AbstractEventLoop, aioredis.Redis] = {}

    def get(self) -> aioredis.Redis:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            self._clients = {lp: c for lp, c in self._clients.items() if not lp.is_closed()}
            client = self._clients[loop] = redis_client(self._url, **self._options)
        return client
