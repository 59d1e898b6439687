"""The process's metrics, in Prometheus's text format at `GET /metrics` (realtime/health.py).

Labels take values from fixed sets only (an event a client made up counts as `other`),
so a client cannot grow the series. What is measured per broadcast is measured once
per process, not once per socket, to stay off the delivery path's cost
(bench/README.md). docs/operations.md lists each metric and what to alert on.
"""

import time

from prometheus_client import Counter, Gauge, Histogram

SOCKETS_OPEN = Gauge("inswing_sockets_open", "Sockets open on this process.")
CHANNEL_JOINS = Counter(
    "inswing_channel_joins", "Topic joins by topic kind and outcome.", ["topic", "outcome"]
)
PUSHES = Counter("inswing_pushes", "Client pushes by event and reply status.", ["event", "status"])
BROADCAST_DELIVERY = Histogram(
    "inswing_broadcast_delivery_seconds",
    "From a broadcast's publish (after its commit) to its first frame sent by this process.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
CHAT_BATCH_SIZE = Histogram(
    "inswing_chat_batch_size",
    "Chat lines stored per batch by the socket's chat writer.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 200),
)
LOOP_LAG = Histogram(
    "inswing_event_loop_lag_seconds",
    "How late the event loop ran the once-a-second socket check: the loop's lag, sampled.",
    buckets=(0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
PRESENCE_ENTRIES = Gauge("inswing_presence_entries", "Presence entries this process tracks.")
RATE_LIMITED = Counter("inswing_rate_limited", "Pushes refused by a rate limit.", ["kind"])
SOCKET_DISCONNECTS = Counter("inswing_socket_disconnects", "Sockets closed, by reason.", ["reason"])
DEPENDENCY_ERRORS = Counter(
    "inswing_dependency_errors", "Failures reaching a dependency.", ["dependency"]
)

# The events clients may push (coaching/realtime/session_channel.py, lobby_channel.py).
KNOWN_EVENTS = frozenset(
    {
        "phx_join",
        "phx_leave",
        "heartbeat",
        "chat:new",
        "session:control",
        "annotation:save",
        "review:update",
        "review:lead",
        "review:stroke",
        "review:clear",
        "review:ask_lead",
        "review:answer_lead",
        "review:alone",
        "review:bring_back",
        "call:ring",
        "call:accept",
        "call:decline",
        "call:hangup",
        "call:status",
        "call:signal",
    }
)


def topic_kind(topic: str) -> str:
    kind = topic.split(":", 1)[0]
    return kind if kind in ("session", "lobby") else "other"


def event_label(event: str) -> str:
    return event if event in KNOWN_EVENTS else "other"


def pushed(event: str, status: str) -> None:
    """A push answered `status` (`ok`, or the error's reason)."""
    PUSHES.labels(event_label(event), status).inc()


def delivered(published_at: float | None) -> None:
    if published_at is not None:
        BROADCAST_DELIVERY.observe(max(0.0, time.time() - published_at))
