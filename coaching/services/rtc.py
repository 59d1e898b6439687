"""The network side of a call: the ICE servers a page hands its RTCPeerConnection, with
TURN credentials minted per user and request.

TURN credentials follow the TURN REST API scheme (draft-uberti-behave-turn-rest), which
coturn checks with `use-auth-secret` and `static-auth-secret`: the username is
`"<expiry, Unix seconds>:<user id>"` and the credential is
base64(HMAC-SHA1(RTC_TURN_SECRET, username)). The TURN server needs only the shared
secret: it refuses a username whose expiry has passed, and nothing is stored here.

The settings are read and checked once, when the process starts (`*_setting`, called
from inswing_realtime/settings.py): a bad value stops the process with its reason.
"""

import base64
import hashlib
import hmac
import json
import math
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

MAX_CREDENTIAL_TTL_SECONDS = 3600
MIN_CREDENTIAL_TTL_SECONDS = 20
TRANSPORT_POLICIES = ("all", "relay")
# What an RTCIceServer may say besides its URLs; credentials are minted, never configured.
_SERVER_FIELDS = {"urls"}
_SCHEMES = ("stun:", "stuns:", "turn:", "turns:")


def ice_servers_setting(text: str) -> list[dict[str, Any]]:
    """RTC_ICE_SERVERS: a JSON array of RTCIceServer objects (`{"urls": "stun:…"}` or a list
    of URLs), without credentials (TURN's are minted: RTC_TURN_SECRET, RTC_TURN_URLS)."""
    if not text.strip():
        return []
    try:
        servers = json.loads(text)
    except ValueError as exc:
        raise ImproperlyConfigured(f"RTC_ICE_SERVERS is not JSON: {exc}") from None
    if not isinstance(servers, list):
        raise ImproperlyConfigured("RTC_ICE_SERVERS must be a JSON array of RTCIceServer objects")
    cleaned = []
    for server in servers:
        if not isinstance(server, dict) or "urls" not in server:
            raise ImproperlyConfigured(f"RTC_ICE_SERVERS: {server!r} is not an RTCIceServer")
        extra = set(server) - _SERVER_FIELDS
        if extra:
            raise ImproperlyConfigured(
                f"RTC_ICE_SERVERS: {', '.join(sorted(extra))} not allowed (only urls; TURN "
                "credentials are minted from RTC_TURN_SECRET for RTC_TURN_URLS)"
            )
        urls = server["urls"] if isinstance(server["urls"], list) else [server["urls"]]
        cleaned.append({"urls": ice_urls_setting("RTC_ICE_SERVERS", urls)})
    return cleaned


def ice_urls_setting(name: str, urls: list[Any]) -> list[str]:
    """ICE server URLs (stun:, stuns:, turn:, turns:), at least one."""
    if not urls:
        raise ImproperlyConfigured(f"{name}: an ICE server needs at least one URL")
    for url in urls:
        if not isinstance(url, str) or not url.startswith(_SCHEMES):
            raise ImproperlyConfigured(
                f"{name}: {url!r} is not a stun:, stuns:, turn: or turns: URL"
            )
    return list(urls)


def transport_policy_setting(value: str) -> str:
    """RTC_ICE_TRANSPORT_POLICY: `all` (direct paths first, TURN as a fallback) or `relay`
    (every call through TURN: hides the participants' addresses from each other)."""
    if value not in TRANSPORT_POLICIES:
        raise ImproperlyConfigured("RTC_ICE_TRANSPORT_POLICY must be all or relay")
    return value


def turn_setting(secret: str, urls: list[str], policy: str) -> list[str]:
    """RTC_TURN_URLS, checked against RTC_TURN_SECRET: both or neither, and `relay` needs
    TURN (every path goes through it)."""
    if bool(secret) != bool(urls):
        raise ImproperlyConfigured("RTC_TURN_SECRET and RTC_TURN_URLS are set together")
    if policy == "relay" and not secret:
        raise ImproperlyConfigured("RTC_ICE_TRANSPORT_POLICY=relay needs TURN (RTC_TURN_SECRET)")
    return ice_urls_setting("RTC_TURN_URLS", urls) if urls else []


def ttl_setting(value: str) -> int:
    """RTC_CREDENTIAL_TTL_SECONDS: how long a minted TURN credential works, 20-3600 s
    (the page renews it by an ICE restart at 80 % of its life)."""
    try:
        seconds = int(value)
    except ValueError:
        seconds = 0
    if not MIN_CREDENTIAL_TTL_SECONDS <= seconds <= MAX_CREDENTIAL_TTL_SECONDS:
        raise ImproperlyConfigured(
            f"RTC_CREDENTIAL_TTL_SECONDS must be a whole number of seconds, "
            f"{MIN_CREDENTIAL_TTL_SECONDS} to "
            f"{MAX_CREDENTIAL_TTL_SECONDS}"
        )
    return seconds


def turn_credential(secret: str, username: str) -> str:
    """The password coturn expects for `username` under `static-auth-secret=secret`."""
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def ice_configuration(user_id: int, now: float) -> dict[str, Any]:
    """What `GET /api/rtc/credentials/` answers `user_id` at `now` (Unix seconds): the ICE
    servers (TURN's with a credential good until `expires_at`, epoch ms; null without
    TURN) and the transport policy. The page fetches it again before `expires_at` and
    for each new call."""
    servers = [dict(server) for server in settings.RTC_ICE_SERVERS]
    expires_at = None
    if settings.RTC_TURN_SECRET:
        expiry = math.floor(now) + settings.RTC_CREDENTIAL_TTL_SECONDS
        username = f"{expiry}:{user_id}"
        servers.append(
            {
                "urls": list(settings.RTC_TURN_URLS),
                "username": username,
                "credential": turn_credential(settings.RTC_TURN_SECRET, username),
            }
        )
        expires_at = expiry * 1000
    return {
        "ice_servers": servers,
        "ice_transport_policy": settings.RTC_ICE_TRANSPORT_POLICY,
        "expires_at": expires_at,
    }
