"""The analysis webhook: after a swing is uploaded from the room, ask the Node API to
analyse it (docs/api.md, "The analysis webhook").

`queue()` writes one AnalysisRequest per swing in the upload's own transaction (the
outbox: nothing is lost to a crash or restart), then wakes this process's sender. The
sender POSTs each due request signed with ANALYSIS_WEBHOOK_SECRET; a 2xx answer
delivers it, anything else is retried after RETRY_SECONDS, doubling each time (at
most an hour), until MAX_ATTEMPTS attempts have failed. Every attempt carries the same
delivery id: the receiver keeps the first and drops repeats. Requests are claimed with
SKIP LOCKED and a lease, so the processes of a cluster never send one at the same time.

The Node API then reports progress and the card through the existing hooks.
"""

import hashlib
import hmac
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from coaching.models import AnalysisRequest, DeliveryStatus, Swing
from coaching.services.media import signed_url

logger = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 3600.0
# How often the sender looks for due requests when nothing woke it (other processes'
# requests, retries after a restart).
POLL_SECONDS = 30.0
CLAIM_BATCH = 20
MAX_ERROR_CHARS = 500


def enabled() -> bool:
    return bool(settings.ANALYSIS_WEBHOOK_URL and settings.ANALYSIS_WEBHOOK_SECRET)


def queue(swing: Swing) -> None:
    """Queue the analysis of an uploaded swing (once per swing), in the caller's transaction."""
    if not enabled():
        return
    AnalysisRequest.objects.get_or_create(swing=swing, defaults={"next_attempt_at": timezone.now()})
    transaction.on_commit(sender.wake)


def resend(requests: QuerySet[AnalysisRequest]) -> int:
    """Send the requests not yet delivered again at once (the admin's action); failed ones
    get a new round of attempts. Returns how many."""
    count = requests.exclude(status=DeliveryStatus.DELIVERED).update(
        status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=timezone.now()
    )
    if count:
        transaction.on_commit(sender.wake)
    return count


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex>` of HMAC-SHA256 over `<timestamp>.<body>`."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def backoff_seconds(attempts: int) -> float:
    """The wait after the `attempts`-th failed attempt."""
    return min(settings.ANALYSIS_WEBHOOK_RETRY_SECONDS * 2 ** (attempts - 1), MAX_BACKOFF_SECONDS)


def body(request: AnalysisRequest) -> bytes:
    swing = request.swing
    upload = swing.upload
    payload = {
        "event": "swing.uploaded",
        "delivery_id": request.delivery_id,
        "swing_id": swing.swing_id,
        "session_id": swing.session.session_id,
        "video_url": signed_url(upload.video_name),
        "poster_url": signed_url(upload.poster_name) if upload.poster_name else None,
        "content_type": upload.content_type,
        "size": upload.size,
        "duration_ms": swing.duration_ms,
        "uploaded_by": {"user_id": str(upload.uploader_id), "role": upload.uploader.role},
        "uploaded_at": int(swing.created_at.timestamp() * 1000),
    }
    return json.dumps(payload, separators=(",", ":")).encode()


def _claim(now: datetime) -> list[AnalysisRequest]:
    """Due requests, leased to this caller long enough for one attempt."""
    lease = now + timedelta(seconds=settings.ANALYSIS_WEBHOOK_TIMEOUT + 30)
    with transaction.atomic():
        due = list(
            AnalysisRequest.objects.select_for_update(skip_locked=True)
            .filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
            .order_by("next_attempt_at")[:CLAIM_BATCH]
        )
        AnalysisRequest.objects.filter(pk__in=[r.pk for r in due]).update(next_attempt_at=lease)
    return due


def _post(request: AnalysisRequest, attempt: int) -> str | None:
    """One attempt; None when the Node API accepted it, else what went wrong."""
    data = body(request)
    timestamp = str(int(time.time()))
    http = urllib.request.Request(
        settings.ANALYSIS_WEBHOOK_URL,
        data=data,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "inswing-realtime",
            "X-INSwing-Delivery": request.delivery_id,
            "X-INSwing-Attempt": str(attempt),
            "X-INSwing-Timestamp": timestamp,
            "X-INSwing-Signature": signature(settings.ANALYSIS_WEBHOOK_SECRET, timestamp, data),
        },
    )
    try:
        with urllib.request.urlopen(http, timeout=settings.ANALYSIS_WEBHOOK_TIMEOUT) as answer:
            answer.read(1024)
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except (OSError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def deliver_due() -> int:
    """Attempt every due request once; returns how many were delivered."""
    delivered = 0
    for request in _claim(timezone.now()):
        attempt = request.attempts + 1
        error = _post(request, attempt)
        now = timezone.now()
        update: dict = {"attempts": attempt}
        if error is None:
            update |= {"status": DeliveryStatus.DELIVERED, "delivered_at": now, "last_error": ""}
            delivered += 1
        else:
            update["last_error"] = error[:MAX_ERROR_CHARS]
            if attempt >= settings.ANALYSIS_WEBHOOK_MAX_ATTEMPTS:
                update["status"] = DeliveryStatus.FAILED
                logger.error(
                    "analysis webhook %s gave up after %d attempts: %s",
                    request.delivery_id,
                    attempt,
                    error,
                )
            else:
                update["next_attempt_at"] = now + timedelta(seconds=backoff_seconds(attempt))
                logger.warning(
                    "analysis webhook %s attempt %d failed: %s", request.delivery_id, attempt, error
                )
        AnalysisRequest.objects.filter(pk=request.pk).update(**update)
    return delivered


def _next_due_in() -> float:
    next_at = (
        AnalysisRequest.objects.filter(status=DeliveryStatus.PENDING)
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", flat=True)
        .first()
    )
    if next_at is None:
        return POLL_SECONDS
    return max(0.0, min(POLL_SECONDS, (next_at - timezone.now()).total_seconds()))


class Sender:
    """This process's sending thread: started on first use, it sleeps until the next
    request is due (or it is woken) and delivers what is due."""

    def __init__(self) -> None:
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the thread if the webhook is configured (idempotent)."""
        if not enabled():
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="analysis-webhook", daemon=True
                )
                self._thread.start()

    def wake(self) -> None:
        self.start()
        self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.clear()
            wait = POLL_SECONDS
            try:
                deliver_due()
                wait = _next_due_in()
            except Exception:
                logger.exception("analysis webhook sender failed; retrying")
            finally:
                connection.close()  # back to the pool while asleep
            self._wake.wait(wait)


sender = Sender()
