"""Swings of a session: the Node API attaches recorded swings; the room plays them.

A swing is stored once per `swing_id` in its session; attaching it again (a retry)
returns the stored swing and broadcasts nothing.
"""

import math
import re
from datetime import UTC, datetime
from typing import Any

from django.db import transaction

from coaching import broadcasts, eventlog, events, policy, text
from coaching.errors import invalid
from coaching.models import CameraAngle, CoachingSession, Feedback, Swing, User
from coaching.services.lookup import locked_session

MAX_SWINGS_PER_SESSION = 100
MAX_SWING_ID_CHARS = 100
MAX_URL_CHARS = 1000
MAX_FPS = 1000
MAX_DURATION_MS = 600_000
MAX_CLUB_CHARS = 40
MAX_LABEL_CHARS = 100
MAX_KEY_FRAMES = 20
MAX_KEY_FRAME_NAME_CHARS = 30
# Site-relative media: our own static files (the demo clip) or uploaded media.
LOCAL_MEDIA_PREFIXES = ("/static/", "/media/")
MAX_RECORDED_AT_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z

# One rule, stated as a regex so that the OpenAPI schema can say exactly the same:
# an http(s) URL, or a path under /static/ or /media/ that does not climb out of it;
# no spaces, control characters or backslashes anywhere.
MEDIA_URL_PATTERN = (
    r"^(?!.*/\.\./)(?:https?://[^\s/?#\\\x00-\x1f]+(?:[/?#][^\s\\\x00-\x1f]*)?"
    r"|/(?:static|media)/[^\s\\\x00-\x1f]*)$"
)
_media_url = re.compile(MEDIA_URL_PATTERN)


def _string(value: Any, field: str, max_chars: int, *, required: bool = False) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise invalid(field, f"{field} must be a non-empty string.")
    value = value.strip()
    if len(value) > max_chars:
        raise invalid(field, f"{field} is longer than {max_chars} characters.")
    return value


def _integer(value: Any, field: str, low: int, high: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise invalid(field, f"{field} must be an integer from {low} to {high}.")
    return value


def clean_media_url(value: Any, field: str, *, required: bool = False) -> str | None:
    """An http(s) URL, or a path on this site under /static/ or /media/."""
    url = _string(value, field, MAX_URL_CHARS, required=required)
    if url is None:
        return None
    if any(c.isspace() or ord(c) < 32 for c in url):
        raise invalid(field, f"{field} may not contain spaces or control characters.")
    if url.startswith(LOCAL_MEDIA_PREFIXES) and ("/../" in url or "\\" in url):
        raise invalid(field, f"{field} may not leave /static/ or /media/.")
    if not _media_url.match(url):
        raise invalid(field, f"{field} must be an http(s) URL or a path under /static/ or /media/.")
    return url


def clean_key_frames(
    value: Any, duration_ms: int | None, field: str = "key_frames"
) -> dict[str, int] | None:
    """Key positions `{name: ms}`: at most 20, names of 1-30 characters, 0 ≤ ms ≤ duration."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid(field, f"{field} must be an object of name → milliseconds.")
    if len(value) > MAX_KEY_FRAMES:
        raise invalid(field, f"At most {MAX_KEY_FRAMES} key frames.")
    high = duration_ms if duration_ms is not None else MAX_DURATION_MS
    cleaned: dict[str, int] = {}
    for name, ms in value.items():
        if (
            not isinstance(name, str)
            or not 0 < len(name) <= MAX_KEY_FRAME_NAME_CHARS
            or not name.strip()
            or not text.is_storable(name)
        ):
            raise invalid(
                field,
                f"Key frame names have 1-{MAX_KEY_FRAME_NAME_CHARS} characters, not all spaces.",
            )
        if isinstance(ms, float) and math.isfinite(ms) and ms.is_integer():
            ms = int(ms)
        if isinstance(ms, bool) or not isinstance(ms, int) or not 0 <= ms <= high:
            raise invalid(field, f"Key frame {name!r} must be a whole ms from 0 to {high}.")
        cleaned[name] = ms
    return cleaned


def clean_swing(data: dict[str, Any]) -> dict[str, Any]:
    """A swing's fields as given by the Node API, checked; returns the model's fields."""
    duration_ms = _integer(data.get("duration_ms"), "duration_ms", 1, MAX_DURATION_MS)
    recorded_at = _integer(data.get("recorded_at"), "recorded_at", 0, MAX_RECORDED_AT_MS)
    camera_angle = data.get("camera_angle")
    if camera_angle is not None and camera_angle not in CameraAngle.values:
        raise invalid("camera_angle", f"camera_angle must be one of {CameraAngle.values}.")
    return {
        "swing_id": _string(data.get("swing_id"), "swing_id", MAX_SWING_ID_CHARS, required=True),
        "video_url": clean_media_url(data.get("video_url"), "video_url", required=True),
        "poster_url": clean_media_url(data.get("poster_url"), "poster_url"),
        "fps": _integer(data.get("fps"), "fps", 1, MAX_FPS),
        "duration_ms": duration_ms,
        "club": _string(data.get("club"), "club", MAX_CLUB_CHARS),
        "camera_angle": camera_angle,
        "label": _string(data.get("label"), "label", MAX_LABEL_CHARS),
        "recorded_at": (
            datetime.fromtimestamp(recorded_at / 1000, tz=UTC) if recorded_at is not None else None
        ),
        "key_frames": clean_key_frames(data.get("key_frames"), duration_ms),
    }


def _attach(session: CoachingSession, fields: dict[str, Any]) -> tuple[dict, bool]:
    existing = (
        Swing.objects.filter(session=session, swing_id=fields["swing_id"])
        .select_related("session")
        .first()
    )
    if existing is not None:
        return events.swing(existing), False
    if Swing.objects.filter(session=session).count() >= MAX_SWINGS_PER_SESSION:
        raise invalid("swing_id", f"A session has at most {MAX_SWINGS_PER_SESSION} swings.")
    _check_card_within(session, fields["swing_id"], fields["duration_ms"])
    seq = eventlog.next_seq(session)
    swing = Swing.objects.create(session=session, seq=seq, **fields)
    payload = eventlog.append(session, "swing:added", events.swing_added(swing), seq=seq)
    broadcasts.on_commit(session.topic, "swing:added", payload)
    return payload["swing"], True


def _check_card_within(session: CoachingSession, swing_id: str, duration_ms: int | None) -> None:
    """A card that came before its swing had its key frames checked against no duration:
    the swing may not be shorter than they are (key frames lie within the swing)."""
    card = Feedback.objects.filter(session=session, swing_id=swing_id).first()
    latest = max((card.key_frames or {}).values(), default=0) if card else 0
    if duration_ms is not None and latest > duration_ms:
        raise invalid(
            "duration_ms",
            f"duration_ms is shorter than the key frames of this swing's analysis ({latest} ms).",
        )


@transaction.atomic
def swing_attach(*, session_id: str, actor: User, swing: dict[str, Any]) -> tuple[dict, bool]:
    """Attach one swing and broadcast `swing:added`; returns the swing and whether it is new.

    A `swing_id` the session already has returns the stored swing unchanged, with
    no second event. Swings may be attached to an ended session (for its record).
    """
    policy.check_service(actor)
    fields = clean_swing(swing)
    return _attach(locked_session(session_id), fields)


@transaction.atomic
def swings_attach(
    *, session_id: str, actor: User, swings: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Attach several swings at once (all or none), in order; returns them as stored."""
    policy.check_service(actor)
    cleaned = [clean_swing(swing) for swing in swings]
    session = locked_session(session_id)
    return [_attach(session, fields)[0] for fields in cleaned]


def swing_attach_uploaded(*, session_id: str, swing: dict[str, Any]) -> Swing:
    """Attach a swing uploaded from the room (coaching/services/uploads.py, which checked
    the uploader): the same checks, row and `swing:added` as the Node API's swings.
    Runs inside the caller's transaction."""
    fields = clean_swing(swing)
    session = locked_session(session_id)
    _attach(session, fields)
    return Swing.objects.get(session=session, swing_id=fields["swing_id"])
