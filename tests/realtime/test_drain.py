"""SIGTERM drains a process: it fails /readyz at once and refuses new sockets, closes its
open sockets (4012, the client reconnects elsewhere) in batches spread over
DRAIN_SECONDS rather than all at once, and exits within DRAIN_SECONDS + 5."""

import json
import signal
import threading
import time
import urllib.error
import urllib.request

import pytest
from websockets.exceptions import ConnectionClosed

from coaching.realtime.open_sockets import drain_batches
from coaching.realtime.socket import CLOSE_SERVICE_RESTART
from tests.support.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

DRAIN = 2.0


def readiness(server) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"{server.http_url}/readyz", timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_batches_spread_the_sockets_over_the_drain():
    assert drain_batches(0, 10) == (0, 10)
    assert drain_batches(2, 10) == (1, 5)  # one at 0 s, one at 5 s
    assert drain_batches(1000, 10) == (50, 0.5)  # 20 batches, half a second apart


def test_sigterm_drains_the_sockets_over_time_then_exits(
    spawn_server, connect, student, active_session
):
    server = spawn_server(DRAIN_SECONDS=str(DRAIN))
    clients = [connect(student, on=server) for _ in range(4)]
    for client in clients:
        client.join_ok(active_session.topic)
    closed: list[tuple[float, int | None]] = []

    def watch(client) -> None:
        try:
            while True:
                client.ws.recv(timeout=30)
        except ConnectionClosed:
            closed.append((time.monotonic(), client.ws.close_code))

    watchers = [threading.Thread(target=watch, args=(c,)) for c in clients]
    for watcher in watchers:
        watcher.start()
    server.proc.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    # The signal reaches the process's loop asynchronously; from then on it is not ready.
    draining = wait_until(
        "/readyz to say the process drains",
        lambda: readiness(server),
        until=lambda answer: answer[0] == 503,
        wait=DRAIN,
        every=0.02,
    )
    assert draining == (503, {"status": "unavailable", "failed": ["draining"]})
    code = server.proc.wait(timeout=DRAIN + 5 + 5)  # + slack for a loaded machine
    exited = time.monotonic() - signalled
    for watcher in watchers:
        watcher.join(timeout=10)
    server.proc = None
    assert code == 0
    assert sorted(code for _, code in closed) == [CLOSE_SERVICE_RESTART] * 4
    times = sorted(at for at, _ in closed)
    # Four batches half a second apart: not one instant (a lower bound, safe under load).
    assert times[-1] - times[0] >= 1.0
    print(f"\n4 sockets closed over {times[-1] - times[0]:.2f} s; exited after {exited:.2f} s")
