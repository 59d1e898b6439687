"""asyncpg on the socket path: how it connects, what counts as unreachable, and model
instances from its rows.

The socket's hot path (chat writes, connect and join reads) talks to PostgreSQL from
the event loop through asyncpg instead of the ORM on a thread: no thread hop, no SQL
compiled per call, and a compiled protocol. Rows still become the project's model
instances (`Model.from_db`, what the ORM itself uses), so payloads keep coming from
events.py.
"""

import asyncio
import json
from collections.abc import Sequence
from functools import cache
from typing import Any

import asyncpg
import orjson
from django.conf import settings
from django.db import connections, models

from coaching.outage import DatabaseUnreachable, is_database_down

# A database that does not answer a connect, or a statement, within this many seconds
# counts as down (a network that silently drops everything would otherwise hold every
# request on the connection for as long as TCP takes to give up).
CONNECT_TIMEOUT = 5
STATEMENT_TIMEOUT = 10


def connection_params() -> dict[str, Any]:
    """asyncpg's arguments for Django's default database (the test database under
    pytest): the same server, database, user and TLS mode."""
    params = connections["default"].get_connection_params()
    args: dict[str, Any] = {
        "host": params.get("host") or None,
        "port": params.get("port") or None,
        "user": params.get("user") or None,
        "password": params.get("password") or None,
        "database": params.get("dbname"),
        "timeout": CONNECT_TIMEOUT,
        "command_timeout": STATEMENT_TIMEOUT,
    }
    if params.get("sslmode"):
        args["ssl"] = params["sslmode"]
    return args


def unreachable(exc: BaseException) -> bool:
    """What `is_database_down` knows, and a refused, reset or timed-out connection
    (`TimeoutError` is an `OSError`)."""
    return isinstance(exc, OSError) or is_database_down(exc)


def columns(model: type[models.Model], alias: str) -> str:
    """`alias.col, …` for every concrete field of `model`, in `from_db`'s order."""
    return ", ".join(f'{alias}."{field.column}"' for field in model._meta.concrete_fields)


def row_of(model: type[models.Model], alias: str) -> str:
    """The model's columns as one anonymous record (asyncpg reads it as a tuple)."""
    return f"ROW({columns(model, alias)})"


def json_value(value: str) -> Any:
    """A json/jsonb column as asyncpg returns it (text), decoded as the ORM would."""
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return json.loads(value)  # what orjson refuses: integers past 64 bits


def instance(model: type[models.Model], values: Sequence[Any]) -> models.Model:
    """A model instance from `columns(model, …)` values, as the ORM would load it
    (JSON columns arrive as text from asyncpg and are decoded here)."""
    values = list(values)
    for i in _json_positions(model):
        if values[i] is not None:
            values[i] = json_value(values[i])
    return model.from_db("default", None, values)


_JSON_POSITIONS: dict[type[models.Model], list[int]] = {}


def _json_positions(model: type[models.Model]) -> list[int]:
    positions = _JSON_POSITIONS.get(model)
    if positions is None:
        positions = _JSON_POSITIONS[model] = [
            i
            for i, field in enumerate(model._meta.concrete_fields)
            if isinstance(field, models.JSONField)
        ]
    return positions


class LoopPool:
    """A pool of up to `size` asyncpg connections (opened as needed) for the running
    loop; a connection that cannot be made or answer in time raises `DatabaseUnreachable`,
    which counts as the database being down (coaching.outage)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pool: asyncio.Task[asyncpg.Pool] | None = None

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        try:
            pool = await self._connected()
            async with pool.acquire() as conn:
                return await conn.fetch(sql, *args)
        except Exception as exc:
            if unreachable(exc) and not is_database_down(exc):
                raise DatabaseUnreachable(f"{type(exc).__name__}: {exc}") from exc
            raise

    async def close(self) -> None:
        """Close the connections (tests; servers just exit)."""
        pool, self._pool, self._loop = self._pool, None, None
        if pool is not None and pool.done() and not pool.cancelled() and not pool.exception():
            await pool.result().close()

    async def _open(self) -> asyncpg.Pool:
        return await asyncpg.create_pool(
            min_size=0, max_size=self._size, reset=_nothing_to_reset, **connection_params()
        )

    async def _connected(self) -> asyncpg.Pool:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a pool belongs to one loop (tests run several)
            _abandon(self._pool)
            self._loop = loop
            self._pool = loop.create_task(self._open())
        pool = self._pool
        try:
            return await asyncio.shield(pool)
        except Exception:
            if self._pool is pool:
                self._loop = self._pool = None  # the next call tries again
            raise


async def _nothing_to_reset(conn: asyncpg.Connection) -> None:
    """The pool's connections only run single statements (no transaction left open, no
    settings, listeners, cursors or advisory locks), so a connection goes back as it
    came: asyncpg's default reset (`RESET ALL`, `UNLISTEN *`, …) was one more round trip
    per statement, 5 % of a join storm's CPU. asyncpg still rolls back a transaction
    left open before calling this."""


def _abandon(pool: "asyncio.Task[asyncpg.Pool] | None") -> None:
    """Drop the connections of a pool left on another loop."""
    if pool is None or not pool.done() or pool.cancelled() or pool.exception():
        return
    try:
        pool.result().terminate()
    except RuntimeError:
        pass  # that loop is closed: its sockets close when the pool is collected


@cache
def socket_pool() -> LoopPool:
    """The process's pool for the socket's reads and notices (`SOCKET_DB_CONNECTIONS`)."""
    return LoopPool(settings.SOCKET_DB_CONNECTIONS)
