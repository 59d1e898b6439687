"""What the servers publish on a Redis channel, seen through MONITOR (every command
Redis runs, from every client): a count that does not depend on who listens."""

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import redis
from django.conf import settings


@contextmanager
def publishes_on(channel: str) -> Iterator[list[str]]:
    """The PUBLISH commands on `channel` run while the block runs (and until the
    monitor has read up to its end), as MONITOR prints them."""
    seen: list[str] = []
    end = f"publishes-on-end-{uuid.uuid4().hex}"
    ready = threading.Event()
    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=30)

    def watch() -> None:
        with client.monitor() as monitor:
            ready.set()
            for command in monitor.listen():
                line = command["command"]
                if end in line:
                    return
                if line.startswith(f"PUBLISH {channel} "):
                    seen.append(line)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    ready.wait(5)
    try:
        yield seen
    finally:
        client.echo(end)
        watcher.join(30)
        client.close()
