"""Where channel code runs its database work: a pool of threads that borrow connections.

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

from asgiref.sync import SyncToAsync
from django.conf import settings
from django.db import close_old_connections

_pool = ThreadPoolExecutor(
    max_workers=settings.REALTIME_DB_THREADS, thread_name_prefix="realtime-db"
)


class _DbCall(SyncToAsync):
    def thread_handler(self, loop: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().thread_handler(loop, *args, **kwargs)
        finally:
            # The connection goes back to the process's pool (settings: DB_POOL_*), so the
            # threads hold connections only while they work.
            close_old_connections()


def in_db_thread(func: Callable[..., Any]) -> SyncToAsync:
    """`await in_db_thread(f)(...)`: run `f` in the thread pool, on a borrowed connection."""
    return _DbCall(func, thread_sensitive=False, executor=_pool)
