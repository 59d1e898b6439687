"""Request rates for the token endpoints and REST chat (rates: `DEFAULT_THROTTLE_RATES`).

Counters live in Django's cache: Redis when `REDIS_URL` is set (shared by every
process), else per process. A refused request gets 429 `rate_limited` with
`Retry-After`.
"""

from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle, UserRateThrottle
from rest_framework.views import APIView


class PasswordLoginThrottle(SimpleRateThrottle):
    """Password attempts per client address, signed in or not (against guessing)."""

    scope = "auth_token"

    def get_cache_key(self, request: Request, view: APIView) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class SocketTokenThrottle(UserRateThrottle):
    """Socket tokens per user."""

    scope = "socket_token"


class RtcCredentialsThrottle(UserRateThrottle):
    """TURN credentials per user (`GET /api/rtc/credentials/`)."""

    scope = "rtc_credentials"


class ChatPostThrottle(UserRateThrottle):
    """Chat lines posted over REST per user, at the socket's chat rate (`CHAT_RATE_PER_SECOND`)."""

    scope = "chat_post"
