"""A TCP proxy a test puts in front of a server so that it can break the connection.

Two ways to break it:

- `blackhole()`: the browser's network drop. Chromium's offline emulation
  (`context.set_offline`) does not reliably cut a WebSocket that is already open, so the
  browser talks to the server through this proxy instead. Open connections stay open but
  nothing passes (no FIN, no RST, as when a phone loses its network); new connections are
  refused.
- `outage()`: the dependency went down (e.g. PostgreSQL in front of which the proxy
  sits). Every proxied connection is closed and new ones are refused.

`restore()` lets new connections through again (after a black hole it also drops the
dead connections left over from it); `close()` stops the proxy.
"""

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection

from tests.support.servers import test_database_url


class TcpProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._blackholed = False
        self._down = False
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def blackhole(self) -> None:
        """Open connections stay open but every byte is lost; new connections are refused."""
        with self._lock:
            self._blackholed = True

    def outage(self) -> None:
        """Every proxied connection is closed; new connections are refused."""
        with self._lock:
            self._down = True
        self._close_open()

    def restore(self) -> None:
        """New connections pass again; the connections a black hole left are dropped."""
        with self._lock:
            blackholed, self._blackholed, self._down = self._blackholed, False, False
        if blackholed:
            self._close_open()

    def close(self) -> None:
        with self._lock:
            self._closed = self._down = True
        self._close_open()
        _close(self._listener)

    def _refusing(self) -> bool:
        return self._blackholed or self._down or self._closed

    def _close_open(self) -> None:
        with self._lock:
            sockets, self._open = list(self._open), set()
        for sock in sockets:
            _close(sock)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self._refusing():
                _close(client)  # refused: the client sees the connection closed at once
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                _close(client)
                continue
            with self._lock:
                refused = self._refusing()
                if not refused:
                    self._open.update((client, upstream))
            if refused:  # broken while the upstream connection was being made
                _close(client)
                _close(upstream)
                continue
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                if not self._blackholed:  # black hole: the bytes are lost on the way
                    sink.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._open.difference_update((source, sink))
            _close(source)
            _close(sink)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


@contextmanager
def database_proxy() -> Iterator[tuple[TcpProxy, str]]:
    """A proxy in front of the test database, and the DATABASE_URL through it (for a
    server process the test cuts off from PostgreSQL); closed after."""
    db = connection.settings_dict
    port = int(db.get("PORT") or 5432)
    proxy = TcpProxy(port, db.get("HOST") or "127.0.0.1")
    try:
        yield proxy, test_database_url().replace(f":{port}/", f":{proxy.port}/")
    finally:
        proxy.close()
