"""Presence through a Redis restart: a client never sees someone still connected leave.

Two server processes share a private Redis, which is killed (every key lost) or
stopped with a snapshot (and its alive keys expire meanwhile), then started again on
the same port. Throughout, a client on each process builds its presence list from
every `presence:state` and `presence:diff` it is sent, as phoenix.js's `Presence`
does, and fresh joins keep arriving on both processes; every list any of them holds,
after every frame, must show each connected user with each of their connections.
"""

import threading
import time
from collections.abc import Iterator

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.support.faults import RedisServer
from tests.support.phoenix import PhoenixClient
from tests.support.waiting import wait_until

HEARTBEAT, NODE_TTL = 0.5, 2.0
FAST_PRESENCE = {"PRESENCE_HEARTBEAT": str(HEARTBEAT), "PRESENCE_NODE_TTL": str(NODE_TTL)}
# Longer than NODE_TTL: alive keys a snapshot brings back have expired by the restart.
OUTAGE = NODE_TTL + 1.0
# Watched after the restart: past every resync and reaping the protocol documents.
AFTERWARDS = NODE_TTL + 4 * HEARTBEAT + 2.0
SLACK = 8.0  # a loaded 2-core machine


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.close()


class PresenceWatch:
    """Reads every frame `client` is sent (in a thread) and keeps the presence list of
    `topic` as phoenix.js's `Presence` does (`syncState`, `syncDiff`): key → phx_ref →
    meta. Each list it held that lacks a connection of `required` is kept as a fault."""

    def __init__(self, client: PhoenixClient, topic: str, required: dict[str, int]) -> None:
        self.client, self.topic, self.required = client, topic, required
        self.metas: dict[str, dict[str, dict]] = {}
        self.frames = 0
        self.armed = False  # faults count once the list has been whole
        self.faults: list[tuple[float, str, dict[str, int]]] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, daemon=True)

    def take_inbox(self) -> "PresenceWatch":
        """Apply the frames the client read already; then read the rest in the thread."""
        for frame in self.client.inbox:
            self._apply(frame)
        self.client.inbox.clear()
        self._thread.start()
        return self

    def shown(self) -> dict[str, int]:
        with self._lock:
            return {key: len(refs) for key, refs in self.metas.items()}

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                frame = self.client._read(0.2)
            except TimeoutError:
                continue
            except ConnectionClosed:
                return
            self._apply(frame)

    def _apply(self, frame: list) -> None:
        _, _, topic, event, payload = frame
        if topic != self.topic or event not in ("presence:state", "presence:diff"):
            return
        with self._lock:
            if event == "presence:state":
                self.metas = {k: {m["phx_ref"]: m for m in v["metas"]} for k, v in payload.items()}
            else:
                for key, value in payload["joins"].items():
                    self.metas.setdefault(key, {}).update({m["phx_ref"]: m for m in value["metas"]})
                for key, value in payload["leaves"].items():
                    for m in value["metas"]:
                        self.metas.get(key, {}).pop(m["phx_ref"], None)
                    if not self.metas.get(key):
                        self.metas.pop(key, None)
            self.frames += 1
            shown = {key: len(refs) for key, refs in self.metas.items()}
        if self.armed and any(shown.get(key, 0) < n for key, n in self.required.items()):
            self.faults.append((time.monotonic(), event, shown))

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)


class Prober:
    """Fresh joins, one after another on each process in turn, for as long as it runs:
    the `presence:state` each is sent must list everyone connected (besides itself)."""

    def __init__(self, connect, user, servers, topic: str, required: dict[str, int]) -> None:
        self.connect, self.user, self.servers = connect, user, servers
        self.topic, self.required = topic, required
        self.joins = 0
        self.faults: list[tuple[float, dict[str, int]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "Prober":
        self._thread.start()
        return self

    def _run(self) -> None:
        turn = 0
        while not self._stop.is_set():
            server = self.servers[turn % len(self.servers)]
            turn += 1
            try:
                with self.connect(self.user, on=server) as probe:
                    _, reply = probe.join(self.topic)
                    if reply["status"] != "ok":
                        continue  # Redis not answering yet: refused, not shown anything
                    state = probe.event(self.topic, "presence:state", timeout=SLACK)
            except (InvalidStatus, ConnectionClosed, OSError, TimeoutError):
                continue  # refused while Redis is down
            self.joins += 1
            shown = {key: len(value["metas"]) for key, value in state.items()}
            if any(shown.get(key, 0) < n for key, n in self.required.items()):
                self.faults.append((time.monotonic(), shown))
            self._stop.wait(0.1)  # the probes' pace, not an ordering

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=SLACK + 5)


@pytest.mark.parametrize("keeps_data", [False, True], ids=["data_lost", "data_reloaded"])
def test_no_client_sees_a_connected_user_leave_through_a_redis_restart(
    spawn_server, connect, private_redis, make_user, student, coach, active_session, keeps_data
):
    topic = active_session.topic
    env = {**FAST_PRESENCE, "REDIS_URL": private_redis.url}
    # Process two beats less often: process one finds the restart first and sweeps
    # before two has written anything back.
    one, two = spawn_server(**env), spawn_server(**{**env, "PRESENCE_HEARTBEAT": "1.0"})
    watcher_one = make_user("student", staff=True, name="Watcher one")
    watcher_two = make_user("student", staff=True, name="Watcher two")
    leaver = make_user("student", staff=True, name="Leaves during the outage")
    prober = make_user("student", staff=True, name="Prober")

    clients = [
        (connect(student, on=one), "student"),
        (connect(student, on=two), "student's second tab"),
        (connect(coach, on=two), "coach"),
        (connect(watcher_one, on=one), "watcher one"),
        (connect(watcher_two, on=two), "watcher two"),
    ]
    for client, _ in clients:
        client.join_ok(topic)
    gone = connect(leaver, on=one)
    gone.join_ok(topic)
    required = {str(student.pk): 2, str(coach.pk): 1, str(watcher_one.pk): 1}
    required[str(watcher_two.pk)] = 1
    everyone = {**required, str(leaver.pk): 1}
    watches = [
        PresenceWatch(client, topic, required).take_inbox()
        for client, name in clients
        if name.startswith("watcher")
    ]
    for watch in watches:
        wait_until(
            "each watcher to list everyone", watch.shown, until=lambda s: s == everyone, wait=SLACK
        )
        watch.armed = True

    if keeps_data:
        private_redis.shutdown_saving()  # every entry comes back with the restart
    else:
        private_redis.kill()  # every presence key is lost
    gone.close()  # leaves while Redis is down
    time.sleep(OUTAGE)  # the outage (the scenario, not an ordering)
    private_redis.start()
    restarted_at = time.monotonic()
    probes = Prober(connect, prober, [one, two], topic, required).start()
    time.sleep(AFTERWARDS)  # watched for that long (the scenario, not an ordering)
    probes.stop()

    for watch in watches:
        wait_until(
            "each watcher's list to be who is connected",
            watch.shown,
            until=lambda s: s == required,
            wait=SLACK,
        )
        watch.stop()
    frames = sum(w.frames for w in watches)
    faults = [
        (round(at - restarted_at, 2), event, shown)
        for w in watches
        for at, event, shown in w.faults
    ]
    probe_faults = [(round(at - restarted_at, 2), shown) for at, shown in probes.faults]
    assert probes.joins >= 4, "too few fresh joins during the restart to tell anything"
    assert faults == [], (
        f"a watcher's list lacked someone connected (s after the restart): {faults}"
    )
    assert probe_faults == [], f"a fresh join's state lacked someone connected: {probe_faults}"
    print(
        f"Redis restart, data {'reloaded' if keeps_data else 'lost'}: {frames} presence frames "
        f"to the watchers and {probes.joins} fresh joins' states, every one listing everyone "
        "connected; the leave during the outage shown"
    )
