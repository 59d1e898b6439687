"""A dependency that is down: how it is recognized, what clients are told, how it is logged.

While PostgreSQL is unreachable every request fails the same way; clients get a
retryable `unavailable` error (REST: 503 with `Retry-After`) instead of
`internal_error`, and the log gets one line per kind of failure per
`OUTAGE_LOG_INTERVAL` seconds, with how many were suppressed, not a traceback each.
"""

import logging
import threading
import time

import asyncpg
import psycopg
from django.conf import settings
from django.db import InterfaceError, OperationalError

from coaching.prometheus import DEPENDENCY_ERRORS

UNAVAILABLE_MESSAGE = "The service is briefly unavailable; try again shortly."


class DatabaseUnreachable(Exception):
    """asyncpg could not connect or got no answer in time (it raises `OSError`s, which
    alone do not say which dependency failed)."""


# Lost or refused connections, and server shutdowns. Constraint or data errors are
# not outages: they are bugs, and are logged as such.
_DATABASE_DOWN = (
    DatabaseUnreachable,
    OperationalError,
    InterfaceError,
    psycopg.OperationalError,
    # asyncpg (the socket path's reads and chat writer): lost connections, shutdowns,
    # too many clients
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.InterfaceError,
    # A session the server ends while a query is being sent can surface as this instead
    # of a lost connection (asyncpg #1069); the connection is closed by then.
    asyncpg.exceptions.InternalClientError,
)


def is_database_down(exc: BaseException) -> bool:
    """Whether `exc` says the database cannot be reached (rather than refusing a query)."""
    return isinstance(exc, _DATABASE_DOWN)


def retry_after_ms() -> int:
    return int(settings.OUTAGE_RETRY_AFTER_SECONDS * 1000)


def unavailable_error() -> dict:
    """The socket's error response while a dependency is down."""
    return {
        "reason": "unavailable",
        "message": UNAVAILABLE_MESSAGE,
        "retry_after_ms": retry_after_ms(),
    }


class ThrottledLog:
    """Logs a kind of failure at most once per interval, counting the ones it skipped."""

    def __init__(self, logger: logging.Logger, interval: float) -> None:
        self._logger = logger
        self._interval = interval
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self._skipped: dict[str, int] = {}

    def warning(self, kind: str, message: str, *args: object) -> bool:
        """Log `message` unless `kind` was logged within the interval; True when logged."""
        now = time.monotonic()
        with self._lock:
            last = self._last.get(kind)
            if last is not None and now - last < self._interval:
                self._skipped[kind] = self._skipped.get(kind, 0) + 1
                return False
            self._last[kind] = now
            skipped = self._skipped.pop(kind, 0)
        suffix = f" ({skipped} more since the last report)" if skipped else ""
        self._logger.warning(message + suffix, *args)
        return True


outage_log = ThrottledLog(logging.getLogger("coaching.outage"), settings.OUTAGE_LOG_INTERVAL)


def log_redis_down(where: str, exc: BaseException) -> None:
    """The same for Redis (`inswing_dependency_errors_total{dependency="redis"}`)."""
    DEPENDENCY_ERRORS.labels("redis").inc()
    outage_log.warning(
        f"redis:{where}", "redis unavailable in %s: %s: %s", where, type(exc).__name__, exc
    )


def log_database_down(where: str, exc: BaseException) -> None:
    """One line per `where` per interval: the failure's class and text, no traceback;
    every failure counted (`inswing_dependency_errors_total`)."""
    DEPENDENCY_ERRORS.labels("postgresql").inc()
    outage_log.warning(
        f"database:{where}", "database unavailable in %s: %s: %s", where, type(exc).__name__, exc
    )
