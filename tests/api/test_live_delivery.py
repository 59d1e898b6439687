"""REST actions reach connected sockets, and `lobby:coaches` keeps a dashboard live.

A real server process holds the sockets. Each REST action runs either in that
same process (over HTTP) or in this test process (Django's test client), whose
broadcasts reach the server only through the shared Redis layer.
"""

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings

from coaching.events import LOBBY_TOPIC
from coaching.models import CoachingSession, Status, User
from tests.support.auth import api_client_for, token_for
from tests.support.phoenix import PhoenixClient
from tests.support.servers import ServerProcess

Post = Callable[[User, str, dict[str, Any] | None], tuple[int, dict]]

FEEDBACK = {
    "swing_id": "sw_live",
    "summary": "The face is open at impact.",
    "metrics": {"face_angle": 5.2},
    "recommendations": ["Take a stronger grip."],
    "level": "intermediate",
}


def http_post(server: ServerProcess, user: User, path: str, body: dict | None) -> tuple[int, dict]:
    """POST to the server process itself, with the user's bearer token."""
    request = urllib.request.Request(
        server.http_url + path,
        data=json.dumps(body or {}).encode(),
        headers={"Authorization": f"Bearer {token_for(user)}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture(params=["in the server process", "in another process"])
def post(request, server) -> Post:
    """How a REST action is made: see the module docstring."""
    if request.param == "in another process":
        if not settings.REDIS_URL:
            pytest.skip("needs REDIS_URL: without a shared channel layer no broadcast crosses")

        def via_test_client(user: User, path: str, body: dict | None) -> tuple[int, dict]:
            response = api_client_for(user).post(path, body or {}, format="json")
            return response.status_code, response.json()

        return via_test_client
    return lambda user, path, body: http_post(server, user, path, body)


def joined(client: PhoenixClient, topic: str) -> PhoenixClient:
    """`client`, joined to `topic`."""
    client.join_ok(topic)
    return client


def test_posted_feedback_reaches_every_socket_in_the_session_once(
    connect, post, active_session, student, coach, service
):
    path = f"/api/sessions/{active_session.session_id}/feedback/"
    with (
        joined(connect(student), active_session.topic) as s,
        joined(connect(coach), active_session.topic) as c,
    ):
        status, card = post(service, path, FEEDBACK)
        assert status == 201
        for client in (s, c):
            assert client.event(active_session.topic, "ai:feedback") == card
        status, retry = post(service, path, FEEDBACK)
        assert (status, retry) == (200, card)
        s.no_event(active_session.topic, "ai:feedback")


def test_progress_ticks_reach_the_session(connect, post, active_session, student, service):
    body = {"swing_id": "sw_live", "percent": 55, "step": "impact"}
    with joined(connect(student), active_session.topic) as client:
        status, tick = post(service, f"/api/sessions/{active_session.session_id}/progress/", body)
        assert status == 202
        assert client.event(active_session.topic, "swing:progress") == tick
        assert "seq" not in tick


def test_notices_reach_the_session(connect, post, active_session, student, service):
    body = {"text": "Results are delayed.", "level": "warning", "notice_id": "n-live"}
    with joined(connect(student), active_session.topic) as client:
        status, notice = post(service, f"/api/sessions/{active_session.session_id}/notices/", body)
        assert status == 201
        received = client.event(
            active_session.topic, "system:notice", where=lambda p: p["text"] == body["text"]
        )
        assert received == notice


def test_checkpoints_reach_the_session(
    connect, post, active_session, student, coach, service, feedback_card
):
    body = {"feedback_id": feedback_card["id"], "note": "Look at this one"}
    with joined(connect(student), active_session.topic) as client:
        status, checkpoint = post(
            coach, f"/api/sessions/{active_session.session_id}/checkpoints/", body
        )
        assert status == 201
        assert client.event(active_session.topic, "checkpoint:added") == checkpoint


def test_coach_lobby_join_reply_lists_the_waiting_sessions(
    connect, coach, student, other_student, other_coach
):
    older = CoachingSession.objects.create(student=student, title="First")
    newer = CoachingSession.objects.create(student=other_student, title="Second")
    CoachingSession.objects.create(student=student, coach=other_coach, status=Status.ACTIVE)
    with connect(coach) as client:
        _, reply = client.join_ok(LOBBY_TOPIC)
    assert [s["session_id"] for s in reply["sessions"]] == [older.session_id, newer.session_id]
    assert reply["sessions"][0]["title"] == "First"
    assert reply["sessions"][0]["status"] == "waiting"


@pytest.mark.parametrize("who", ["student", "admin_user", "service"])
def test_only_coaches_join_the_lobby(request, connect, who):
    user = request.getfixturevalue(who)
    with connect(user) as client:
        _, reply = client.join(LOBBY_TOPIC)
    assert reply["status"] == "error"
    assert reply["response"]["reason"] == "forbidden"


def test_lobby_follows_a_session_from_waiting_to_claimed_to_ended(
    connect, post, coach, other_coach, student
):
    with joined(connect(coach), LOBBY_TOPIC) as dashboard:
        status, created = post(student, "/api/sessions/", {"title": "Slice"})
        assert status == 201
        waiting = dashboard.event(LOBBY_TOPIC, "session:waiting")
        assert waiting == created

        status, claimed = post(other_coach, f"/api/sessions/{created['session_id']}/claim/", None)
        assert status == 200
        event = dashboard.event(LOBBY_TOPIC, "session:claimed")
        assert event == claimed
        assert event["coach"]["id"] == str(other_coach.pk)

        topic = f"session:{created['session_id']}"
        with connect(other_coach) as lesson:
            join_ref, _ = lesson.join_ok(topic)
            reply = lesson.call(topic, join_ref, "session:control", {"status": "ended"})
            assert reply["status"] == "ok", reply
        ended = dashboard.event(LOBBY_TOPIC, "session:ended")
        assert (ended["session_id"], ended["status"]) == (created["session_id"], "ended")
