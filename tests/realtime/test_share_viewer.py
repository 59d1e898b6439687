"""Watching a lesson live through a share link: a socket opened with the link's socket
token joins that lesson's topic only, as the read-only `share` role: events, state and
the review reach it, no presence does, each of its pushes is refused, the participants
see how many watch, and revoking the link closes it at once, on every process."""

import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.core import signing
from django.utils import timezone
from websockets.exceptions import InvalidStatus

from coaching.models import CoachingSession, LessonShare
from coaching.realtime.open_sockets import current_access
from coaching.services.shares import (
    SOCKET_TOKEN_PREFIX,
    share_create,
    share_revoke,
    socket_token,
)
from coaching.services.swings import swing_attach
from coaching.share_viewer import ShareViewer
from tests.support.phoenix import PhoenixClient
from tests.support.servers import ServerProcess

needs_redis = pytest.mark.skipif(
    not settings.REDIS_URL,
    reason="needs REDIS_URL: the revocation is made in this process, the sockets are on servers",
)
CLOSE_WITHIN = 5.0  # seconds
# Short liveness settings so the crash test is quick (tests/realtime/test_multi_process.py).
FAST_PRESENCE = {"PRESENCE_HEARTBEAT": "0.5", "PRESENCE_NODE_TTL": "2"}
STROKE = {
    "stroke_id": "st_1",
    "shape": {"kind": "angle", "points": [[0.42, 0.2], [0.45, 0.55], [0.6, 0.6]]},
    "done": False,
}
SWING = {"swing_id": "sw_1", "video_url": "/static/demo/swing-demo.mp4", "duration_ms": 3500}


@pytest.fixture
def share(student, active_session) -> LessonShare:
    return share_create(session_id=active_session.session_id, user=student)[0]


def watch(server: ServerProcess, token: str) -> PhoenixClient:
    """A signed-out page's socket, opened with a share's socket token."""
    return PhoenixClient(server.socket_url, token)


def viewer_refused(server: ServerProcess, token: str) -> bool:
    """Whether the upgrade with `token` is refused (HTTP 403)."""
    try:
        watch(server, token).close()
    except InvalidStatus as exc:
        assert exc.response.status_code == 403
        return True
    return False


def watching(client: PhoenixClient, topic: str, count: int, timeout: float = 5.0) -> dict:
    return client.event(topic, "presence:watching", timeout, where=lambda p: p["count"] == count)


def test_a_viewer_follows_events_state_and_the_review_read_only(
    server, connect, coach, service, active_session, share
):
    swing_attach(session_id=active_session.session_id, actor=service, swing=SWING)
    topic = active_session.topic
    with connect(coach) as c, watch(server, socket_token(share)[0]) as v:
        c_ref, _ = c.join_ok(topic)
        _, reply = v.join_ok(topic)
        assert reply["you"]["session_role"] == "share"
        assert reply["session"]["status"] == "active"
        assert [w["swing_id"] for w in reply["swings"]] == ["sw_1"]
        assert reply["review"]["leader"]["name"] == "IanPro"

        c.call(topic, c_ref, "chat:new", {"message": "Watch the hips"})
        assert v.event(topic, "chat:added")["message"] == "Watch the hips"
        c.call(topic, c_ref, "session:control", {"status": "paused"})
        assert v.event(topic, "session:state")["status"] == "paused"
        moved = c.call(topic, c_ref, "review:update", {"position_ms": 1200, "playing": True})
        assert v.event(topic, "review:state") == moved["response"]
        assert c.call(topic, c_ref, "review:stroke", STROKE)["status"] == "ok"
        assert v.event(topic, "review:stroke")["stroke_id"] == "st_1"
        # Who is here is not the viewer's to see.
        v.no_event(topic, "presence:state", wait=0.2)
        v.no_event(topic, "presence:diff", wait=0.2)


@pytest.mark.parametrize(
    ("event", "payload"),
    [
        ("chat:new", {"message": "hello"}),
        ("session:control", {"status": "paused"}),
        ("annotation:save", {"swing_id": "sw_1", "time_ms": 0, "shapes": []}),
        ("review:update", {"position_ms": 1}),
        ("review:stroke", STROKE),
        ("review:ask_lead", {}),
        ("no:such_event", {}),
    ],
)
def test_every_push_of_a_viewer_is_refused_forbidden(server, active_session, share, event, payload):
    topic = active_session.topic
    with watch(server, socket_token(share)[0]) as v:
        ref, _ = v.join_ok(topic)
        reply = v.call(topic, ref, event, payload)
        assert reply["status"] == "error" and reply["response"]["reason"] == "forbidden", reply
        assert v.heartbeat()["status"] == "ok"
    assert not active_session.messages.exists()
    active_session.refresh_from_db()
    assert active_session.status == "active"


def test_the_participants_see_how_many_watch_never_who(
    server, connect, student, coach, active_session, share
):
    topic = active_session.topic
    token = socket_token(share)[0]
    with connect(coach) as c:
        c.join_ok(topic)
        assert set(c.event(topic, "presence:state")) == {str(coach.pk)}
        assert c.event(topic, "presence:watching") == {"count": 0}
        with watch(server, token) as first, watch(server, token) as second:
            first.join_ok(topic)
            watching(c, topic, 1)
            second.join_ok(topic)
            watching(c, topic, 2)
            with connect(student) as s:
                s.join_ok(topic)
                # A join's state leaves the viewers out and counts them.
                assert set(s.event(topic, "presence:state")) == {str(coach.pk), str(student.pk)}
                assert s.event(topic, "presence:watching") == {"count": 2}
                c.event(topic, "presence:diff", where=lambda d: str(student.pk) in d["joins"])
            first.close()
            watching(c, topic, 1)
        watching(c, topic, 0)
        # No diff ever named a viewer.
        for frame in c.inbox:
            if frame[3] in ("presence:diff", "presence:state"):
                assert "share" not in str(frame[4]), frame


def test_a_share_token_opens_its_lesson_only(server, student, coach, active_session, share):
    other = CoachingSession.objects.create(student=student, coach=coach, status="active")
    with watch(server, socket_token(share)[0]) as v:
        for topic in (other.topic, "lobby:coaches"):
            _, reply = v.join(topic)
            assert reply == {
                "status": "error",
                "response": {"reason": "forbidden", "message": reply["response"]["message"]},
            }
        v.join_ok(active_session.topic)


def test_a_token_altered_expired_or_of_a_revoked_link_is_refused(
    server, student, active_session, share
):
    token = socket_token(share)[0]
    other = share_create(session_id=active_session.session_id, user=student)[0]
    claims = signing.loads(token[len(SOCKET_TOKEN_PREFIX) :], salt="coaching.shares.socket-token")
    _, stamp, signature = token[len(SOCKET_TOKEN_PREFIX) :].split(":")
    other_body = socket_token(other)[0][len(SOCKET_TOKEN_PREFIX) :].split(":")[0]
    for forged in (
        # Another share's claims under this token's signature.
        f"{SOCKET_TOKEN_PREFIX}{other_body}:{stamp}:{signature}",
        # Claims signed with another key.
        SOCKET_TOKEN_PREFIX + signing.dumps(claims, key="not-the-site-key"),
        token[:-2],
        SOCKET_TOKEN_PREFIX,
    ):
        assert viewer_refused(server, forged), forged
    expired = SOCKET_TOKEN_PREFIX + signing.dumps(
        {**claims, "exp": int(time.time()) - 1}, salt="coaching.shares.socket-token"
    )
    assert viewer_refused(server, expired)
    share_revoke(session_id=active_session.session_id, share_id=share.share_id, user=student)
    assert viewer_refused(server, token)
    assert not viewer_refused(server, socket_token(other)[0])


def test_the_viewer_closes_when_the_link_expires(server, active_session, share):
    LessonShare.objects.filter(pk=share.pk).update(expires_at=timezone.now() + timedelta(seconds=2))
    share.refresh_from_db()
    token, expires_in = socket_token(share)
    assert expires_in <= 2
    with watch(server, token) as v:
        v.join_ok(active_session.topic)
        assert v.wait_closed(10) == (4002, "token_expired")
    assert viewer_refused(server, token)


def test_the_viewer_is_no_account(server, active_session, share):
    with watch(server, socket_token(share)[0]) as v:
        _, reply = v.join_ok(active_session.topic)
    assert reply["you"]["name"] == ""
    assert reply["you"]["role"] == "share"
    assert not str(reply["you"]["id"]).isdigit()


@needs_redis
def test_revoking_closes_its_viewers_at_once_on_every_process(
    spawn_server, connect, student, coach, active_session, share
):
    topic = active_session.topic
    one, two = spawn_server(), spawn_server()
    token = socket_token(share)[0]
    kept = share_create(session_id=active_session.session_id, user=coach)[0]
    with (
        connect(coach, on=one) as c,
        watch(one, token) as first,
        watch(two, token) as second,
        watch(two, socket_token(kept)[0]) as other,
    ):
        c.join_ok(topic)
        for viewer in (first, second, other):
            viewer.join_ok(topic)
        watching(c, topic, 3)
        started = time.monotonic()
        share_revoke(session_id=active_session.session_id, share_id=share.share_id, user=student)
        assert first.wait_closed(CLOSE_WITHIN) == (4001, "share_revoked")
        assert second.wait_closed(CLOSE_WITHIN) == (4001, "share_revoked")
        print(f"\nboth viewers closed {time.monotonic() - started:.3f} s after the revoke")
        watching(c, topic, 1)
        # Another link's viewer watches on.
        assert other.heartbeat()["status"] == "ok"
    assert viewer_refused(one, token)
    assert viewer_refused(two, token)


@needs_redis
def test_a_crashed_process_viewers_stop_counting(
    spawn_server, connect, coach, active_session, share
):
    topic = active_session.topic
    doomed, survivor = spawn_server(**FAST_PRESENCE), spawn_server(**FAST_PRESENCE)
    v = watch(doomed, socket_token(share)[0])
    with connect(coach, on=survivor) as c:
        c.join_ok(topic)
        v.join_ok(topic)
        watching(c, topic, 1)
        doomed.kill()  # SIGKILL: its viewer never leaves by itself
        watching(c, topic, 0, timeout=2 + 0.5 + 5)


@pytest.mark.django_db
def test_a_revocation_lost_on_the_way_closes_the_viewer_at_the_catch_up(
    student, coach, active_session, share
):
    """After the channel layer's subscriptions were broken, every socket checks its access
    (open_sockets.catch_up_all_sockets): a viewer's holds while its link answers."""
    kept = share_create(session_id=active_session.session_id, user=coach)[0]
    viewers = [
        ShareViewer(share_id=s.share_id, session_id=active_session.session_id, pk=f"share:{n}")
        for n, s in enumerate((share, kept))
    ]
    share_revoke(session_id=active_session.session_id, share_id=share.share_id, user=student)
    access = current_access([student, *viewers])
    assert access == {student.pk: student.token_generation, "share:1": 0}
