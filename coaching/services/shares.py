"""Share links: a lesson's recap, read-only, for people without an account.

A link is `/shared/{share_id}/{secret}/`: the secret is 256 random bits, shown once when
the link is made; only its SHA-256 is stored (like a password reset token), and a link
is checked by comparing digests in constant time. A link answers until it expires
(1 to 30 days, 7 by default) or a participant revokes it; then the page says it is gone
(410). What a link shows (`shared_recap`) carries display names only: no account ids,
usernames, emails, tokens, nor anything of other lessons.

While the lesson runs the page follows it live on the socket, as a `ShareViewer`
(coaching/share_viewer.py), with a socket token of its own (`socket_token`): signed
with the site's key (django.core.signing), it names the share and the lesson and
expires with the users' socket tokens (SOCKET_TOKEN_LIFETIME) or the link, whichever
is first. It is no user token: REST refuses it, and it opens that lesson's topic only.
Revoking a link closes its live sockets at once, on every process (`share_topic`).
"""

import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from coaching import broadcasts, events, policy, selectors
from coaching.errors import ServiceError, invalid
from coaching.models import LessonShare, User
from coaching.replay import replay_document
from coaching.services.access import DISCONNECT
from coaching.services.lookup import get_session
from coaching.share_viewer import ShareViewer

SECRET_BYTES = 32  # 256 bits
MIN_DAYS, MAX_DAYS, DEFAULT_DAYS = 1, 30, 7
MAX_LABEL_CHARS = 100
ACTIVE, EXPIRED, REVOKED = "active", "expired", "revoked"
STATES = [ACTIVE, EXPIRED, REVOKED]
# Compared against when no share has the id, so that a miss takes as long as a hit.
_NO_DIGEST = "0" * 64
# A share's socket token starts with this (a user's is a JWT): the socket tells them apart.
SOCKET_TOKEN_PREFIX = "share:"
_SOCKET_TOKEN_SALT = "coaching.shares.socket-token"
# The reason a revoked link's sockets are closed with (close code 4001, access ended).
REVOKED_REASON = "share_revoked"


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
    """End a link (the API's revoke and the admin's action): its live viewers' sockets
    close once this commits, on every process."""
    if share.revoked_at is None:
        share.revoked_at = timezone.now()
        share.save(update_fields=["revoked_at"])
        broadcasts.on_commit(share_topic(share.share_id), DISCONNECT, {"reason": REVOKED_REASON})


def share_topic(share_id: str) -> str:
    """The topic every live socket of the share listens to (as a user's `user_topic`)."""
    return f"share_socket:{share_id}"


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


@dataclass(frozen=True)
class SocketGrant:
    """What a valid share socket token says."""

    share_id: str
    session_id: str
    expires_at: float  # epoch seconds: the socket closes then


def socket_token(share: LessonShare) -> tuple[str, int]:
    """A token for the share's page to open the socket with, and its lifetime in whole
    seconds: until SOCKET_TOKEN_LIFETIME or the link's expiry, whichever is first."""
    lifetime = settings.SOCKET_TOKEN_LIFETIME.total_seconds()
    expires_at = int(min(time.time() + lifetime, share.expires_at.timestamp()))
    claims = {"share": share.share_id, "session": share.session.session_id, "exp": expires_at}
    token = signing.dumps(claims, salt=_SOCKET_TOKEN_SALT)
    return SOCKET_TOKEN_PREFIX + token, max(0, expires_at - int(time.time()))


def read_socket_token(token: str) -> SocketGrant | None:
    """The grant of a share socket token, or None when it is not one of ours, was
    altered, or has expired."""
    if not token.startswith(SOCKET_TOKEN_PREFIX):
        return None
    try:
        claims = signing.loads(token[len(SOCKET_TOKEN_PREFIX) :], salt=_SOCKET_TOKEN_SALT)
        grant = SocketGrant(str(claims["share"]), str(claims["session"]), float(claims["exp"]))
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
    return grant if grant.expires_at > time.time() else None


def share_viewer(grant: SocketGrant) -> ShareViewer | None:
    """The viewer a grant lets in: None once its link was revoked or has expired."""
    share = (
        LessonShare.objects.select_related("session")
        .filter(share_id=grant.share_id, session__session_id=grant.session_id)
        .first()
    )
    if share is None or share_state(share) != ACTIVE:
        return None
    return ShareViewer(
        share_id=share.share_id,
        session_id=grant.session_id,
        pk=f"share:{share.share_id}:{secrets.token_hex(6)}",
    )


def active_shares(share_ids: Iterable[str]) -> set[str]:
    """Those of these links that still answer (neither revoked nor expired)."""
    return set(
        LessonShare.objects.filter(
            share_id__in=set(share_ids), revoked_at__isnull=True, expires_at__gt=timezone.now()
        ).values_list("share_id", flat=True)
    )


def _display_only(value: Any) -> Any:
    """A replay's value with display names only: every person (`{id, name, ...}`) as its
    name (and role), and no session or event ids anywhere."""
    if isinstance(value, list):
        return [_display_only(item) for item in value]
    if not isinstance(value, dict):
        return value
    if "id" in value and "name" in value:
        return {k: value[k] for k in ("name", "role") if k in value}
    return {k: _display_only(v) for k, v in value.items() if k not in ("session_id", "eid")}


def shared_replay_document(share: LessonShare) -> dict[str, Any]:
    """What a link's replay shows: the lesson's replay document (coaching/replay.py)
    with display names only; events keep their `seq`, their order in the lesson."""
    document = _display_only(replay_document(share.session))
    document["session"].pop("id", None)
    document.pop("recordings", None)  # the call's voices stay with the lesson's participants
    return document
