"""The token buckets and the abuse rule, on a clock the test drives."""

import pytest

from coaching.realtime.ratelimit import AbuseMeter, UserLimits


@pytest.fixture
def limits(settings) -> UserLimits:
    settings.CHAT_RATE_PER_SECOND, settings.CHAT_RATE_BURST = 5, 20
    settings.CLIENT_EVENTS_PER_SECOND, settings.CLIENT_EVENTS_BURST = 20, 60
    settings.RATE_LIMIT_CLOSE_SECONDS = 5
    return UserLimits()


def test_a_burst_passes_then_pushes_wait_for_the_refill(limits):
    assert all(limits.check(1, "chat:new", now=100.0) == 0 for _ in range(20))
    assert limits.check(1, "chat:new", now=100.0) == pytest.approx(0.2)
    assert limits.check(1, "chat:new", now=100.2) == 0
    assert limits.check(2, "chat:new", now=100.2) == 0  # another user: a bucket of their own


def test_a_refused_chat_line_takes_nothing_from_the_other_events(limits):
    for _ in range(20):
        limits.check(1, "chat:new", now=0.0)
    for _ in range(100):
        assert limits.check(1, "chat:new", now=0.0) > 0
    assert sum(limits.check(1, "session:control", now=0.0) == 0 for _ in range(60)) == 40


def test_heartbeats_and_leaves_are_free(limits):
    for _ in range(1000):
        assert limits.check(1, "heartbeat", now=0.0) == 0
        assert limits.check(1, "phx_leave", now=0.0) == 0
    assert limits.check(1, "phx_join", now=0.0) == 0


def refuse_for(meter: AbuseMeter, seconds: range, per_second: int) -> bool:
    return any(meter.refused(now=s + i / per_second) for s in seconds for i in range(per_second))


def test_only_sustained_refusals_close_the_socket(limits):
    assert not refuse_for(AbuseMeter(), range(4), per_second=1000)  # a 4 s burst
    assert refuse_for(AbuseMeter(), range(5), per_second=20)
    assert not refuse_for(AbuseMeter(), range(30), per_second=19)  # under the threshold


def test_a_quiet_second_restarts_the_count(limits):
    meter = AbuseMeter()
    assert not refuse_for(meter, range(4), per_second=50)
    assert not refuse_for(meter, range(5, 9), per_second=50)  # second 4 was quiet


def test_refused_pushes_get_their_tokens_back(limits):
    for _ in range(20):
        assert limits.check(1, "chat:new", now=0.0) == 0
        limits.refund(1, "chat:new")
    assert limits.check(1, "chat:new", now=0.0) == 0  # nothing was spent
    for _ in range(100):
        limits.refund(1, "chat:new")
    assert sum(limits.check(1, "chat:new", now=0.0) == 0 for _ in range(30)) == 20  # the burst
