"""Where channel code runs its database work: a pool of threads, one connection each.

Channels' default (`database_sync_to_async`, thread-sensitive) runs every ORM call
of a process on one shared thread, so commits queue behind each other; at ~9 ms
per durable commit on this machine's disk that caps a process near 100 writes/s.
Concurrent transactions on several connections are flushed together by
PostgreSQL instead. Order within a topic is kept by the topic's own task, which
awaits each call before the next.
"""

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import SyncToAsync
from django.conf import settings
from django.db import close_old_connections, connections

_pool = ThreadPoolExecutor(
    max_workers=settings.REALTIME_DB_THREADS, thread_name_prefix="realtime-db"
)
# A connection idle for longer than this gets Django's upkeep (max age, health check)
# before its next use. Channels does that around every call, and the health check
# (`SELECT 1`) then doubled the round trips of a busy thread: 11 % of a join storm's
# CPU (py-spy). A connection that errors is looked at right after the call.
UPKEEP_AFTER_IDLE_SECONDS = 1.0
_last_use = threading.local()


class _DbCall(SyncToAsync):
    def thread_handler(self, loop: Any, *args: Any, **kwargs: Any) -> Any:
        if time.monotonic() - getattr(_last_use, "at", 0.0) > UPKEEP_AFTER_IDLE_SECONDS:
            close_old_connections()
        try:
            return super().thread_handler(loop, *args, **kwargs)
        finally:
            _last_use.at = time.monotonic()
            if any(c.errors_occurred for c in connections.all(initialized_only=True)):
                close_old_connections()


def in_db_thread(func: Callable[..., Any]) -> SyncToAsync:
    """`await in_db_thread(f)(...)`: run `f` in the pool, with Django's connection upkeep."""
    return _DbCall(func, thread_sensitive=False, executor=_pool)
