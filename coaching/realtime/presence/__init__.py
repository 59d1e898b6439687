"""Who is connected to which topic, in the Phoenix Presence format.

With `REDIS_URL` the entries live in Redis, shared by all server processes; each
process keeps a heartbeat key alive, and when one stops (crash, SIGKILL) the others
remove its entries and announce the leaves within PRESENCE_NODE_TTL +
PRESENCE_HEARTBEAT seconds. Without it they live in the process's memory.

The parts: wire.py, the payloads and the merging of diffs; stores.py, where the
entries live (memory, Redis); heartbeat.py, each process's liveness in Redis and the
reaping of a dead one's entries. Callers import what this module hands on.
"""

from django.conf import settings

from coaching.realtime.presence.stores import MemoryPresence, RedisPresence, Tracked
from coaching.realtime.presence.wire import (
    PRESENCE_DIFF,
    PRESENCE_STATE,
    State,
    diff,
    merged_diff,
    new_ref,
)

__all__ = [
    "PRESENCE_DIFF",
    "PRESENCE_STATE",
    "MemoryPresence",
    "RedisPresence",
    "State",
    "Tracked",
    "diff",
    "get_presence",
    "merged_diff",
    "new_ref",
]


def _build() -> MemoryPresence | RedisPresence:
    if settings.REDIS_URL:
        return RedisPresence(
            settings.REDIS_URL,
            settings.REALTIME_PREFIX,
            settings.PRESENCE_HEARTBEAT,
            settings.PRESENCE_NODE_TTL,
        )
    return MemoryPresence()


_presence: MemoryPresence | RedisPresence | None = None


def get_presence() -> MemoryPresence | RedisPresence:
    global _presence
    if _presence is None:
        _presence = _build()
    return _presence
