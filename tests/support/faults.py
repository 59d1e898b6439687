"""A dependency the fault tests may break: a private Redis.

The machine's shared Redis and PostgreSQL are never stopped; a test that needs
Redis to die starts its own `redis-server` on a free port, and a test that needs
PostgreSQL to go away puts a `tests.support.proxy.TcpProxy` it controls between the
servers and the test database.
"""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import redis

from tests.support.servers import free_port
from tests.support.waiting import wait_until


def require_binary(name: str) -> str:
    """The binary's path; skips the test when it is missing (fails under REQUIRE_SERVICES)."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed"
        if os.environ.get("REQUIRE_SERVICES"):
            pytest.fail(f"REQUIRE_SERVICES: {message}")
        pytest.skip(message)
    return path


class RedisServer:
    """A private `redis-server`. `kill()` loses every key; `shutdown_saving()` writes
    them to disk first, and the next `start()` loads them back (as a restart of a
    Redis configured with snapshots does)."""

    def __init__(self, *options: str) -> None:
        """`options`: more `redis-server` arguments, e.g. `--rename-command INFO ""`."""
        self.options = options
        self.binary = require_binary("redis-server")
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="fault-redis-"))
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, decode_responses=True, socket_timeout=2)

    def start(self) -> "RedisServer":
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
                *self.options,
            ],
            stdout=open(self.dir / "redis.log", "ab"),
            stderr=subprocess.STDOUT,
        )

        def answers() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(f"private redis-server exited: see {self.dir / 'redis.log'}")
            try:
                return bool(self.client().ping())
            except redis.RedisError:
                return False

        wait_until("the private redis-server to answer PING", answers, wait=10)
        return self

    def kill(self) -> None:
        """SIGKILL: every key is lost, every connection drops."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def shutdown_saving(self) -> None:
        """A graceful stop that saves the keys, to be loaded by the next start."""
        try:
            self.client().shutdown(save=True)
        except redis.ConnectionError:
            pass  # the server closes the connection as it exits
        if self.proc is not None:
            self.proc.wait(timeout=10)
            self.proc = None

    def close(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)
