"""Who may read an uploaded file under MEDIA_URL, and the signed links that open one.

Uploaded swings are never public: a page reads them as a user who may see the lesson,
and the Node API through a signed, time-limited link (the analysis webhook's
`video_url`). Paths are `swings/<session_id>/<upload_id>.<ext>` and, for the lesson's
call recordings, `recordings/<session_id>/<recording_id>.webm`.
"""

from urllib.parse import quote

from django.conf import settings
from django.core import signing

from coaching import policy
from coaching.errors import ServiceError
from coaching.models import CoachingSession, User
from coaching.services.shares import share_open

_signer = signing.TimestampSigner(salt="coaching.media")
# The stored files' folders → who may read them: a swing, who sees the lesson; the
# call's recording (`recordings/<session_id>/<recording_id>.webm`), who may replay it.
KINDS = {"swings": policy.check_view, "recordings": policy.check_replay}


def signed_url(name: str) -> str:
    """An absolute link to the stored file `name` that works for MEDIA_LINK_SECONDS."""
    signature = _signer.sign(name).rsplit(":", 2)
    token = f"{signature[1]}:{signature[2]}"
    return f"{settings.PUBLIC_BASE_URL}{settings.MEDIA_URL}{quote(name)}?sig={quote(token)}"


def _signed(name: str, token: str) -> bool:
    try:
        _signer.unsign(f"{name}:{token}", max_age=settings.MEDIA_LINK_SECONDS)
    except signing.BadSignature:
        return False
    return True


def _shared(share: tuple[str, str], session_id: str) -> bool:
    """Whether a share link `(share_id, secret)` still opens the lesson `session_id`."""
    try:
        return share_open(*share).session.session_id == session_id
    except ServiceError:
        return False


def check_media_read(
    user: User | None, name: str, token: str | None, share: tuple[str, str] | None = None
) -> None:
    """Raise `not_found` unless `name` is an uploaded swing's file and the link is signed
    or `user` may see its lesson (the same answer for a missing file: paths are not
    confirmed to outsiders). A swing's video also opens to the pages of a share link
    of its lesson that still answers (`share`: the link's id and secret)."""
    parts = name.split("/")
    if len(parts) != 3 or parts[0] not in KINDS or ".." in parts or not all(parts):
        raise ServiceError("not_found", "No such file.")
    if token is not None and _signed(name, token):
        return
    if share is not None and parts[0] == "swings" and _shared(share, parts[1]):
        return
    session = CoachingSession.objects.filter(session_id=parts[1]).first()
    if session is None or user is None or not user.is_authenticated:
        raise ServiceError("not_found", "No such file.")
    KINDS[parts[0]](user, session)
