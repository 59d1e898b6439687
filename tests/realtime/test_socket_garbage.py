"""A closed socket leaves no reference cycles behind, in our code or in the server
libraries' objects it used: it is freed when it closes, so closing many sockets at once
leaves no pile of garbage for a full collection to walk with the event loop stopped
(bench/close_storm.py measures the pause)."""

import collections
import json
import signal
from pathlib import Path

import pytest

from tests.support.servers import ROOT, ServerProcess
from tests.support.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

PROBE = ROOT / "tests" / "support" / "garbage_probe"
SOCKETS = 12
# redis-py's INFO reply parser (the presence heartbeat asks Redis for its run_id) leaves
# a closure that calls itself: a cell, a tuple and this function, per heartbeat.
REDIS_INFO_CYCLE = "function redis._parsers.helpers.parse_info.<locals>.get_value"
# The objects of one socket's cycles before they were cut (bench/close_storm.py: ~108).
SOCKET_TYPES = {
    "PhoenixSocket",
    "TopicProcess",
    "SessionChannel",
    "Task",
    "WebSocketProtocol",
    "HTTPChannel",
    "WebRequest",
    "Deferred",
}


def census(server: ServerProcess, path: Path) -> dict:
    """The server's full collection: what it found unreachable, and the WebSocket
    connections it still holds (tests/support/garbage_probe)."""
    path.unlink(missing_ok=True)
    server.proc.send_signal(signal.SIGUSR2)
    return json.loads(wait_until("the server's census", lambda: path.exists() and path.read_text()))


def test_closed_sockets_leave_no_cyclic_garbage(
    spawn_server, connect, student, coach, active_session, tmp_path
):
    path = tmp_path / "census.json"
    server = spawn_server(PYTHONPATH=str(PROBE), GARBAGE_PROBE=str(path))
    topic = active_session.topic
    with connect(coach, on=server) as warm_up:  # loads what the first join loads
        warm_up.join_ok(topic)
    wait_until("no connection held", lambda: census(server, path)["connections"] == 0)

    clients = [connect(student, on=server) for _ in range(SOCKETS)]
    for client in clients:
        client.join_ok(topic)
    assert census(server, path)["connections"] == SOCKETS
    for client in clients:
        client.close()
    # Collected again and again until the server has let every connection go (daphne
    # drops a closed one at its next check, every second): all they left behind.
    garbage: collections.Counter = collections.Counter()

    def connections_held() -> int:
        found = census(server, path)
        garbage.update(found["garbage"])
        return found["connections"]

    wait_until("the closed connections let go", connections_held, until=lambda n: n == 0)
    beats = garbage[REDIS_INFO_CYCLE]
    garbage.subtract({REDIS_INFO_CYCLE: beats, "cell": beats, "tuple": beats})
    left = +garbage
    assert not SOCKET_TYPES & left.keys(), left
    assert sum(left.values()) < SOCKETS, left  # not even one object per socket
