"""Where channel code runs its database work: a pool of threads, one connection each.

Channels' default (`database_sync_to_async`, thread-sensitive) runs every ORM call
of a process on one shared thread, so commits queue behind each other; at ~9 ms
per durable commit on this machine's disk that caps a process near 100 writes/s.
Concurrent transactions on several connections are flushed together by
PostgreSQL instead. Order within a topic is kept by the topic's own task, which
awaits each call before the next.
"""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from channels.db import DatabaseSyncToAsync
from django.conf import settings

_pool = ThreadPoolExecutor(
    max_workers=settings.REALTIME_DB_THREADS, thread_name_prefix="realtime-db"
)


def in_db_thread(func: Callable[..., Any]) -> DatabaseSyncToAsync:
    """`await in_db_thread(f)(...)`: run `f` in the pool, with Django's connection upkeep."""
    return DatabaseSyncToAsync(func, thread_sensitive=False, executor=_pool)
