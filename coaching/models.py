"""Data of the live coach mode: users, sessions, and what happens in a session.

Every persisted event of a session (chat, state change, feedback, notice,
checkpoint, swing, annotation) is a `SessionEvent` row with a per-session
increasing `seq`; the domain rows (`ChatMessage`, `Feedback`, `Checkpoint`,
`Swing`, `Annotation`) point at the same seq. Each log row's payload carries an
`eid` (coaching/eventlog.py); the domain rows whose payloads are built again from
them (all but `Swing`) store the same one.
"""

import secrets

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models


class Role(models.TextChoices):
    STUDENT = "student", "Student"
    COACH = "coach", "Coach"
    SERVICE = "service", "Service account"


class User(AbstractUser):
    """A person or service. Staff users are the admins of the contract."""

    role = models.CharField(max_length=16, choices=Role.choices, default=Role.STUDENT)
    name = models.CharField("display name", max_length=80, blank=True)
    # Carried by every token issued for the user (claim `gen`); bumped when their access
    # ends (logout, deactivation, role or password change), which voids older tokens.
    token_generation = models.PositiveIntegerField(default=0, editable=False)

    @property
    def display_name(self) -> str:
        return self.name or self.username

    @property
    def public_role(self) -> str:
        """The role clients see: staff are admins whatever their stored role."""
        return "admin" if self.is_staff else self.role


class Status(models.TextChoices):
    WAITING = "waiting", "Waiting"
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    ENDED = "ended", "Ended"


class Step(models.TextChoices):
    UPLOAD = "upload", "Upload"
    ANALYSIS = "analysis", "Analysis"
    FEEDBACK = "feedback", "Feedback"


class StepSource(models.TextChoices):
    """Who set the current step: the analysis events ("auto") or the coach."""

    AUTO = "auto", "Analysis events"
    COACH = "coach", "Coach"


def session_topic(session_id: str) -> str:
    """The session's realtime topic (`session:{session_id}`)."""
    return f"session:{session_id}"


def new_session_id() -> str:
    return "sess_" + secrets.token_urlsafe(16)


def new_event_id() -> str:
    """A logged event's `eid` (coaching/eventlog.py): 12 random URL-safe characters, so
    that an event stored again at a seq the database lost is told from the one a client
    saw there."""
    return secrets.token_urlsafe(9)


def event_id_field() -> models.CharField:
    """A record's `eid`, the same as its log row's (null on rows stored before eids)."""
    return models.CharField(max_length=16, null=True, editable=False, default=new_event_id)


class CoachingSession(models.Model):
    session_id = models.CharField(
        max_length=40, unique=True, default=new_session_id, editable=False
    )
    student = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="student_sessions"
    )
    coach = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="coached_sessions",
        null=True,
        blank=True,
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.WAITING)
    current_step = models.CharField(max_length=16, choices=Step.choices, default=Step.UPLOAD)
    step_source = models.CharField(
        max_length=8, choices=StepSource.choices, default=StepSource.AUTO
    )
    title = models.CharField(max_length=200, blank=True)
    last_seq = models.PositiveBigIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "created_at"])]
        constraints = [
            # A student waits in the lobby once: starting again returns the open session.
            models.UniqueConstraint(
                fields=["student"],
                condition=models.Q(status="waiting"),
                name="one_waiting_session_per_student",
            ),
        ]

    def __str__(self) -> str:
        return self.session_id

    @property
    def topic(self) -> str:
        return session_topic(self.session_id)


class SessionEvent(models.Model):
    """The session's event log: what a client that rejoins with `last_seq` replays."""

    # No index of its own: event_seq_unique (session, seq) serves every look-up by session,
    # and one index fewer is less for PostgreSQL to write per event (bench/README.md,
    # session 18).
    session = models.ForeignKey(
        CoachingSession, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    seq = models.PositiveBigIntegerField()
    event = models.CharField(max_length=40)
    payload = models.JSONField()
    # Set by callers that may retry (the Node API's notices): one event per key.
    dedupe_key = models.CharField(max_length=100, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["session", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["session", "seq"], name="event_seq_unique"),
            models.UniqueConstraint(fields=["session", "dedupe_key"], name="event_dedupe_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.session_id}#{self.seq} {self.event}"


class ChatMessage(models.Model):
    # No index of its own: chat_seq_unique (session, seq) serves every look-up by session.
    session = models.ForeignKey(
        CoachingSession, on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    seq = models.PositiveBigIntegerField()
    sender = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    message = models.TextField()
    # The client's own id for the message, so that a resent message is stored once.
    client_msg_id = models.CharField(max_length=64, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    eid = event_id_field()

    class Meta:
        ordering = ["session", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["session", "seq"], name="chat_seq_unique"),
            models.UniqueConstraint(
                fields=["session", "sender", "client_msg_id"], name="chat_client_msg_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.session_id}#{self.seq}"


class Feedback(models.Model):
    """An AI analysis result for one swing; the Node API may post it more than once."""

    session = models.ForeignKey(CoachingSession, on_delete=models.CASCADE, related_name="feedback")
    seq = models.PositiveBigIntegerField()
    swing_id = models.CharField(max_length=100)
    summary = models.TextField()
    metrics = models.JSONField(default=dict, blank=True)
    recommendations = models.JSONField(default=list, blank=True)
    level = models.CharField(max_length=40, blank=True)
    # The analysis's key positions of the swing, name → ms, like `Swing.key_frames`.
    key_frames = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    eid = event_id_field()

    class Meta:
        ordering = ["session", "seq"]
        verbose_name_plural = "feedback"
        constraints = [
            models.UniqueConstraint(fields=["session", "swing_id"], name="feedback_swing_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.session_id}/{self.swing_id}"


class Checkpoint(models.Model):
    """A coach's bookmark on a feedback card, with an optional note."""

    session = models.ForeignKey(
        CoachingSession, on_delete=models.CASCADE, related_name="checkpoints"
    )
    seq = models.PositiveBigIntegerField()
    feedback = models.ForeignKey(Feedback, on_delete=models.CASCADE, related_name="checkpoints")
    coach = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    eid = event_id_field()

    class Meta:
        ordering = ["session", "seq"]

    def __str__(self) -> str:
        return f"{self.session_id}#{self.seq}"


class CameraAngle(models.TextChoices):
    FACE_ON = "face_on", "Face-on"
    DOWN_THE_LINE = "down_the_line", "Down-the-line"


class Swing(models.Model):
    """A recorded swing the Node API attached to the session: what the room plays."""

    session = models.ForeignKey(CoachingSession, on_delete=models.CASCADE, related_name="swings")
    seq = models.PositiveBigIntegerField()
    swing_id = models.CharField(max_length=100)
    video_url = models.CharField(max_length=1000)
    poster_url = models.CharField(max_length=1000, null=True, blank=True)
    fps = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    club = models.CharField(max_length=40, null=True, blank=True)
    camera_angle = models.CharField(
        max_length=16, choices=CameraAngle.choices, null=True, blank=True
    )
    label = models.CharField(max_length=100, null=True, blank=True)
    recorded_at = models.DateTimeField(null=True, blank=True)
    # Key positions of the swing, name → ms from the start, e.g. {"top": 1230}.
    key_frames = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["session", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["session", "swing_id"], name="swing_id_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.session_id}/{self.swing_id}"


class Annotation(models.Model):
    """A coach's drawing on one frame of a swing, saved with the lesson."""

    session = models.ForeignKey(
        CoachingSession, on_delete=models.CASCADE, related_name="annotations"
    )
    seq = models.PositiveBigIntegerField()
    swing = models.ForeignKey(Swing, on_delete=models.CASCADE, related_name="annotations")
    time_ms = models.PositiveIntegerField()
    shapes = models.JSONField()
    note = models.TextField(blank=True)
    coach = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    created_at = models.DateTimeField(auto_now_add=True)
    eid = event_id_field()

    class Meta:
        ordering = ["session", "seq"]

    def __str__(self) -> str:
        return f"{self.session_id}#{self.seq}"


def new_share_id() -> str:
    return "shr_" + secrets.token_urlsafe(12)


class LessonShare(models.Model):
    """A read-only link to a lesson's recap for people without an account.

    The link carries `share_id` and a secret; only the secret's SHA-256 is stored (like
    a password reset token), so the database alone cannot open it
    (coaching/services/shares.py). It stops working at `expires_at` or when revoked.
    """

    share_id = models.CharField(max_length=24, unique=True, default=new_share_id, editable=False)
    session = models.ForeignKey(CoachingSession, on_delete=models.CASCADE, related_name="shares")
    secret_hash = models.CharField(max_length=64, editable=False)
    label = models.CharField(max_length=100, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="lesson_shares"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.share_id


class ReviewKind(models.TextChoices):
    STATE = "state", "Playback state"
    STROKE = "stroke", "Finished stroke"
    CLEAR = "clear", "Clear"


class ReviewRecord(models.Model):
    """What the room's shared review did, kept for replay (docs/protocol.md, "What is
    kept of the review"): the settled ReviewState after a change, a finished live
    stroke, a clear. Written off the live path (coaching/realtime/review_recorder.py)
    by the process that applied the change, after the coalescing rules of
    coaching/services/review_recording.py.

    `at_ms` is the server's epoch ms (the state's `server_ts`), the clock the event
    log's `created_at` shares; rows of the same ms keep their insert order (`id`).
    """

    session = models.ForeignKey(
        CoachingSession, on_delete=models.CASCADE, related_name="review_records"
    )
    at_ms = models.BigIntegerField()
    kind = models.CharField(max_length=8, choices=ReviewKind.choices)
    # The swing a stroke or a clear was on (the main swing then); null for states.
    swing_id = models.CharField(max_length=100, null=True, blank=True)
    # state: the ReviewState; stroke: {stroke_id, shape, by}; clear: {by}.
    body = models.JSONField()

    class Meta:
        ordering = ["session", "at_ms", "id"]
        indexes = [models.Index(fields=["session", "at_ms", "id"], name="review_record_order")]

    def __str__(self) -> str:
        return f"{self.session_id}@{self.at_ms} {self.kind}"


def new_upload_id() -> str:
    return "upl_" + secrets.token_urlsafe(18)


class UploadStatus(models.TextChoices):
    RECEIVING = "receiving", "Receiving"
    COMPLETE = "complete", "Complete"


class SwingUpload(models.Model):
    """A swing video a participant uploads from the room, in chunks that survive a dropped
    connection (coaching/services/uploads.py). Each chunk is its own object in the
    storage (`parts/`), so any process of the cluster can take the next one; the last
    one joins them into the video and attaches the swing."""

    upload_id = models.CharField(max_length=40, unique=True, default=new_upload_id, editable=False)
    session = models.ForeignKey(CoachingSession, on_delete=models.CASCADE, related_name="uploads")
    uploader = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="swing_uploads"
    )
    filename = models.CharField(max_length=200)
    content_type = models.CharField(max_length=40)
    size = models.PositiveBigIntegerField()
    offset = models.PositiveBigIntegerField(default=0)
    # Chunks received so far, as storage names in order.
    parts = models.JSONField(default=list, blank=True)
    duration_ms = models.PositiveIntegerField()
    poster_name = models.CharField(max_length=300, blank=True)
    label = models.CharField(max_length=100, blank=True)
    status = models.CharField(
        max_length=16, choices=UploadStatus.choices, default=UploadStatus.RECEIVING
    )
    video_name = models.CharField(max_length=300, blank=True)
    swing = models.OneToOneField(
        Swing, on_delete=models.SET_NULL, null=True, blank=True, related_name="upload"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.upload_id


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


def new_delivery_id() -> str:
    return "dlv_" + secrets.token_urlsafe(18)


class AnalysisRequest(models.Model):
    """The outbox of the analysis webhook: one row per uploaded swing, delivered to the
    Node API with retries (coaching/services/analysis_webhook.py). Every attempt sends
    the same `delivery_id`, so the receiver can drop repeats."""

    delivery_id = models.CharField(
        max_length=40, unique=True, default=new_delivery_id, editable=False
    )
    swing = models.OneToOneField(Swing, on_delete=models.CASCADE, related_name="analysis_request")
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="analysis_request_due"),
        ]

    def __str__(self) -> str:
        return self.delivery_id


class RecordingConsent(models.Model):
    """A participant's answer to "may this lesson's call be recorded?", asked once per
    lesson and changeable while it lasts (coaching/services/recordings.py). Nothing is
    recorded unless both the student's and the coach's say yes."""

    session = models.ForeignKey(
        CoachingSession, on_delete=models.CASCADE, related_name="recording_consents"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    consented = models.BooleanField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["session", "user"], name="recording_consent_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.session_id}/{self.user_id}: {self.consented}"


def new_recording_id() -> str:
    return "rec_" + secrets.token_urlsafe(12)


class CallRecording(models.Model):
    """A lesson's call as the coach's page recorded it: WebM/Opus chunks stored as they
    come (`chunks`: [storage name, ms] in order), joined into `audio_name` once finished.
    `started_ms` is the server's epoch ms of its first sample, the replay's clock."""

    recording_id = models.CharField(
        max_length=24, unique=True, default=new_recording_id, editable=False
    )
    session = models.ForeignKey(
        CoachingSession, on_delete=models.CASCADE, related_name="call_recordings"
    )
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    started_ms = models.BigIntegerField()
    chunks = models.JSONField(default=list, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    audio_name = models.CharField(max_length=300, blank=True)
    finished = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["session", "started_ms", "id"]

    def __str__(self) -> str:
        return self.recording_id
