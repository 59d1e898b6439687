"""The service under faults: a crashed process, a Redis restart, a PostgreSQL outage.

Each test breaks only what it started itself (a private redis-server, a proxy in
front of the test database) and is bounded: it waits for the documented bounds
(presence: PRESENCE_HEARTBEAT + PRESENCE_NODE_TTL) plus slack, never for ever.
"""

import signal
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest
from django.db import connection
from websockets.exceptions import ConnectionClosed, InvalidStatus

from coaching.models import ChatMessage, CoachingSession
from tests.support import servers
from tests.support.faults import RedisServer
from tests.support.phoenix import PhoenixClient
from tests.support.proxy import TcpProxy
from tests.support.servers import ServerProcess
from tests.support.sockets import Connect
from tests.support.waiting import wait_until

# Short liveness settings so that the bounds are seconds; defaults are 5 s / 20 s.
HEARTBEAT, NODE_TTL = 0.5, 2.0
FAST_PRESENCE = {"PRESENCE_HEARTBEAT": str(HEARTBEAT), "PRESENCE_NODE_TTL": str(NODE_TTL)}
CONVERGENCE_BOUND = HEARTBEAT + NODE_TTL
# A loaded 2-core machine (make test runs parallel test processes on it); the figure printed
# is what counts.
SLACK = 15.0


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.close()


def present(connect: Connect, on: ServerProcess, user, topic: str) -> dict[str, int]:
    """Who a fresh join of `topic` on this process is shown (user id → connections),
    not counting the looking connection itself."""
    with connect(user, on=on) as probe:
        probe.join_ok(topic)
        state = probe.event(topic, "presence:state")
    seen = {key: len(value["metas"]) for key, value in state.items()}
    seen[str(user.pk)] -= 1
    return {key: n for key, n in seen.items() if n}


def converge(
    connect: Connect, on: ServerProcess, user, topic: str, expected: dict[str, int], bound: float
) -> float:
    """Poll fresh joins until presence is `expected`; returns when, within `bound` seconds."""
    started = time.monotonic()
    wait_until(
        f"presence to be {expected}",
        lambda: present(connect, on, user, topic),
        until=lambda seen: seen == expected,
        wait=bound,
        every=0.1,
    )
    return time.monotonic() - started


# These tests push chat faster than a person: the per-user chat limit is not under test.
NO_CHAT_LIMIT = {"CHAT_RATE_PER_SECOND": "1000", "CHAT_RATE_BURST": "1000"}


class ChatLog:
    """What one sender had acknowledged, to check a listener got each exactly once, in order."""

    def __init__(self, client: PhoenixClient, topic: str, join_ref: str) -> None:
        self.client, self.topic, self.join_ref = client, topic, join_ref
        self.acked: list[str] = []
        self.refused = 0

    def say(self, text: str, timeout: float = 10.0) -> None:
        ref = self.client.push(self.topic, "chat:new", {"message": text}, self.join_ref)
        try:
            reply = self.client.reply(ref, timeout=timeout)
        except TimeoutError:
            self.refused += 1
            return
        if reply["status"] == "ok":
            self.acked.append(text)
        else:
            self.refused += 1


def chat_rows(session) -> list[str]:
    return list(
        ChatMessage.objects.filter(session=session)
        .order_by("seq")
        .values_list("message", flat=True)
    )


def drain_until_closed(client: PhoenixClient, topic: str, timeout: float = 10.0) -> list[dict]:
    """Chat lines still readable on a socket whose server died."""
    lines: list[dict] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            frame = client.expect(lambda f: f[3] == "chat:added", timeout=1)
            lines.append(frame[4])
    except (ConnectionClosed, TimeoutError, OSError):
        pass
    return lines


def client_presence(
    client: PhoenixClient, topic: str, expected: dict[str, int], timeout: float
) -> dict[str, int]:
    """The presence list `client` holds, built from the `presence:state` and
    `presence:diff` frames it was sent as phoenix.js's Presence does; read until it
    is `expected` or `timeout` passes."""
    metas: dict[str, dict[str, dict]] = {}  # key -> phx_ref -> meta

    def apply(event: str, payload: dict) -> None:
        nonlocal metas
        if event == "presence:state":
            metas = {k: {m["phx_ref"]: m for m in v["metas"]} for k, v in payload.items()}
            return
        for key, value in payload["joins"].items():
            metas.setdefault(key, {}).update({m["phx_ref"]: m for m in value["metas"]})
        for key, value in payload["leaves"].items():
            for m in value["metas"]:
                metas.get(key, {}).pop(m["phx_ref"], None)
            if not metas.get(key):
                metas.pop(key, None)

    def shown() -> dict[str, int]:
        return {key: len(refs) for key, refs in metas.items()}

    is_presence = lambda f: f[2] == topic and f[3] in ("presence:state", "presence:diff")  # noqa: E731
    for frame in [f for f in client.inbox if is_presence(f)]:
        client.inbox.remove(frame)
        apply(frame[3], frame[4])
    deadline = time.monotonic() + timeout
    while shown() != expected and time.monotonic() < deadline:
        try:
            frame = client.expect(is_presence, timeout=max(deadline - time.monotonic(), 0.01))
        except TimeoutError:
            break
        apply(frame[3], frame[4])
    return shown()


def received_until(client: PhoenixClient, topic: str, last: str, timeout: float) -> list[dict]:
    lines: list[dict] = []
    deadline = time.monotonic() + timeout
    while not lines or lines[-1]["message"] != last:
        try:
            remaining = deadline - time.monotonic()
            lines.append(client.event(topic, "chat:added", timeout=max(remaining, 0.01)))
        except TimeoutError:
            got = [m["message"] for m in lines]
            raise AssertionError(f"{last!r} never arrived; got {got}") from None
    return lines


class TestProcessCrash:
    def test_kill_9_mid_chat_loses_no_acknowledged_line_and_presence_follows(
        self, spawn_server, connect, private_redis, make_user, student, coach, active_session
    ):
        topic = active_session.topic
        env = {**FAST_PRESENCE, **NO_CHAT_LIMIT, "REDIS_URL": private_redis.url}
        doomed, survivor = spawn_server(**env), spawn_server(**env)
        watcher = make_user("student", staff=True, name="Watcher")

        w = connect(watcher, on=doomed)
        d = connect(student, on=doomed)
        c = connect(coach, on=survivor)
        w.join_ok(topic)
        d_ref, _ = d.join_ok(topic)
        c_ref, _ = c.join_ok(topic)
        on_doomed, on_survivor = ChatLog(d, topic, d_ref), ChatLog(c, topic, c_ref)
        for i in range(10):
            on_doomed.say(f"d{i}")
            on_survivor.say(f"c{i}")
        for i in range(10, 15):  # in flight when the process dies: not acknowledged
            d.push(topic, "chat:new", {"message": f"d{i}"}, d_ref)
        doomed.kill()
        killed_at = time.monotonic()

        seen = drain_until_closed(w, topic)
        last_seq = max((m["seq"] for m in seen), default=0)
        w = connect(watcher, on=survivor)  # phoenix.js would rejoin
        w.join_ok(topic, {"last_seq": last_seq})
        for i in range(10, 15):
            on_survivor.say(f"c{i}")
        on_survivor.say("last")
        lines = seen + received_until(w, topic, "last", timeout=10)

        texts = [m["message"] for m in lines]
        assert len(texts) == len(set(texts)), "a chat line was delivered twice"
        assert [m["seq"] for m in lines] == sorted(m["seq"] for m in lines)
        assert texts == chat_rows(active_session)  # everything stored, in order, once
        assert set(on_doomed.acked + on_survivor.acked) <= set(texts)

        expected = {str(coach.pk): 1, str(watcher.pk): 1}
        took = converge(connect, survivor, watcher, topic, expected, CONVERGENCE_BOUND + SLACK)
        print(
            f"after kill -9: {len(on_doomed.acked) + len(on_survivor.acked)} acked lines "
            f"delivered once in order; presence right {time.monotonic() - killed_at:.2f}s "
            f"after the kill (probe {took:.2f}s)"
        )


class TestRedisRestart:
    @pytest.mark.parametrize("keeps_data", [False, True], ids=["data_lost", "data_reloaded"])
    def test_presence_converges_and_acknowledged_chat_is_delivered_once_in_order(
        self,
        spawn_server,
        connect,
        private_redis,
        make_user,
        student,
        coach,
        active_session,
        keeps_data,
    ):
        topic = active_session.topic
        env = {**FAST_PRESENCE, **NO_CHAT_LIMIT, "REDIS_URL": private_redis.url}
        one, two = spawn_server(**env), spawn_server(**env)
        watcher = make_user("student", staff=True, name="Watcher")
        early = make_user("student", staff=True, name="Early")
        late = make_user("student", staff=True, name="Late")

        s = connect(student, on=one)
        c = connect(coach, on=two)
        w = connect(watcher, on=two)
        leaves_early = connect(early, on=one)
        leaves_late = connect(late, on=two)
        s_ref, _ = s.join_ok(topic)
        for client in (c, w, leaves_early, leaves_late):
            client.join_ok(topic)
        chat = ChatLog(s, topic, s_ref)
        for i in range(5):
            chat.say(f"before {i}")

        if keeps_data:
            private_redis.shutdown_saving()  # everyone's entry comes back on restart
        else:
            private_redis.kill()  # every presence key is lost
        killed_at = time.monotonic()
        leaves_early.close()  # leaves while Redis is down
        for i in range(3):
            chat.say(f"during {i}")
        # The outage lasts 6 s (the scenario, not an ordering): longer than the clients'
        # own retries, so that their failures surface.
        time.sleep(max(0.0, 6 - (time.monotonic() - killed_at)))
        private_redis.start()
        restarted_at = time.monotonic()
        leaves_late.close()  # on connections opened before the restart
        for i in range(5):
            chat.say(f"after {i}")
        chat.say("last")

        expected = {str(student.pk): 1, str(coach.pk): 1, str(watcher.pk): 1}
        converge(connect, one, watcher, topic, expected, CONVERGENCE_BOUND + SLACK)
        converged = time.monotonic() - restarted_at
        converge(connect, two, watcher, topic, expected, SLACK)

        lines = received_until(w, topic, "last", timeout=SLACK)
        texts = [m["message"] for m in lines]
        assert len(texts) == len(set(texts)), "a chat line was delivered twice"
        assert [t for t in texts if t in set(chat.acked)] == chat.acked
        assert chat.acked[-1] == "last"
        # The list a connected phoenix.js client keeps (from states and diffs) agrees too.
        shown = client_presence(w, topic, expected, timeout=NODE_TTL + 2 * HEARTBEAT + SLACK)
        assert shown == expected
        client_converged = time.monotonic() - restarted_at
        print(
            f"Redis down 6 s, data {'reloaded' if keeps_data else 'lost'}: presence converged "
            f"{converged:.2f}s after the restart (a connected client's list "
            f"{client_converged:.2f}s); "
            f"{len(chat.acked)} acked lines delivered once in order, {chat.refused} refused"
        )


class TestBroadcastsLostToARedisRestart:
    """What a process's subscriptions missed while broken is made up once they are back,
    even when nothing is broadcast afterwards to reveal the gap."""

    def test_a_missed_access_end_closes_the_socket_and_a_missed_lobby_change_is_refetched(
        self, spawn_server, connect, private_redis, make_user, student, coach
    ):
        server = spawn_server(**FAST_PRESENCE, REDIS_URL=private_redis.url)
        leaving = make_user("student", name="Leaving")
        lobby = connect(coach, on=server)
        _, joined = lobby.join_ok("lobby:coaches")
        assert joined["sessions"] == []
        doomed = connect(leaving, on=server)
        doomed.heartbeat()

        # Made in this process, whose broadcasts never reach the server's Redis: lost.
        waiting = CoachingSession.objects.create(student=student)
        leaving.is_active = False
        leaving.save()
        private_redis.kill()
        private_redis.start()
        restarted_at = time.monotonic()

        assert doomed.wait_closed(SLACK) == (4001, "access_ended")
        closed = time.monotonic() - restarted_at
        assert lobby.event("lobby:coaches", "phx_error", timeout=SLACK) == {"reason": "resync"}
        _, rejoined = lobby.join_ok("lobby:coaches")
        assert [s["session_id"] for s in rejoined["sessions"]] == [waiting.session_id]
        print(
            f"after a Redis restart: the deactivated user's socket closed {closed:.2f}s later; "
            "the lobby was told to rejoin and got the new waiting session"
        )


class TestRedisDown:
    def test_a_join_is_refused_at_once_and_new_sockets_are_refused_cleanly(
        self, spawn_server, connect, private_redis, student, active_session
    ):
        topic = active_session.topic
        server = spawn_server(**FAST_PRESENCE, REDIS_URL=private_redis.url)
        with connect(student, on=server) as s:
            s.heartbeat()
            private_redis.kill()
            asked_at = time.monotonic()
            join_ref, reply = s.join(topic)
            answered = time.monotonic() - asked_at
            assert reply["status"] == "error"
            assert reply["response"]["reason"] == "unavailable"
            assert reply["response"]["message"]
            # Not half-joined: the topic takes no pushes.
            ref = s.push(topic, "chat:new", {"message": "hello"}, join_ref)
            assert s.reply(ref)["response"]["reason"] == "not_joined"

            with pytest.raises(InvalidStatus) as refused:
                connect(student, on=server)
            assert refused.value.response.status_code == 403

            private_redis.start()
            retry_join = wait_until(
                "a join to be accepted once Redis is back",
                lambda: s.join(topic)[1],
                until=lambda reply: reply["status"] == "ok",
                wait=SLACK,
                every=0.3,
            )
        assert retry_join["status"] == "ok"
        print(f"join answered `unavailable` {answered:.2f}s after it was sent, Redis down")


class TestPostgresOutage:
    def test_pushes_fail_during_it_and_service_resumes_without_losing_acknowledged_lines(
        self, spawn_server, connect, student, coach, active_session
    ):
        db = connection.settings_dict
        proxy = TcpProxy(int(db.get("PORT") or 5432), db.get("HOST") or "127.0.0.1")
        try:
            url = servers.test_database_url().replace(
                f":{db.get('PORT') or 5432}/", f":{proxy.port}/"
            )
            server = spawn_server(DATABASE_URL=url, **NO_CHAT_LIMIT)
            topic = active_session.topic
            s = connect(student, on=server)
            w = connect(coach, on=server)
            s_ref, _ = s.join_ok(topic)
            w.join_ok(topic)
            chat = ChatLog(s, topic, s_ref)
            for i in range(5):
                chat.say(f"before {i}")
            proxy.outage()
            down_at = time.monotonic()
            during = 0
            while time.monotonic() - down_at < 4:
                chat.say(f"during {during}")
                during += 1
                time.sleep(0.1)  # a push every tenth of a second: the load, not an ordering
            failed_during = chat.refused
            proxy.restore()
            resumed = retry_until_ok_push(chat, "after 0", timeout=SLACK)
            for i in range(1, 5):
                chat.say(f"after {i}")
            chat.say("last")
            lines = received_until(w, topic, "last", timeout=SLACK)
            texts = [m["message"] for m in lines]
            assert failed_during > 0
            assert len(texts) == len(set(texts)), "a chat line was delivered twice"
            assert [t for t in texts if t in set(chat.acked)] == chat.acked
            assert set(chat.acked) <= set(chat_rows(active_session))
            print(
                f"PostgreSQL down 4 s: {failed_during} of {during} pushes got an error reply; "
                f"service resumed {resumed:.2f}s after the outage; {len(chat.acked)} acked, "
                "all stored and delivered once in order"
            )
            s.close()  # before the proxy goes: the server's leaves reach the database
            w.close()
        finally:
            proxy.close()


def retry_until_ok_push(chat: ChatLog, text: str, timeout: float) -> float:
    """Push `text` until acknowledged; returns the seconds it took."""
    started = time.monotonic()

    def acknowledged() -> bool:
        acked = len(chat.acked)
        chat.say(text)
        return len(chat.acked) > acked

    wait_until("the service to resume (a push acknowledged)", acknowledged, wait=timeout, every=0.2)
    return time.monotonic() - started


class TestShutdown:
    def test_sigterm_under_chat_load_exits_promptly_and_keeps_every_acknowledged_line(
        self, spawn_server, connect, student, coach, active_session
    ):
        server = spawn_server(
            CHAT_RATE_PER_SECOND="1000", CHAT_RATE_BURST="1000"
        )  # load, not abuse
        topic = active_session.topic
        acked: list[str] = []
        closed_codes: list[int | None] = []
        stop = threading.Event()

        def chatter(user, name: str) -> None:
            client = connect(user, on=server)
            join_ref, _ = client.join_ok(topic)
            n = 0
            try:
                while not stop.is_set():
                    refs = []
                    for _ in range(10):
                        text = f"{name} {n}"
                        refs.append(
                            (client.push(topic, "chat:new", {"message": text}, join_ref), text)
                        )
                        n += 1
                    for ref, text in refs:
                        if client.reply(ref, timeout=15)["status"] == "ok":
                            acked.append(text)
            except (ConnectionClosed, OSError):
                closed_codes.append(client.ws.close_code)
            except TimeoutError:
                closed_codes.append(None)

        threads = [
            threading.Thread(target=chatter, args=(user, f"{user.username}-{tab}"))
            for user in (student, coach)
            for tab in (1, 2)
        ]
        for thread in threads:
            thread.start()
        wait_until("200 acknowledged lines: the chat load is on", lambda: len(acked) >= 200)
        server.proc.send_signal(signal.SIGTERM)
        signalled_at = time.monotonic()
        try:
            code = server.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            raise AssertionError("the server did not exit within 10 s of SIGTERM") from None
        took = time.monotonic() - signalled_at
        server.proc = None
        stop.set()
        for thread in threads:
            thread.join(timeout=20)

        assert code == 0, "exited through the watchdog, not a clean shutdown"
        stored = set(chat_rows(active_session))
        assert set(acked) <= stored, f"{len(set(acked) - stored)} acknowledged lines not stored"
        assert closed_codes.count(4012) == len(threads), closed_codes
        print(
            f"SIGTERM under load: exited in {took:.2f}s; {len(acked)} acknowledged lines all "
            f"stored ({len(stored)} rows); {len(threads)} sockets closed with 4012"
        )
