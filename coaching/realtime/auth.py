"""Who is on the socket: the connect-time checks, all made before the upgrade.

Refusing (closing before accept) makes daphne answer HTTP 403, which phoenix.js
treats as a failed connect and retries with backoff, instead of a reconnect storm.

The `token` is a user's (a JWT from POST /api/auth/socket-token/) or a share link's
(`share:…`, from its page: coaching/services/shares.py), which makes the socket a
`ShareViewer`'s: no account, its link's lesson only, read-only.
"""

import base64
import binascii
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.http.request import split_domain_port, validate_host
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken

from coaching.models import User
from coaching.realtime.db import in_db_thread
from coaching.realtime.frames import DEFAULT_VSN, SERIALIZERS, Serializer
from coaching.realtime.socket_reads import socket_reads
from coaching.services import shares
from coaching.services.access import token_is_current, user_topic
from coaching.share_viewer import ShareViewer

PHOENIX_SUBPROTOCOL = "phoenix"
TOKEN_SUBPROTOCOL_PREFIX = "base64url.bearer.phx."


class Refused(Exception):
    """The upgrade is refused; the reason is logged, never sent."""


@dataclass(frozen=True)
class Connect:
    user: User | ShareViewer
    subprotocol: str | None  # "phoenix" when the client offered it
    serializer: Serializer  # the wire version the client asked for
    expires_at: float  # the token's expiry, epoch seconds: the socket closes then


def _query(scope: dict) -> dict[str, str]:
    raw = scope.get("query_string", b"").decode("latin-1")
    return {k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()}


def _headers(scope: dict) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


def token_from_subprotocols(subprotocols: list[str]) -> str | None:
    """phoenix.js `authToken`: standard base64 with the padding stripped."""
    for proto in subprotocols:
        if proto.startswith(TOKEN_SUBPROTOCOL_PREFIX):
            encoded = proto[len(TOKEN_SUBPROTOCOL_PREFIX) :]
            try:
                return base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                raise Refused("undecodable authToken subprotocol") from None
    return None


def host_allowed(host: str | None) -> bool:
    """The upgrade's Host is one this site serves: Django's ALLOWED_HOSTS, as for REST.
    HTTP/1.1 clients always send one; without it (in-process test clients) there is
    nothing to check."""
    if host is None:
        return True
    domain, _port = split_domain_port(host)
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]  # Django's own default
    return bool(domain) and validate_host(domain, allowed)


def origin_allowed(origin: str | None, host: str | None, scheme: str) -> bool:
    """No Origin: not a browser, token alone decides. Else the same origin (scheme too:
    an https page does not share an origin with a plain-http server) or allowlisted."""
    if origin is None:
        return True
    if origin in settings.WEBSOCKET_ALLOWED_ORIGINS or "*" in settings.WEBSOCKET_ALLOWED_ORIGINS:
        return True
    parsed = urlsplit(origin)
    page_scheme = "https" if scheme == "wss" else "http"
    return (
        bool(host)
        and parsed.scheme.lower() == page_scheme
        and parsed.netloc.lower() == host.lower()
    )


def decode_token(token: str) -> AccessToken:
    try:
        return AccessToken(token)
    except TokenError as exc:
        raise Refused(f"bad token: {exc}") from None


def user_id_from_token(access: AccessToken) -> int:
    user_id = access.get(settings.SIMPLE_JWT.get("USER_ID_CLAIM", "user_id"))
    try:
        return int(user_id)
    except (TypeError, ValueError):
        raise Refused("token has no usable user id") from None


async def _current_user(user_id: int, access: AccessToken) -> User:
    user = await socket_reads().active_user(user_id)
    if user is None:
        raise Refused("unknown or inactive user")
    if not token_is_current(access, user):
        raise Refused("token issued before the user's access ended")
    return user


async def _share_viewer(
    token: str, on_identified: Callable[[str], Awaitable[None]] | None
) -> tuple[ShareViewer, float]:
    """The viewer a share socket token lets in, and when its socket closes."""
    grant = shares.read_socket_token(token)
    if grant is None:
        raise Refused("bad or expired share token")
    if on_identified is not None:
        await on_identified(shares.share_topic(grant.share_id))
    viewer = await in_db_thread(shares.share_viewer)(grant)
    if viewer is None:
        raise Refused("share revoked or expired")
    return viewer, grant.expires_at


async def authenticate(
    scope: dict, on_identified: Callable[[str], Awaitable[None]] | None = None
) -> Connect:
    """The connect checks. `on_identified(topic)` runs once the token is read and before
    the user (or the share) is looked up, with the topic that announces its access
    ending, so that a socket can start listening to it before it checks that access
    (nothing falls in between)."""
    query = _query(scope)
    serializer = SERIALIZERS.get(query.get("vsn", DEFAULT_VSN))
    if serializer is None:
        raise Refused(f"unsupported vsn {query.get('vsn')!r}")
    headers = _headers(scope)
    if not host_allowed(headers.get("host")):
        raise Refused(f"host {headers.get('host')!r} not in ALLOWED_HOSTS")
    if not origin_allowed(headers.get("origin"), headers.get("host"), scope.get("scheme", "ws")):
        raise Refused(f"origin {headers.get('origin')!r} not allowed")
    subprotocols = list(scope.get("subprotocols") or [])
    token = query.get("token") or token_from_subprotocols(subprotocols)
    if not token:
        raise Refused("no token")
    subprotocol = PHOENIX_SUBPROTOCOL if PHOENIX_SUBPROTOCOL in subprotocols else None
    if token.startswith(shares.SOCKET_TOKEN_PREFIX):
        viewer, expires_at = await _share_viewer(token, on_identified)
        return Connect(viewer, subprotocol, serializer, expires_at)
    access = decode_token(token)
    user_id = user_id_from_token(access)
    if on_identified is not None:
        await on_identified(user_topic(user_id))
    user = await _current_user(user_id, access)
    return Connect(user, subprotocol, serializer, float(access["exp"]))
