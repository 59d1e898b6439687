"""A TCP proxy between a browser and a server that a test can cut, like a network drop.

Chromium's offline emulation (`context.set_offline`) does not reliably cut a WebSocket
that is already open, so the browser talks to the server through this proxy instead.
`cut()` makes it a black hole (open connections stay open but nothing passes, as when a
phone loses its network; new connections are refused); `restore()` drops the dead
connections and lets new ones through again.
"""

import socket
import threading

from tests.support.servers import free_port


class CuttableProxy:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.cut_off = threading.Event()
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cut(self) -> None:
        self.cut_off.set()

    def restore(self) -> None:
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            _close(conn)
        self.cut_off.clear()

    def close(self) -> None:
        self._closed = True
        self.restore()
        _close(self._listener)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.cut_off.is_set():
                _close(client)  # no network: the connection attempt fails
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
                upstream.settimeout(None)
            except OSError:
                _close(client)
                continue
            with self._lock:
                self._conns += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                if not self.cut_off.is_set():  # cut: the bytes are lost on the way
                    sink.sendall(data)
        except OSError:
            pass
        finally:
            _close(sink)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
