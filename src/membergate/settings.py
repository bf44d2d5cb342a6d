"""Django settings for Membergate, read from the environment.

The README lists every variable; ``membergate.conf`` refuses bad values.
"""

from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from membergate import conf

DATA_DIR = Path(conf.env_str("MEMBERGATE_DATA_DIR", "data")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

SECRET_KEY = conf.env_secret("SECRET_KEY", DATA_DIR / "secret_key")
DEBUG = conf.env_bool("MEMBERGATE_DEBUG", False)

# The public address, used in emails and on the API settings page. `serve`
# fills it in from its --host and --port when the operator has not.
BASE_URL = conf.env_base_url("MEMBERGATE_BASE_URL") or "http://localhost:8000"
_base = urlsplit(BASE_URL)
BEHIND_HTTPS = _base.scheme == "https"

ALLOWED_HOSTS = conf.env_list("MEMBERGATE_ALLOWED_HOSTS", ["*"])
CSRF_TRUSTED_ORIGINS = [f"{_base.scheme}://{_base.netloc}"]
SITE_NAME = conf.env_str("MEMBERGATE_SITE_NAME", "Membergate")

INSTALLED_APPS = [
    "membergate.core",
    "membergate.members",
    "membergate.apikeys",
    "membergate.api",
    "membergate.mail",
    "membergate.accounts",
    "membergate.core.admin_config.MembergateAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_tasks_db",
    # The API docs' Swagger UI, served from here rather than from a CDN.
    "ninja",
]

# POST /bench/insert, the write ceiling `bench/run.py` measures against; never
# on in production, so its app and table exist only where it is.
BENCH_ENDPOINTS = conf.env_bool("MEMBERGATE_BENCH_ENDPOINTS", False)
if BENCH_ENDPOINTS:
    INSTALLED_APPS.append("membergate.benchmark")

MIDDLEWARE = [
    "membergate.core.middleware.RequestIdMiddleware",
    "membergate.core.proxies.ClientAddressMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "membergate.core.middleware.LateBodyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "membergate.urls"
WSGI_APPLICATION = "membergate.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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


def _database() -> dict[str, object]:
    url = conf.env_str("DATABASE_URL", "")
    if not url:
        return {
            # Django's own, with writers queued in-process (core/sqlite).
            "ENGINE": "membergate.core.sqlite",
            "NAME": str(DATA_DIR / "membergate.sqlite3"),
            # Kept open between requests: opening one and running the
            # PRAGMAs below cost more than a whole small request.
            "CONN_MAX_AGE": 600,
            "OPTIONS": {
                # BEGIN IMMEDIATE takes the write lock when a transaction
                # starts, so two writers queue on the busy timeout instead of
                # one failing with "database is locked" when it upgrades a
                # read lock mid-transaction.
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
                # synchronous=FULL: a commit is on disk before the answer
                # leaves, so a 2xx survives a power loss.
                "init_command": (
                    "PRAGMA journal_mode=WAL;"
                    "PRAGMA synchronous=FULL;"
                    "PRAGMA foreign_keys=ON;"
                    "PRAGMA cache_size=-32000;"
                ),
            },
        }
    if not url.startswith(("postgres://", "postgresql://")):
        raise ImproperlyConfigured(
            "DATABASE_URL must start with postgres:// or postgresql://"
        )
    db = dict(dj_database_url.parse(url, conn_max_age=600, conn_health_checks=True))
    db["ENGINE"] = "django.db.backends.postgresql"
    return db


DATABASES = {"default": _database()}


def _caches() -> dict[str, dict[str, object]]:
    """Cache shared by every server: Redis when REDIS_URL is set, else the database."""
    url = conf.env_str("REDIS_URL", "")
    if not url:
        return {
            "default": {
                "BACKEND": "django.core.cache.backends.db.DatabaseCache",
                "LOCATION": "membergate_cache",
            }
        }
    if not url.startswith(("redis://", "rediss://", "unix://")):
        # The URL may hold a password: name the variable, not the value.
        raise ImproperlyConfigured(
            "REDIS_URL must start with redis://, rediss:// or unix://"
        )
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": "membergate",
        }
    }


CACHES = _caches()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "members.Member"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"
    },
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default"],
    }
}

MAILERS = conf.mailers("EMAIL_URL", DATA_DIR)
DEFAULT_FROM_EMAIL = conf.env_str(
    "MEMBERGATE_FROM_EMAIL", f"{SITE_NAME} <noreply@{_base.hostname}>"
)
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Emails and the members' pages (README: "Emails", "Members' pages").
PASSWORD_LINK_DAYS = conf.env_int(
    "MEMBERGATE_PASSWORD_LINK_DAYS", 3, minimum=1, maximum=30
)
PASSWORD_RESET_TIMEOUT = PASSWORD_LINK_DAYS * 24 * 3600
MAIL_RETRY_BASE_SECONDS = conf.env_int(
    "MEMBERGATE_MAIL_RETRY_BASE_SECONDS", 60, minimum=1, maximum=3600
)
MAIL_RETRY_HOURS = conf.env_int(
    "MEMBERGATE_MAIL_RETRY_HOURS", 24, minimum=1, maximum=720
)
MAIL_STUCK_SECONDS = conf.env_int(
    "MEMBERGATE_MAIL_STUCK_SECONDS", 600, minimum=2, maximum=86400
)
SIGN_IN_MAX_FAILURES = conf.env_int(
    "MEMBERGATE_SIGN_IN_MAX_FAILURES", 5, minimum=1, maximum=1000
)
SIGN_IN_LOCK_MINUTES = conf.env_int(
    "MEMBERGATE_SIGN_IN_LOCK_MINUTES", 15, minimum=1, maximum=1440
)

LANGUAGE_CODE = "en-us"
TIME_ZONE = conf.env_time_zone("MEMBERGATE_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
# Static files are served straight from the installed apps, so a fresh
# install needs no collectstatic step.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

SESSION_COOKIE_SECURE = BEHIND_HTTPS
CSRF_COOKIE_SECURE = BEHIND_HTTPS
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if BEHIND_HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = conf.env_int(
        "MEMBERGATE_HSTS_SECONDS", 31536000, minimum=0, maximum=63072000
    )
    # HSTS is set on the service's own host name, so this reaches only names
    # below it, never the rest of the owner's domain.
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    # The front proxy normally redirects plain HTTP itself; this catches one
    # that does not. Probes reach the servers directly over HTTP.
    SECURE_SSL_REDIRECT = True
    SECURE_REDIRECT_EXEMPT = [r"^health$", r"^ready$", r"^metrics$"]
# Entering the browsers' HSTS preload list is a commitment for the whole
# domain that only its owner can make; Membergate does not ask for it.
SILENCED_SYSTEM_CHECKS = ["security.W021"]

# Every page, the admin's included, uses only its own scripts, styles and
# images, with no inline code; the API answers JSON that is never rendered.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

METRICS_TOKEN = conf.env_str("MEMBERGATE_METRICS_TOKEN", "")
TASK_RESULT_DAYS = conf.env_int(
    "MEMBERGATE_TASK_RESULT_DAYS", 3, minimum=1, maximum=3650
)

# The API accepts bodies up to 64 KiB; Django's own limit sits just above so
# the API can answer 413 itself.
DATA_UPLOAD_MAX_MEMORY_SIZE = 128 * 1024
# Seconds a client has to send its whole body once its headers are in
# (membergate.asgi); a client that stalls gets a 408.
BODY_TIMEOUT = conf.env_int("MEMBERGATE_BODY_TIMEOUT", 10, minimum=1, maximum=600)

# Incoming API: failed authentications a source address may make a minute,
# and how many days the request log keeps.
API_AUTH_FAILURE_LIMIT = conf.env_int(
    "MEMBERGATE_AUTH_FAILURE_LIMIT", 30, minimum=1, maximum=1_000_000
)
API_REQUEST_LOG_DAYS = conf.env_int(
    "MEMBERGATE_REQUEST_LOG_DAYS", 30, minimum=1, maximum=3650
)

# Reverse proxies whose X-Forwarded-For names the client (core/proxies.py).
TRUSTED_PROXIES = conf.env_networks("MEMBERGATE_TRUSTED_PROXIES")

LOG_FORMAT = conf.env_choice("LOG_FORMAT", "text", ("text", "json"))
LOG_LEVEL = conf.env_choice(
    "MEMBERGATE_LOG_LEVEL", "info", ("debug", "info", "warning", "error")
).upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "text": {
            "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
        },
        "json": {"()": "membergate.core.logs.JsonFormatter"},
    },
    "filters": {
        "request_id": {"()": "membergate.core.logs.RequestIdFilter"},
    },
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        },
    },
    "root": {"handlers": ["stderr"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # Each answer has its line from membergate.requests already; Django's
        # own logger adds the tracebacks of 5xx answers.
        "django.request": {"level": "ERROR"},
    },
}
