"""Share links: a lesson's recap, read-only, for people without an account.

A link is `/shared/{share_id}/{secret}/`: the secret is 256 random bits, shown once when
the link is made; only its SHA-256 is stored (like a password reset token), and a link
is checked by comparing digests in constant time. A link answers until it expires
(1 to 30 days, 7 by default) or a participant revokes it; then the page says it is gone
(410). What a link shows (`shared_recap`) carries display names only: no account ids,
usernames, emails, tokens, nor anything of other lessons.
"""

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from coaching import events, policy, selectors
from coaching.errors import ServiceError, invalid
from coaching.models import LessonShare, User
from coaching.services.lookup import get_session

SECRET_BYTES = 32  # 256 bits
MIN_DAYS, MAX_DAYS, DEFAULT_DAYS = 1, 30, 7
MAX_LABEL_CHARS = 100
ACTIVE, EXPIRED, REVOKED = "active", "expired", "revoked"
STATES = [ACTIVE, EXPIRED, REVOKED]
# Compared against when no share has the id, so that a miss takes as long as a hit.
_NO_DIGEST = "0" * 64


def secret_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def share_path(share_id: str, secret: str) -> str:
    return f"/shared/{share_id}/{secret}/"


def share_state(share: LessonShare) -> str:
    if share.revoked_at is not None:
        return REVOKED
    return EXPIRED if share.expires_at <= timezone.now() else ACTIVE


def share_entry(share: LessonShare) -> dict[str, Any]:
    """A share as listed: never its secret (not stored) nor its link (made once)."""
    return {
        "share_id": share.share_id,
        "label": share.label,
        "created_at": events.epoch_ms(share.created_at),
        "created_by": {"name": share.created_by.display_name},
        "expires_at": events.epoch_ms(share.expires_at),
        "revoked_at": events.optional_epoch_ms(share.revoked_at),
        "state": share_state(share),
    }


@transaction.atomic
def share_create(
    *, session_id: str, user: User, expires_in_days: int = DEFAULT_DAYS, label: str = ""
) -> tuple[LessonShare, str]:
    """A new link to the lesson's recap, made by its student or coach: the share and the
    secret (shown once: only its digest is kept)."""
    session = get_session(session_id)
    policy.check_view(user, session)
    policy.check_share(user, session)
    if isinstance(expires_in_days, bool) or not isinstance(expires_in_days, int):
        raise invalid("expires_in_days", "expires_in_days must be a whole number of days.")
    if not MIN_DAYS <= expires_in_days <= MAX_DAYS:
        raise invalid("expires_in_days", f"expires_in_days must be {MIN_DAYS} to {MAX_DAYS}.")
    label = (label or "").strip()
    if len(label) > MAX_LABEL_CHARS:
        raise invalid("label", "label is too long.")
    secret = secrets.token_urlsafe(SECRET_BYTES)
    share = LessonShare.objects.create(
        session=session,
        secret_hash=secret_digest(secret),
        label=label,
        created_by=user,
        expires_at=timezone.now() + timedelta(days=expires_in_days),
    )
    return share, secret


def share_list(*, session_id: str, user: User) -> QuerySet[LessonShare]:
    """The lesson's links, newest first (revoked and expired ones too, marked)."""
    session = get_session(session_id)
    policy.check_view(user, session)
    policy.check_share(user, session)
    return LessonShare.objects.filter(session=session).select_related("created_by")


@transaction.atomic
def share_revoke(*, session_id: str, share_id: str, user: User) -> LessonShare:
    """The lesson's student or coach ends a link at once; revoking it again changes nothing."""
    session = get_session(session_id)
    policy.check_view(user, session)
    policy.check_share(user, session)
    share = (
        LessonShare.objects.select_for_update().filter(session=session, share_id=share_id).first()
    )
    if share is None:
        raise ServiceError("not_found", "No such share.")
    revoke(share)
    return share


def revoke(share: LessonShare) -> None:
    """End a link (the API's revoke and the admin's action)."""
    if share.revoked_at is None:
        share.revoked_at = timezone.now()
        share.save(update_fields=["revoked_at"])


def share_open(share_id: str, secret: str) -> LessonShare:
    """The share a link names, if its secret is right and it still answers: else
    `not_found` (no such link), `share_revoked` or `share_expired` (the page's 410)."""
    share = (
        LessonShare.objects.select_related("session__student", "session__coach")
        .filter(share_id=share_id)
        .first()
    )
    stored = share.secret_hash if share is not None else _NO_DIGEST
    if not hmac.compare_digest(stored, secret_digest(secret)) or share is None:
        raise ServiceError("not_found", "No such link.")
    state = share_state(share)
    if state != ACTIVE:
        message = "This link has expired." if state == EXPIRED else "This link was revoked."
        raise ServiceError(f"share_{state}", message)
    return share


def _named(person: Any) -> Any:
    """A person in a payload, by display name only."""
    return {"name": person.get("name", "")} if isinstance(person, dict) else None


def shared_recap(share: LessonShare) -> dict[str, Any]:
    """What a link shows: the lesson's title, when, who (display names), its swings and
    its recap, without account ids, session ids or event ids."""
    session = share.session
    recap = selectors.session_recap(session)
    hidden = ("session_id", "eid", "seq")

    def clean(item: dict[str, Any]) -> dict[str, Any]:
        cleaned = {k: v for k, v in item.items() if k not in hidden}
        if "coach" in cleaned:
            cleaned["coach"] = _named(cleaned["coach"])
        return cleaned

    return {
        "title": session.title,
        "status": session.status,
        "student": {"name": session.student.display_name},
        "coach": {"name": session.coach.display_name} if session.coach else None,
        "created_at": events.epoch_ms(session.created_at),
        "expires_at": events.epoch_ms(share.expires_at),
        "swings": [events.swing(w) for w in selectors.swing_list(session)],
        "recap": {
            **recap,
            "feedback": [clean(card) for card in recap["feedback"]],
            "checkpoints": [clean(c) for c in recap["checkpoints"]],
            "annotations": [clean(a) for a in recap["annotations"]],
        },
    }
