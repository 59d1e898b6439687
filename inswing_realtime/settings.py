"""Settings, grouped by concern; each value comes from the environment with a safe default.

With no `DATABASE_URL` the app runs on a local SQLite file, and with no `REDIS_URL`
on the in-memory channel layer and in-memory presence: one process, zero set-up.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url

from coaching.api.schema_docs import DESCRIPTION as API_DESCRIPTION

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
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
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
DATABASES = {
    "default": dj_database_url.parse(
        # An empty DATABASE_URL counts as unset.
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
# Test databases are named per test process, so that two test runs on one machine
# (a developer's and CI's, or parallel helpers) never drop each other's database.
_test_suffix = os.getpid()
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory, so that server processes started by tests share it.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / f".test-db-{_test_suffix}.sqlite3")}
    # IMMEDIATE: a transaction takes the write lock up front, so concurrent writers
    # wait for each other instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    )
else:
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{_test_suffix}"}

# --- Realtime: channel layer and presence -----------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
# Prefix of every Redis key and channel this app uses, so that deployments (and
# test runs) can share one Redis without seeing each other.
REALTIME_PREFIX = os.environ.get("REALTIME_PREFIX", "inswing")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # Pub/sub layer: one PUBLISH per broadcast, fanned out by Redis. See
            # docs/architecture.md for why the core layer is not used.
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {
                "hosts": [{"address": REDIS_URL}],
                "prefix": f"{REALTIME_PREFIX}:layer",
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# Presence: a process refreshes its heartbeat every PRESENCE_HEARTBEAT seconds;
# when it has not for PRESENCE_NODE_TTL seconds, other processes remove its
# connections and announce their leaves. Bound on a crashed process's ghosts:
# PRESENCE_NODE_TTL + PRESENCE_HEARTBEAT.
PRESENCE_HEARTBEAT = float(os.environ.get("PRESENCE_HEARTBEAT", "5"))
PRESENCE_NODE_TTL = float(os.environ.get("PRESENCE_NODE_TTL", "20"))
# Threads (each with its own database connection) that run socket handlers' ORM work.
REALTIME_DB_THREADS = int(os.environ.get("REALTIME_DB_THREADS", "16"))
REDIS_MAX_CONNECTIONS = int(os.environ.get("REDIS_MAX_CONNECTIONS", "200"))
# Live drawing in the swing review: strokes one user may send per second (per process).
REVIEW_STROKES_PER_SECOND = int(os.environ.get("REVIEW_STROKES_PER_SECOND", "60"))

# Browser origins allowed to open the socket, besides the page's own origin.
# Clients that send no Origin (apps, services, scripts) authenticate by token alone.
WEBSOCKET_ALLOWED_ORIGINS = env_list("WEBSOCKET_ALLOWED_ORIGINS")
# Largest text frame the channel code will parse; larger ones get an error reply.
WEBSOCKET_MAX_FRAME_BYTES = int(os.environ.get("WEBSOCKET_MAX_FRAME_BYTES", str(64 * 1024)))

# --- REST, tokens, schema ---------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "EXCEPTION_HANDLER": "coaching.api.errors.exception_handler",
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
}

# --- Static files -----------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# The phoenix client comes from npm (`npm install`), never from a copy.
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("vendor/phoenix", BASE_DIR / "node_modules/phoenix/priv/static"),
]
WHITENOISE_USE_FINDERS = True

# --- Misc -------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
]
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
