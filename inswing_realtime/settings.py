"""Settings, grouped by concern; each value comes from the environment with a safe default.

With no `DATABASE_URL` the app runs on this checkout's embedded PostgreSQL
(inswing_realtime/embedded_db.py), and with no `REDIS_URL` on the in-memory channel
layer and in-memory presence: one process, zero set-up.
"""

import ipaddress
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from coaching.api.schema_docs import DESCRIPTION as API_DESCRIPTION
from coaching.services import rtc
from inswing_realtime import embedded_db
from inswing_realtime.db_pool import fail_waiting_requests

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


# --- Core -------------------------------------------------------------------
DEBUG = env_bool("DEBUG", True)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise RuntimeError("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "dev-only-insecure-secret-key-change-me-0123456789"
# Earlier keys, still accepted for what Django signs (sessions, signed values) while a
# new SECRET_KEY takes over; JWTs do not use them (docs/operations.md, Rotating SECRET_KEY).
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "coaching",
]

MIDDLEWARE = [
    "coaching.request_ids.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "inswing_realtime.urls"
ASGI_APPLICATION = "inswing_realtime.asgi.application"
AUTH_USER_MODEL = "coaching.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------
# PostgreSQL only. DATABASE_URL names the server (CI: the machine's; production: yours).
# Unset or empty, it is this checkout's embedded server (inswing_realtime/embedded_db.py,
# data in .pgdata/): `make run` and the tests start it, point DATABASE_URL at it and stop
# it when they end; other commands (`manage.py shell`, `dbshell`) reach it while one of
# them runs, and fail to connect when none does.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or embedded_db.database_url(),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured(
        "DATABASE_URL must name a PostgreSQL database (postgres://user:pw@host:port/name), "
        f"not {DATABASES['default']['ENGINE']}"
    )
# Every thread that touches the database (REST requests, which daphne runs each in a
# thread of its own, and the socket's database threads) borrows a connection from one
# bounded pool per process and gives it back when its request or call ends. A
# persistent connection per thread (CONN_MAX_AGE > 0) was left open by every finished
# request thread until a garbage collection happened to free it.
DATABASES["default"]["CONN_MAX_AGE"] = 0
DATABASES["default"].setdefault("OPTIONS", {}).update(
    {
        "pool": {
            "min_size": int(os.environ.get("DB_POOL_MIN_SIZE", "2")),
            "max_size": int(os.environ.get("DB_POOL_MAX_SIZE", "20")),
            # A request that waits longer for a free connection answers 503 (retryable).
            "timeout": float(os.environ.get("DB_POOL_TIMEOUT", "10")),
            # While the database refuses connections, waiting requests fail at once.
            "reconnect_timeout": 0,
            "reconnect_failed": fail_waiting_requests,
        },
        # Names the process's connections in pg_stat_activity.
        "application_name": os.environ.get("DB_APPLICATION_NAME", "inswing-realtime"),
    }
)
# Test databases are named per test process, so that two test runs on one server
# (a developer's and CI's, or parallel helpers) never drop each other's database.
DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{os.getpid()}"}

# --- Realtime: channel layer and presence -----------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
# Prefix of every Redis key and channel this app uses, so that deployments (and
# test runs) can share one Redis without seeing each other.
REALTIME_PREFIX = os.environ.get("REALTIME_PREFIX", "inswing")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # Pub/sub layer: one PUBLISH per broadcast, fanned out by Redis. See
            # docs/protocol.md ("Design notes") for why the core layer is not used.
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {
                # Broken connections (a Redis restart) are retried briefly with
                # backoff, as for the app's own clients (coaching/realtime/redis_client.py).
                "hosts": [
                    {
                        "address": REDIS_URL,
                        "socket_connect_timeout": 1,
                        "retry": Retry(ExponentialBackoff(cap=0.4, base=0.05), 3),
                        "retry_on_error": [RedisConnectionError, RedisTimeoutError],
                    }
                ],
                "prefix": f"{REALTIME_PREFIX}:layer",
            },
        }
    }
else:
    # One layer channel per process carries every broadcast (coaching/realtime/fanout.py):
    # room for bursts, and group membership that does not expire after a day.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            "CONFIG": {"capacity": 100_000, "group_expiry": 10 * 365 * 86400},
        }
    }

# Django's cache holds the REST throttles' counters: shared in Redis when there is one.
# Keyed by database too, since they count per user id (test runs each have their own).
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": f"{REALTIME_PREFIX}:cache:{DATABASES['default']['NAME']}",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Presence: a process refreshes its heartbeat every PRESENCE_HEARTBEAT seconds;
# when it has not for PRESENCE_NODE_TTL seconds, other processes remove its
# connections and announce their leaves. Bound on a crashed process's ghosts:
# PRESENCE_NODE_TTL + PRESENCE_HEARTBEAT.
PRESENCE_HEARTBEAT = float(os.environ.get("PRESENCE_HEARTBEAT", "5"))
PRESENCE_NODE_TTL = float(os.environ.get("PRESENCE_NODE_TTL", "20"))
# "X left the session" is posted when a participant's last connection has been gone
# this many seconds: a phone network that drops and comes back announces nothing.
LEAVE_NOTICE_GRACE = float(os.environ.get("LEAVE_NOTICE_GRACE", "15"))
# Threads (each with its own database connection) that run socket handlers' ORM work.
REALTIME_DB_THREADS = int(os.environ.get("REALTIME_DB_THREADS", "16"))
# Presence connections per process. Joins wait for a free one (BlockingConnectionPool):
# a few busy connections cost less than opening hundreds in a reconnect storm.
REDIS_MAX_CONNECTIONS = int(os.environ.get("REDIS_MAX_CONNECTIONS", "32"))
# Live drawing in the swing review: strokes one user may send per second (per process).
REVIEW_STROKES_PER_SECOND = int(os.environ.get("REVIEW_STROKES_PER_SECOND", "60"))
# On PostgreSQL: connections per process that store chat batches from the event loop
# (coaching/services/chat_store.py); their commits are flushed together.
CHAT_WRITERS = int(os.environ.get("CHAT_WRITERS", "2"))
# On PostgreSQL: asyncpg connections per process (opened as needed) for what connects and
# joins read and the participant notices, from the event loop (coaching/services/pg.py).
SOCKET_DB_CONNECTIONS = int(os.environ.get("SOCKET_DB_CONNECTIONS", "2"))

# At SIGTERM: the process fails /readyz at once, refuses new sockets and closes its open
# ones in batches spread over this many seconds; it exits within DRAIN_SECONDS + 5.
DRAIN_SECONDS = float(os.environ.get("DRAIN_SECONDS", "10"))
# Who may read GET /metrics: addresses or networks (default: loopback and private ranges).
METRICS_ALLOWED_IPS = [
    ipaddress.ip_network(item, strict=False)
    for item in env_list(
        "METRICS_ALLOWED_IPS", "127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16"
    )
]
# Browser origins allowed to open the socket, besides the page's own origin.
# Clients that send no Origin (apps, services, scripts) authenticate by token alone.
WEBSOCKET_ALLOWED_ORIGINS = env_list("WEBSOCKET_ALLOWED_ORIGINS")
# Largest WebSocket message the server takes (inswing_realtime/serve.py): a larger one
# drops the connection as it arrives, before it is parsed.
WEBSOCKET_MAX_FRAME_BYTES = int(os.environ.get("WEBSOCKET_MAX_FRAME_BYTES", str(64 * 1024)))

# While the database is down: what clients are told to wait before retrying
# (REST `Retry-After`, socket `retry_after_ms`), and how often each kind of
# repeated failure is logged (one line per interval, not a traceback per request).
OUTAGE_RETRY_AFTER_SECONDS = float(os.environ.get("OUTAGE_RETRY_AFTER_SECONDS", "2"))
OUTAGE_LOG_INTERVAL = float(os.environ.get("OUTAGE_LOG_INTERVAL", "10"))
# Per-user limits on what clients push on the socket (coaching/realtime/ratelimit.py):
# token buckets of RATE per second holding up to BURST, shared by all the user's
# sockets (on every process, with REDIS_URL). A socket refused for
# RATE_LIMIT_CLOSE_SECONDS seconds in a row, at least CLIENT_EVENTS_PER_SECOND times in
# each, is closed.
CHAT_RATE_PER_SECOND = float(os.environ.get("CHAT_RATE_PER_SECOND", "5"))
CHAT_RATE_BURST = int(os.environ.get("CHAT_RATE_BURST", "20"))
CLIENT_EVENTS_PER_SECOND = float(os.environ.get("CLIENT_EVENTS_PER_SECOND", "20"))
CLIENT_EVENTS_BURST = int(os.environ.get("CLIENT_EVENTS_BURST", "60"))
# `call:signal` (offers, answers, ICE candidates) per user, on top of the above: a
# call's setup trickles a few dozen candidates, a restart as many again.
CALL_SIGNALS_PER_SECOND = float(os.environ.get("CALL_SIGNALS_PER_SECOND", "10"))
CALL_SIGNALS_BURST = int(os.environ.get("CALL_SIGNALS_BURST", "40"))
# Largest `data` of one `call:signal` (JSON bytes): an SDP offer is 2-8 KiB.
CALL_SIGNAL_MAX_BYTES = int(os.environ.get("CALL_SIGNAL_MAX_BYTES", str(16 * 1024)))
# Calls' networks (coaching/services/rtc.py, GET /api/rtc/credentials/): ICE servers
# as RTCIceServer JSON without credentials (e.g. [{"urls": "stun:stun.example.net"}]),
# `all` or `relay`, and TURN (coturn's static-auth-secret) whose credentials are minted
# per user for RTC_CREDENTIAL_TTL_SECONDS (at most an hour). Checked here: a bad value
# stops the process with its reason.
RTC_ICE_SERVERS = rtc.ice_servers_setting(os.environ.get("RTC_ICE_SERVERS", ""))
RTC_ICE_TRANSPORT_POLICY = rtc.transport_policy_setting(
    os.environ.get("RTC_ICE_TRANSPORT_POLICY", "all")
)
RTC_TURN_SECRET = os.environ.get("RTC_TURN_SECRET", "")
RTC_TURN_URLS = rtc.turn_setting(
    RTC_TURN_SECRET, env_list("RTC_TURN_URLS"), RTC_ICE_TRANSPORT_POLICY
)
RTC_CREDENTIAL_TTL_SECONDS = rtc.ttl_setting(os.environ.get("RTC_CREDENTIAL_TTL_SECONDS", "3600"))
RATE_LIMIT_CLOSE_SECONDS = int(os.environ.get("RATE_LIMIT_CLOSE_SECONDS", "10"))
# With REDIS_URL these limits hold across the cluster (a user's pushes on every process
# count together), and a user may hold at most MAX_SOCKETS_PER_USER sockets at once:
# the next connect is refused with HTTP 429 before the upgrade.
MAX_SOCKETS_PER_USER = int(os.environ.get("MAX_SOCKETS_PER_USER", "20"))

# --- REST, tokens, schema ---------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # simplejwt's, refusing tokens issued before the user's access ended.
        "coaching.api.authentication.CurrentJWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "EXCEPTION_HANDLER": "coaching.api.errors.exception_handler",
    # Token endpoints (coaching/api/throttles.py): password attempts per client
    # address, socket tokens per user.
    "DEFAULT_THROTTLE_RATES": {
        "auth_token": os.environ.get("AUTH_TOKEN_RATE", "10/minute"),
        "socket_token": os.environ.get("SOCKET_TOKEN_RATE", "30/minute"),
        "rtc_credentials": os.environ.get("RTC_CREDENTIALS_RATE", "30/minute"),
        "chat_post": f"{round(CHAT_RATE_PER_SECOND * 60)}/minute",
    },
    # Proxies in front of the app whose X-Forwarded-For is trusted for the client's
    # address; 0 uses the peer address, so a client cannot pick its own throttle key.
    "NUM_PROXIES": int(os.environ.get("NUM_PROXIES", "0")),
}
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=int(os.environ.get("JWT_ACCESS_MINUTES", "15"))),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=int(os.environ.get("JWT_REFRESH_DAYS", "7"))),
    "SIGNING_KEY": SECRET_KEY,
}
# Pages fetch a socket token this short-lived; phoenix.js re-reads it on reconnect.
SOCKET_TOKEN_LIFETIME = timedelta(minutes=int(os.environ.get("SOCKET_TOKEN_MINUTES", "10")))
SPECTACULAR_SETTINGS = {
    "TITLE": "INSwing Realtime API",
    "DESCRIPTION": API_DESCRIPTION,
    "VERSION": "1.0.0",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "StatusEnum": ["waiting", "active", "paused", "ended"],
        "UploadStatusEnum": ["receiving", "complete"],
    },
}

# --- Static files -----------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# The phoenix client comes from npm (`npm install`), never from a copy.
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("vendor/phoenix", BASE_DIR / "node_modules/phoenix/priv/static"),
    ("vendor/uplot", BASE_DIR / "node_modules/uplot/dist"),
]
WHITENOISE_USE_FINDERS = True

# --- Uploaded swings and their storage (coaching/services/uploads.py) -------
# Django's storage API: local files under MEDIA_ROOT by default; with
# AWS_STORAGE_BUCKET_NAME set, an S3-compatible bucket through django-storages (install
# the `s3` extra: pip install -e '.[s3]'), AWS_S3_ENDPOINT_URL for MinIO, R2 and the like;
# credentials as boto3 reads them (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY).
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", str(BASE_DIR / "media")))
# A signed media link (the analysis webhook's video_url) works this long.
MEDIA_LINK_SECONDS = int(os.environ.get("MEDIA_LINK_SECONDS", "3600"))
# Behind nginx (deploy/): the media view checks access, then nginx sends the file.
MEDIA_ACCEL_REDIRECT = env_bool("MEDIA_ACCEL_REDIRECT", False)
AWS_STORAGE_BUCKET_NAME = os.environ.get("AWS_STORAGE_BUCKET_NAME", "")
STORAGES = {
    "default": (
        {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": AWS_STORAGE_BUCKET_NAME,
                "endpoint_url": os.environ.get("AWS_S3_ENDPOINT_URL") or None,
                "region_name": os.environ.get("AWS_S3_REGION_NAME") or None,
                "querystring_auth": True,
                "querystring_expire": MEDIA_LINK_SECONDS,
                "file_overwrite": False,
                "default_acl": None,
            },
        }
        if AWS_STORAGE_BUCKET_NAME
        else {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    ),
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
SWING_UPLOAD_MAX_BYTES = int(os.environ.get("SWING_UPLOAD_MAX_BYTES", str(200 * 1024 * 1024)))
# Pages send chunks of this size; the server takes at most 2 MiB in one request.
SWING_UPLOAD_CHUNK_BYTES = int(os.environ.get("SWING_UPLOAD_CHUNK_BYTES", str(1024 * 1024)))
# Unfinished uploads older than this are removed by `manage.py clean_uploads`.
SWING_UPLOAD_EXPIRE_HOURS = float(os.environ.get("SWING_UPLOAD_EXPIRE_HOURS", "24"))
# Absolute links for the Node API (the webhook's video_url), e.g. https://live.inswing.ai
PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
# The analysis webhook (docs/api.md): off unless both are set.
ANALYSIS_WEBHOOK_URL = os.environ.get("ANALYSIS_WEBHOOK_URL", "")
ANALYSIS_WEBHOOK_SECRET = os.environ.get("ANALYSIS_WEBHOOK_SECRET", "")
# Retries wait RETRY_SECONDS, then twice as long each time (at most an hour), up to
# MAX_ATTEMPTS attempts in all; each attempt waits TIMEOUT seconds for an answer.
ANALYSIS_WEBHOOK_RETRY_SECONDS = float(os.environ.get("ANALYSIS_WEBHOOK_RETRY_SECONDS", "5"))
ANALYSIS_WEBHOOK_MAX_ATTEMPTS = int(os.environ.get("ANALYSIS_WEBHOOK_MAX_ATTEMPTS", "12"))
ANALYSIS_WEBHOOK_TIMEOUT = float(os.environ.get("ANALYSIS_WEBHOOK_TIMEOUT", "10"))

# --- Misc -------------------------------------------------------------------
# Korean first; pages and the admin show times in TIME_ZONE (the API sends epoch ms).
LANGUAGE_CODE = "ko"
LANGUAGES = [("ko", "한국어"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("TIME_ZONE", "Asia/Seoul")
USE_I18N = True
USE_TZ = True
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
]
# `text` (the default) or `json`: one JSON object per line (inswing_realtime/log_format.py).
LOG_FORMAT = os.environ.get("LOG_FORMAT", "text")
if LOG_FORMAT not in ("text", "json"):
    raise RuntimeError("LOG_FORMAT must be text or json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "text": {"format": "%(message)s"},
        "json": {"()": "inswing_realtime.log_format.JsonFormatter"},
    },
    "filters": {"request_id": {"()": "coaching.request_ids.RequestIdFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # Django's default config gives its logger a console handler of its own (with DEBUG on),
    # and the record reached the root's too: every 4xx was printed twice. Root's only.
    "loggers": {
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        # The pool logs every failed connection attempt; coaching.outage reports an outage
        # once per interval instead.
        "psycopg.pool": {"level": "ERROR"},
    },
}
