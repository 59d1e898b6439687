"""A silent connection is shown as lost to the others within two of its declared
heartbeat intervals (and a second), and as back the moment it is heard again; the person
is never shown as gone meanwhile and no "left" notice is posted."""

import asyncio
import time

import pytest

from coaching import prometheus
from coaching.realtime import liveness
from coaching.realtime.liveness import allowed_silence, declared_heartbeat
from tests.support.auth import token_for
from tests.support.phoenix import PhoenixClient
from tests.support.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_allowed_silence_is_two_declared_intervals_within_bounds():
    assert allowed_silence(4000) == 8.0
    assert allowed_silence(None) == 60.0  # phoenix.js's default 30 s heartbeat, twice
    assert allowed_silence(10) == 2.0 and allowed_silence(10**9) == 120.0
    assert declared_heartbeat({"heartbeat_ms": ["4000"]}) == 4000
    assert declared_heartbeat({"heartbeat_ms": ["soon"]}) is None


def lag_observed() -> tuple[float, float]:
    """(checks counted, their lag in all, s) of `inswing_event_loop_lag_seconds`."""
    samples = {s.name: s.value for s in prometheus.LOOP_LAG.collect()[0].samples}
    return samples["inswing_event_loop_lag_seconds_count"], samples[
        "inswing_event_loop_lag_seconds_sum"
    ]


async def test_each_check_records_how_late_the_loop_ran_it(monkeypatch):
    monkeypatch.setattr(liveness, "CHECK_EVERY", 0.01)
    checked = asyncio.Event()

    class Socket:
        def check_silence(self, now: float) -> None:
            checked.set()

    count, lag = lag_observed()
    loop = asyncio.get_running_loop()
    watch = liveness.Watch()
    watch.start(lambda: [Socket()])
    loop.call_later(0.005, time.sleep, 0.05)  # holds the loop past the check's time
    await asyncio.wait_for(checked.wait(), 5)
    watch._task.cancel()
    after_count, after_lag = lag_observed()
    assert after_count == count + 1
    assert after_lag - lag >= 0.04


def test_a_silent_student_is_shown_lost_then_back_without_leaving(
    server, connect, student, coach, active_session
):
    topic = active_session.topic
    key = str(student.pk)
    with (
        PhoenixClient(server.socket_url, token_for(student), heartbeat_ms="1000") as quiet,
        connect(coach) as watcher,
    ):
        quiet.join_ok(topic)
        watcher.join_ok(topic)
        seen: dict[str, dict] = {}  # phx_ref -> meta, of the student, as the coach holds it

        def apply(frame: list) -> None:
            payload = frame[4]
            if frame[3] == "presence:state":
                seen.clear()
                seen.update({m["phx_ref"]: m for m in payload.get(key, {}).get("metas", [])})
                return
            seen.update({m["phx_ref"]: m for m in payload["joins"].get(key, {}).get("metas", [])})
            for meta in payload["leaves"].get(key, {}).get("metas", []):
                seen.pop(meta["phx_ref"], None)
            assert seen, "the student was shown gone"

        def connection() -> str | None:
            frame = watcher.expect(lambda f: f[3] in ("presence:state", "presence:diff"), 5)
            apply(frame)
            states = {meta["connection"] for meta in seen.values()}
            return states.pop() if len(states) == 1 else None

        wait_until("the student to be shown", connection, until=lambda c: c == "ok")
        # Nothing from the student now: no heartbeat for 2 s, the server says so.
        lost = wait_until("the student shown lost", connection, until=lambda c: c == "lost")
        assert lost == "lost"
        assert all(meta["lost_at"] for meta in seen.values())
        assert quiet.heartbeat()["status"] == "ok"  # heard again
        wait_until("the student shown back", connection, until=lambda c: c == "ok")
        watcher.no_event(
            topic, "system:notice", wait=0.5, where=lambda p: p["code"] == "participant_left"
        )
