"""The analysis webhook: one signed request per uploaded swing reaches the Node API,
retried with backoff after failures, the same delivery id every time, kept in an outbox."""

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

from coaching.models import AnalysisRequest, CoachingSession, DeliveryStatus
from coaching.services import analysis_webhook
from coaching.services.uploads import upload_append, upload_start
from tests.support.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)  # the sender's thread reads commits

ROOT = Path(__file__).resolve().parents[2]
CLIP = (ROOT / "static/demo/swing-demo.mp4").read_bytes()
SECRET = "webhook-secret-for-tests"
RETRY = 0.3


class NodeApi:
    """A stand-in for the Node API's webhook on 127.0.0.1: answers each request with the
    next status of `answers` (then 200), and keeps what it received."""

    def __init__(self, answers: list[int]) -> None:
        self.answers = list(answers)
        self.received: list[dict] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                code = api.answers.pop(0) if api.answers else 200
                api.received.append(
                    {
                        "at": time.monotonic(),
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body,
                        "code": code,
                    }
                )
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/swing"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def accepted(self) -> list[dict]:
        return [r for r in self.received if r["code"] == 200]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def node_api(settings, tmp_path):
    api = NodeApi([500])  # the first attempt fails
    settings.MEDIA_ROOT = tmp_path
    settings.ANALYSIS_WEBHOOK_URL = api.url
    settings.ANALYSIS_WEBHOOK_SECRET = SECRET
    settings.ANALYSIS_WEBHOOK_RETRY_SECONDS = RETRY
    yield api
    api.close()


def upload_swing(session: CoachingSession, user) -> str:
    upload = upload_start(
        session_id=session.session_id,
        actor=user,
        data={
            "filename": "swing.mp4",
            "size": len(CLIP),
            "content_type": "video/mp4",
            "duration_ms": 3500,
        },
    )
    upload_append(
        session_id=session.session_id,
        upload_id=upload.upload_id,
        actor=user,
        offset=0,
        chunk=CLIP,
    )
    return upload.upload_id


def verified(request: dict) -> bool:
    """What the Node API checks: HMAC-SHA256 of `<timestamp>.<body>` with the secret."""
    timestamp = request["headers"]["x-inswing-timestamp"]
    expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + request["body"], hashlib.sha256)
    return hmac.compare_digest(
        request["headers"]["x-inswing-signature"], "sha256=" + expected.hexdigest()
    )


def test_one_signed_request_per_swing_arrives_despite_a_failing_first_attempt(
    node_api, student, active_session, settings
):
    swing_id = upload_swing(active_session, student)
    wait_until("the webhook's retry to be accepted", node_api.accepted, wait=30)
    first, second = node_api.received
    assert (first["code"], second["code"]) == (500, 200)
    assert all(verified(r) for r in node_api.received)
    # The same request retried; only its video link is signed afresh (links expire).
    assert [json.loads(r["body"]) | {"video_url": None} for r in node_api.received] == [
        json.loads(second["body"]) | {"video_url": None}
    ] * 2
    delivery = AnalysisRequest.objects.get(swing__swing_id=swing_id)
    assert {r["headers"]["x-inswing-delivery"] for r in node_api.received} == {delivery.delivery_id}
    assert [r["headers"]["x-inswing-attempt"] for r in node_api.received] == ["1", "2"]
    assert second["at"] - first["at"] >= RETRY  # it waited before retrying
    body = json.loads(second["body"])
    assert body | {"video_url": None, "uploaded_at": None} == {
        "event": "swing.uploaded",
        "delivery_id": delivery.delivery_id,
        "swing_id": swing_id,
        "session_id": active_session.session_id,
        "video_url": None,
        "poster_url": None,
        "content_type": "video/mp4",
        "size": len(CLIP),
        "duration_ms": 3500,
        "uploaded_by": {"user_id": str(student.pk), "role": "student"},
        "uploaded_at": None,
    }
    # The Node API fetches the video through the signed link, signed in as nobody.
    link = body["video_url"].removeprefix(settings.PUBLIC_BASE_URL)
    assert b"".join(Client().get(link).streaming_content) == CLIP
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("delivered", 2, "")
    # Delivered: nothing is sent again.
    assert analysis_webhook.deliver_due() == 0
    assert len(node_api.received) == 2


def test_failures_back_off_doubling_then_give_up_visible_in_the_outbox(
    node_api, student, active_session, settings
):
    settings.ANALYSIS_WEBHOOK_MAX_ATTEMPTS = 3
    settings.ANALYSIS_WEBHOOK_RETRY_SECONDS = 60  # the sender's thread waits; we drive
    node_api.answers = [503, 500, 502]
    swing_id = upload_swing(active_session, student)
    wait_until("the first attempt", lambda: node_api.received)
    waits = []
    for _ in range(2):
        delivery = wait_until(
            "the attempt to be recorded",
            lambda: AnalysisRequest.objects.get(swing__swing_id=swing_id),
            until=lambda d: d.attempts == len(node_api.received),
        )
        waits.append(round((delivery.next_attempt_at - delivery.created_at).total_seconds()))
        AnalysisRequest.objects.filter(pk=delivery.pk).update(next_attempt_at=delivery.created_at)
        analysis_webhook.deliver_due()
    delivery.refresh_from_db()
    assert waits == [60, 120]  # after the first failure, then twice as long
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("failed", 3, "HTTP 502")
    assert analysis_webhook.deliver_due() == 0  # given up
    # The admin's "Send again now" starts a new round, with the same delivery id.
    assert analysis_webhook.resend(AnalysisRequest.objects.all()) == 1
    wait_until("the resent request", node_api.accepted)
    assert node_api.accepted()[0]["headers"]["x-inswing-delivery"] == delivery.delivery_id


def test_requests_left_pending_go_out_when_a_process_starts(node_api, student, active_session):
    node_api.answers = []
    swing_id = upload_swing(active_session, student)
    wait_until("the delivery", node_api.accepted)
    # As if the process had stopped before sending: pending again, then a new process.
    AnalysisRequest.objects.filter(swing__swing_id=swing_id).update(
        status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=timezone.now()
    )
    analysis_webhook.Sender().start()
    wait_until("the pending request to be sent", lambda: len(node_api.accepted()) == 2)


def test_one_outbox_row_per_swing(node_api, student, active_session):
    node_api.answers = []
    swing_id = upload_swing(active_session, student)
    request = AnalysisRequest.objects.get(swing__swing_id=swing_id)
    analysis_webhook.queue(request.swing)
    assert AnalysisRequest.objects.count() == 1


def test_nothing_is_queued_without_a_webhook(settings, tmp_path, student, active_session):
    settings.MEDIA_ROOT = tmp_path
    settings.ANALYSIS_WEBHOOK_URL = ""
    upload_swing(active_session, student)
    assert not AnalysisRequest.objects.exists()
