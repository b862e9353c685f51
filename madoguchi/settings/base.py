"""Settings shared by every profile. Values come from MADOGUCHI_* environment variables."""

import os
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

PACKAGE_DIR = Path(__file__).resolve().parent.parent

# Everything an embedded install keeps (database, uploads, development keys) lives here.
DATA_DIR = Path(os.environ.get("MADOGUCHI_DATA_DIR", "var")).resolve()

# Marks the development key: production refuses it (see production.py).
DEVELOPMENT_SECRET_KEY = "madoguchi-development-key-never-use-in-production"


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use true or false)")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer") from None


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def database_from_url(url: str) -> dict:
    """One DATABASES entry from a URL; SQLite gets WAL and immediate transactions."""
    try:
        # Persistent connections: opening SQLite (and its PRAGMAs) or a PostgreSQL session
        # per request costs more than the page itself.
        config = dj_database_url.parse(url, conn_max_age=env_int("MADOGUCHI_DB_CONN_MAX_AGE", 60), conn_health_checks=True)
    except (ValueError, KeyError) as exc:
        raise ImproperlyConfigured(f"MADOGUCHI_DATABASE_URL is not a database URL: {exc}") from None
    engine = config.get("ENGINE", "")
    if engine == "django.db.backends.sqlite3":
        # WAL lets readers run beside the one writer; IMMEDIATE takes the write lock at
        # BEGIN so two writers queue on busy_timeout instead of failing with
        # "database is locked" when a read transaction tries to upgrade.
        config["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": (
                "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;"
                "PRAGMA foreign_keys=ON;PRAGMA busy_timeout=30000"
            ),
        }
    elif engine == "django.db.backends.postgresql":
        config.setdefault("OPTIONS", {})
        # Several test runs on one server (parallel worktrees) each need their own test
        # database; the default is Django's test_<name>.
        if test_name := os.environ.get("MADOGUCHI_TEST_DATABASE_NAME"):
            config["TEST"] = {"NAME": test_name}
    else:
        raise ImproperlyConfigured(
            f"MADOGUCHI_DATABASE_URL uses {engine or 'an unknown engine'}; use sqlite:// or postgresql://"
        )
    return config


SECRET_KEY = os.environ.get("MADOGUCHI_SECRET_KEY", DEVELOPMENT_SECRET_KEY)
DEBUG = env_bool("MADOGUCHI_DEBUG", False)
ALLOWED_HOSTS = env_list("MADOGUCHI_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])

DATABASES = {
    "default": database_from_url(
        os.environ.get("MADOGUCHI_DATABASE_URL", f"sqlite:///{DATA_DIR / 'madoguchi.sqlite3'}")
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "madoguchi.core",
    "madoguchi.municipalities",
    "madoguchi.audit",
    "madoguchi.staff",
    "madoguchi.residents",
    "madoguchi.identity",
    "madoguchi.ceremonies",
    "madoguchi.natapp",  # after ceremonies: registers the `national-app` card path
    "madoguchi.portal",
    "madoguchi.oidc",
    "madoguchi.procedures",
    "madoguchi.notices",  # before applications: it registers notice channels applications checks
    "madoguchi.applications",
    "madoguchi.documents",
    "madoguchi.payments",
    "madoguchi.receiving_accounts",
    "madoguchi.exports",
    "madoguchi.casework",
    "madoguchi.certificates",
    "madoguchi.benefits",
    "madoguchi.bookings",
    "madoguchi.counter",
    "madoguchi.moving",
    "madoguchi.citizencard",
    "madoguchi.attendance",
    "madoguchi.library",
    "madoguchi.demo",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "django_htmx",
    "django_tasks",
    "django_tasks_db",
]

MIDDLEWARE = [
    "madoguchi.core.middleware.RequestIdMiddleware",
    # Outermost but one: every answer under /<code>/api/ is private, no-store (docs/applications.md).
    "madoguchi.core.api_cache.ApiNoStoreMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "madoguchi.municipalities.middleware.TenantMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: it turns a lockout into its response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "madoguchi.urls"
WSGI_APPLICATION = "madoguchi.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
                "madoguchi.core.context_processors.site",
                "madoguchi.identity.context_processors.resident",
            ],
        },
    }
]

AUTHENTICATION_BACKENDS = [
    # django-axes first, so a locked-out account is refused before its password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/"

# Staff lockout: 5 failures per account (password or TOTP) lock it for 30 minutes.
AXES_FAILURE_LIMIT = env_int("MADOGUCHI_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = env_int("MADOGUCHI_LOGIN_COOLOFF_MINUTES", 30) / 60
# Per account, not per address: a city's staff share a few NAT addresses on LGWAN, so
# an address lockout would lock out the whole office. (Silences axes.W006 below.)
AXES_LOCKOUT_PARAMETERS = ["username"]
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "staff/locked_out.html"
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False

OTP_TOTP_ISSUER = "madoguchi"

# Japanese first; English through the "en" catalogue. Message ids are Japanese.
LANGUAGE_CODE = "ja"
LANGUAGES = [("ja", "日本語"), ("en", "English")]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "Asia/Tokyo"
LANGUAGE_COOKIE_SECURE = True
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"

STATIC_URL = "/static/"
# Served by WhiteNoise from the package itself; production may also collectstatic
# into STATIC_ROOT (production.py).
STATICFILES_DIRS = [PACKAGE_DIR / "static"]
# Uploaded and generated files live here and are served only through permission-checking
# views: there is deliberately no MEDIA_URL route.
MEDIA_ROOT = DATA_DIR / "files"
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = False

# Cookies: strict by default. Secure cookies need HTTPS; the embedded install on
# http://127.0.0.1 relies on browsers treating localhost as a secure context.
SESSION_COOKIE_SECURE = env_bool("MADOGUCHI_SECURE_COOKIES", True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
LANGUAGE_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env_int("MADOGUCHI_SESSION_SECONDS", 8 * 3600)
SESSION_COOKIE_NAME = "madoguchi_session"
CSRF_COOKIE_NAME = "madoguchi_csrf"
CSRF_FAILURE_VIEW = "madoguchi.core.views.csrf_failure"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# Oversized requests are refused with 400 before a view sees them.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 500

# The Tasks backend (docs/notices.md, docs/configuration.md): `database` (the default, the
# embedded queue in the application's database) or `rq` (RQ on Redis at MADOGUCHI_REDIS_URL,
# through django-tasks-rq). Configuration only: the same tasks, the same `madoguchi worker`.
TASKS_BACKEND = os.environ.get("MADOGUCHI_TASKS_BACKEND", "database").strip() or "database"
REDIS_URL = os.environ.get("MADOGUCHI_REDIS_URL", "").strip()
# /metrics answers this machine, and anyone presenting this bearer token (docs/operations.md).
METRICS_TOKEN = os.environ.get("MADOGUCHI_METRICS_TOKEN", "")
if TASKS_BACKEND not in ("database", "rq"):
    raise ImproperlyConfigured(f"MADOGUCHI_TASKS_BACKEND={TASKS_BACKEND!r}: use database or rq")
if TASKS_BACKEND == "rq":
    if not REDIS_URL:
        raise ImproperlyConfigured("MADOGUCHI_TASKS_BACKEND=rq needs MADOGUCHI_REDIS_URL (redis://host:port/db)")
    INSTALLED_APPS += ["django_rq", "django_tasks_rq"]
    TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
    RQ_QUEUES = {"default": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 600}}
else:
    TASKS = {
        "default": {
            "BACKEND": "django_tasks_db.DatabaseBackend",
            "QUEUES": ["default"],
        }
    }

# The cache: Redis when MADOGUCHI_CACHE_URL (or else MADOGUCHI_REDIS_URL) names one, so every
# server process and machine shares it (several app servers behind a balancer: what one
# process caches, another must see); the rate-limit counters then live in it. The process's
# own memory otherwise (the embedded install; rate counters in the database).
# docs/configuration.md, docs/operations.md.
CACHE_URL = os.environ.get("MADOGUCHI_CACHE_URL", "").strip() or REDIS_URL
if CACHE_URL:
    if not CACHE_URL.startswith(("redis://", "rediss://", "unix://")):
        raise ImproperlyConfigured(f"MADOGUCHI_CACHE_URL={CACHE_URL!r}: use redis://host:port/db")
    CACHES = {"default": {"BACKEND": "madoguchi.core.cache.RedisCache", "LOCATION": CACHE_URL,
                          "KEY_PREFIX": "madoguchi", "TIMEOUT": 300}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Where sessions live — never in one process's memory, so a resident signed in through one app
# server stays signed in through every other (tests/topology): `database` (Django's db
# sessions, the default), `cached_db` (read from the shared cache, written through to the
# database) or `cache` (the shared cache only: no database statement for a session; lost if
# Redis loses its data — people sign in again). Chosen by MADOGUCHI_SESSION_STORE; the
# default is `cache` only when MADOGUCHI_CACHE_URL itself is set (an operator's choice of a
# shared cache), `database` otherwise.
SESSION_STORE = os.environ.get("MADOGUCHI_SESSION_STORE", "").strip() or (
    "cache" if os.environ.get("MADOGUCHI_CACHE_URL", "").strip() else "database")
_SESSION_ENGINES = {"database": "madoguchi.core.sessions",
                    "cached_db": "django.contrib.sessions.backends.cached_db",
                    "cache": "django.contrib.sessions.backends.cache"}
if SESSION_STORE not in _SESSION_ENGINES:
    raise ImproperlyConfigured(f"MADOGUCHI_SESSION_STORE={SESSION_STORE!r}: use database, cached_db or cache")
if SESSION_STORE != "database" and not CACHE_URL:
    raise ImproperlyConfigured(f"MADOGUCHI_SESSION_STORE={SESSION_STORE} needs MADOGUCHI_CACHE_URL (a cache every "
                               "server process shares)")
SESSION_ENGINE = _SESSION_ENGINES[SESSION_STORE]


LOG_LEVEL = os.environ.get("MADOGUCHI_LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # personal_data is on every handler: no record carries a query string, a body or an
    # individual number (madoguchi/core/logging.py; docs/operations.md). A handler added
    # here must list it too (tests/core/test_logging.py checks).
    "filters": {
        "request_id": {"()": "madoguchi.core.logging.RequestIdFilter"},
        "personal_data": {"()": "madoguchi.core.logging.PersonalDataFilter"},
    },
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "datefmt": "%Y-%m-%dT%H:%M:%S%z",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        }
    },
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "filters": ["request_id", "personal_data"],
        }
    },
    "root": {"handlers": ["stderr"], "level": LOG_LEVEL},
    "loggers": {
        # Our request log replaces Django's; 4xx/5xx are still logged there with a request id.
        "django.server": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
        # Authlib's DEBUG records print every access and refresh token it issues.
        "authlib": {"level": "INFO"},
    },
}


# OpenID Connect provider (madoguchi/oidc, docs/oidc.md). Each municipality is an issuer at
# ISSUER_BASE/<code>; without a base the issuer follows the request's host.
OIDC_ISSUER_BASE = os.environ.get("MADOGUCHI_OIDC_ISSUER_BASE", "").rstrip("/")
# Where the server is reached, for the absolute links the CLI prints (`demo`, `oidc client
# add`): MADOGUCHI_SITE_URL, else the host and port `madoguchi serve` uses by default.
_site_host = os.environ.get("MADOGUCHI_HOST", "127.0.0.1")
SITE_URL = (os.environ.get("MADOGUCHI_SITE_URL") or "http://{}:{}".format(
    "127.0.0.1" if _site_host in ("0.0.0.0", "::", "") else _site_host,
    os.environ.get("MADOGUCHI_PORT", "8000"))).rstrip("/")
# The key of the pairwise `sub` HMAC. Changing it changes every subject every relying party
# knows: set it once, keep it. By default derived from SECRET_KEY.
OIDC_PAIRWISE_SECRET = os.environ.get("MADOGUCHI_OIDC_PAIRWISE_SECRET") or __import__("hmac").new(
    SECRET_KEY.encode(), b"madoguchi-oidc-pairwise-v1", "sha256").hexdigest()
OIDC_SCOPES = ("openid", "name", "address", "birthdate", "gender", "sign", "applications")
OIDC_AUTHORIZE_RATE = env_int("MADOGUCHI_OIDC_AUTHORIZE_RATE", 60)  # per minute and address
OIDC_TOKEN_RATE = env_int("MADOGUCHI_OIDC_TOKEN_RATE", 600)  # per minute and address

# Online applications (issue 7): AES-GCM keys for individual numbers, "kid:base64key,…"
# (32-byte keys; the first encrypts, all decrypt). Unset: dev and test generate a key in
# the data directory; production refuses to store or reveal a number (docs/configuration.md).
MYNUMBER_KEYS = os.environ.get("MADOGUCHI_MYNUMBER_KEYS", "")
MYNUMBER_DEVELOPMENT_KEY_ALLOWED = os.environ.get("MADOGUCHI_ENV", "dev") in ("dev", "test")
APPLICATION_ATTACHMENT_MAX_BYTES = env_int("MADOGUCHI_ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024)
# The applications JSON API: submissions (and preparations, ceremony openings) per minute,
# counted per address and per resident (docs/applications.md).
APPLICATION_API_RATE = env_int("MADOGUCHI_APPLICATION_API_RATE", 30)
# Drafts nobody has touched for this many days are deleted by `madoguchi retention purge`.
APPLICATION_DRAFT_RETENTION_DAYS = env_int("MADOGUCHI_DRAFT_RETENTION_DAYS", 30)

# Where resident records (住民記録) come from: a name in residents/adapters SOURCES.
RESIDENT_RECORD_SOURCE = os.environ.get("MADOGUCHI_RESIDENT_RECORD_SOURCE", "csv")

# Exports to core systems and signed documents (issue 9; docs/exports.md, docs/documents.md).
# A finished export file is deleted (and can no longer be downloaded) after this many hours.
EXPORT_EXPIRY_HOURS = env_int("MADOGUCHI_EXPORT_EXPIRY_HOURS", 24)
# A running export whose heartbeat (written every few seconds while rows are written) is
# older than this many seconds was left by a killed worker: every worker's sweep fails it.
# 10 to 60 seconds (issue 13: within a minute); replaces MADOGUCHI_EXPORT_STALE_MINUTES.
if os.environ.get("MADOGUCHI_EXPORT_STALE_MINUTES"):
    raise ImproperlyConfigured("MADOGUCHI_EXPORT_STALE_MINUTES is replaced by MADOGUCHI_EXPORT_STALE_SECONDS "
                               "(10-60, the heartbeat bound; docs/exports.md)")
EXPORT_STALE_SECONDS = env_int("MADOGUCHI_EXPORT_STALE_SECONDS", 45)
if not 10 <= EXPORT_STALE_SECONDS <= 60:
    raise ImproperlyConfigured(f"MADOGUCHI_EXPORT_STALE_SECONDS={EXPORT_STALE_SECONDS} is not between 10 and 60")
EXPORT_REQUEST_RATE = env_int("MADOGUCHI_EXPORT_REQUEST_RATE", 20)  # export requests per staff member and hour
# Documents are signed by the municipality's installed key; the development LGPKI-shaped CA
# in the data directory stands in only in dev and test (production refuses it).
DOCUMENTS_DEVELOPMENT_CA_ALLOWED = os.environ.get("MADOGUCHI_ENV", "dev") in ("dev", "test")
# The document signers asked in order (documents/signers.py SIGNERS); a development one is
# skipped where DOCUMENTS_DEVELOPMENT_CA_ALLOWED is off.
DOCUMENT_SIGNERS = env_list("MADOGUCHI_DOCUMENT_SIGNERS", ["installed", "development-lgpki"])
# Where the Japanese fonts of seals and PDFs are looked for (documents/fonts.py): drawing
# refuses, naming the package, when they are missing. Colon-separated directories.
DOCUMENT_FONT_DIRS = [d for d in os.environ.get("MADOGUCHI_DOCUMENT_FONT_DIRS",
                                                "/usr/share/fonts:/usr/local/share/fonts").split(":") if d]
# Extra roots a 転出 package from another deployment may chain to (a PEM bundle): in
# production the LGPKI root every municipality's certificate chains to; in a test of two
# development deployments, the other one's development root (moving/services.py).
MOVING_TRUST_ROOTS = os.environ.get("MADOGUCHI_MOVING_TRUST_ROOTS", "").strip()
# Receipts at submission and decision notices are generated by the Tasks worker.
DOCUMENTS_AUTOMATIC = env_bool("MADOGUCHI_DOCUMENTS_AUTOMATIC", True)
# The channels a resident is told of their applications' transitions through
# (applications/notices/base.py CHANNELS): the in-portal inbox; Web Push and e-mail come later.
# `email` (madoguchi/notices) sends through the delivery engine to verified addresses.
NOTICE_CHANNELS = env_list("MADOGUCHI_NOTICE_CHANNELS", ["inbox"])
# The card-reading app's link on a phone's waiting page: `{url}` is the ceremony's URL
# (percent-encoded), the same URL the QR code carries on a desktop.
# 書かない窓口 (docs/counter.md): the local card agent on the staff PC the counter page calls
# (its kiosk server, `madoguchi terminal run`), how long a visit's read data lives, and the
# card face CV issuer keys the server checks reads against: "KEYID=PEM" items separated by
# ";" (e.g. "5000023/001=/etc/madoguchi/jlis-face.pem"; J-LIS does not publish them). Empty:
# in dev and test the virtual card's demo issuer beside the development CA (DATA_DIR/dev-ca).
COUNTER_AGENT_URL = os.environ.get("MADOGUCHI_COUNTER_AGENT_URL", "http://127.0.0.1:8765").rstrip("/")
COUNTER_VISIT_MINUTES = int(os.environ.get("MADOGUCHI_COUNTER_VISIT_MINUTES", "30"))
COUNTER_FACE_ISSUER_KEYS = os.environ.get("MADOGUCHI_COUNTER_FACE_ISSUER_KEYS", "").strip()
COUNTER_DEMO_ISSUER_ALLOWED = os.environ.get("MADOGUCHI_ENV", "dev") in ("dev", "test")
CARD_APP_LINK = os.environ.get("MADOGUCHI_CARD_APP_LINK", "madoguchi-card://ceremony?url={url}")
# The card paths a municipality offers when it has chosen none (docs/card_paths.md;
# `madoguchi card_paths` chooses per municipality): `card-client` (PC/SC or the virtual
# card, by QR code or link), `national-app` (デジタル認証アプリ, as its OIDC relying party),
# `demo-virtual-card` (demo only).
CARD_PATHS_ENABLED = env_list("MADOGUCHI_CARD_PATHS", ["card-client", "demo-virtual-card"])
# The national authentication app (madoguchi/natapp): acr_values asked per ceremony purpose,
# how long one HTTP call to its servers may take, and how long its JWKS and discovery are kept.
NATAPP_ACR_VALUES = {"login": "aal2", "identify": "aal3 crl", "sign": "aal3 crl"}
NATAPP_TIMEOUT_SECONDS = env_int("MADOGUCHI_NATAPP_TIMEOUT", 10)
NATAPP_METADATA_SECONDS = env_int("MADOGUCHI_NATAPP_METADATA_SECONDS", 3600)
# Mail of notices (docs/notices.md): Django's SMTP backend in production.
EMAIL_HOST = os.environ.get("MADOGUCHI_EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("MADOGUCHI_EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("MADOGUCHI_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("MADOGUCHI_EMAIL_PASSWORD", "")
EMAIL_USE_TLS = env_bool("MADOGUCHI_EMAIL_STARTTLS", False)
EMAIL_TIMEOUT = env_int("MADOGUCHI_EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = os.environ.get("MADOGUCHI_EMAIL_FROM", "madoguchi@localhost")
# Web Push (RFC 8292): the contact the push services see in the VAPID claim.
NOTICES_PUSH_CONTACT = os.environ.get("MADOGUCHI_PUSH_CONTACT", "mailto:madoguchi@localhost")
# A push endpoint must be https; only the test configuration accepts http (a local push service).
NOTICES_PUSH_INSECURE_ENDPOINTS = False
# The delivery engine (docs/notices.md): delivery rows are written and sent in batches of
# this many (one task per batch).
NOTICES_BATCH_SIZE = env_int("MADOGUCHI_NOTICES_BATCH_SIZE", 500)
if not 1 <= NOTICES_BATCH_SIZE <= 10000:
    raise ImproperlyConfigured(f"MADOGUCHI_NOTICES_BATCH_SIZE={NOTICES_BATCH_SIZE} is not between 1 and 10000")
# Deliveries per second per channel and municipality (0: no limit): a token bucket in Redis
# when MADOGUCHI_REDIS_URL is set, a per-second counter in Django's cache otherwise.
NOTICES_RATE_PUSH = env_int("MADOGUCHI_NOTICES_RATE_PUSH", 0)
NOTICES_RATE_EMAIL = env_int("MADOGUCHI_NOTICES_RATE_EMAIL", 0)
if NOTICES_RATE_PUSH < 0 or NOTICES_RATE_EMAIL < 0:
    raise ImproperlyConfigured("MADOGUCHI_NOTICES_RATE_PUSH/_EMAIL must be 0 (no limit) or more")
# A delivery claimed by a worker and neither sent nor failed after this many seconds was left
# by a killed worker: the sweep queues it again (at least once, never silently lost).
NOTICES_CLAIM_STALE_SECONDS = env_int("MADOGUCHI_NOTICES_CLAIM_STALE_SECONDS", 300)

# Audit checkpoints (issue 13; docs/operations.md): each chain's head, signed, written outside
# the database so a truncated trail is found even by someone who can rewrite the database.
AUDIT_CHECKPOINT_SINK = os.environ.get("MADOGUCHI_AUDIT_CHECKPOINT_SINK", "directory")
AUDIT_CHECKPOINT_DIR = Path(os.environ.get("MADOGUCHI_AUDIT_CHECKPOINT_DIR") or DATA_DIR / "audit-checkpoints").resolve()
# The worker writes them every this many seconds (for each chain whose head moved).
AUDIT_CHECKPOINT_SECONDS = env_int("MADOGUCHI_AUDIT_CHECKPOINT_SECONDS", 600)
# The signing key's RFC 7638 thumbprint as printed by `madoguchi audit checkpoint-key`: when
# set, a key in the data directory that is not this one is refused (a replaced key).
AUDIT_CHECKPOINT_KEY_THUMBPRINT = os.environ.get("MADOGUCHI_AUDIT_CHECKPOINT_KEY_THUMBPRINT", "").strip()
# RFC 3161 time-stamps on checkpoints: the TSA's URL (none: not time-stamped), a PEM file of
# the roots its tokens are checked against (none: the system's), and the request timeout.
AUDIT_TSA_URL = os.environ.get("MADOGUCHI_AUDIT_TSA_URL", "").strip()
AUDIT_TSA_ROOTS = os.environ.get("MADOGUCHI_AUDIT_TSA_ROOTS", "").strip()
AUDIT_TSA_TIMEOUT = env_int("MADOGUCHI_AUDIT_TSA_TIMEOUT", 10)

# Payments (docs/payments.md): the provider of online payments, by its registry name
# (payments/providers/); PAYMENT_PROVIDERS maps a municipality code to another one. The
# default `demo` is refused in production, so production names a real provider.
PAYMENT_PROVIDER = os.environ.get("MADOGUCHI_PAYMENT_PROVIDER", "demo")
PAYMENT_PROVIDERS: dict[str, str] = {}
# The stripe provider (payments/providers/stripe.py): the account's secret key and webhook
# signing secret; STRIPE_API_BASE only to reach the API through another address.
STRIPE_API_KEY = os.environ.get("MADOGUCHI_STRIPE_API_KEY", "")
STRIPE_WEBHOOK_SECRET = os.environ.get("MADOGUCHI_STRIPE_WEBHOOK_SECRET", "")
STRIPE_API_BASE = os.environ.get("MADOGUCHI_STRIPE_API_BASE", "")
STRIPE_TIMEOUT_SECONDS = 10
# Where Stripe's hosted Checkout page is (the 「お支払い」 page's CSP form-action allows it).
STRIPE_CHECKOUT_ORIGIN = os.environ.get("MADOGUCHI_STRIPE_CHECKOUT_ORIGIN", "https://checkout.stripe.com")
# Stripe accounts per municipality: code → {"api_key": …, "webhook_secret": …} (each
# municipality its own account; the webhook URL is per municipality already). A code not
# named uses STRIPE_API_KEY / STRIPE_WEBHOOK_SECRET. From MADOGUCHI_STRIPE_ACCOUNTS_FILE: a
# JSON file (kept like the other secrets, outside the repository, mode 0600).
STRIPE_ACCOUNTS: dict[str, dict[str, str]] = {}
if os.environ.get("MADOGUCHI_STRIPE_ACCOUNTS_FILE"):
    import json as _json

    with open(os.environ["MADOGUCHI_STRIPE_ACCOUNTS_FILE"], encoding="utf-8") as _fh:
        STRIPE_ACCOUNTS = _json.load(_fh)
# A checkout pending longer than this is asked about and expired at the provider by the
# worker's sweep (payments.services.sweep), so an abandoned one leaves the application payable.
PAYMENT_PENDING_EXPIRY_MINUTES = env_int("MADOGUCHI_PAYMENT_PENDING_EXPIRY_MINUTES", 60)
