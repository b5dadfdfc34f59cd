"""Settings come from environment variables so one code base runs a laptop demo (SQLite, no
configuration) and a city deployment (PostgreSQL, several processes) unchanged.

WUZHI_HOME            where the SQLite file, generated secrets and uploads live (default ./var)
WUZHI_DATABASE_URL    sqlite:///path or postgres://user@host:5432/db (default: SQLite in WUZHI_HOME)
WUZHI_SECRET_KEY      Django secret key (generated into WUZHI_HOME/secrets.json when absent)
WUZHI_FIELD_KEYS      encryption keys for ID and phone numbers, "kid:base64key,kid2:base64key";
                      the first one encrypts, all of them decrypt (key rotation)
WUZHI_INDEX_KEY       HMAC key for the blind indexes (exact lookup of encrypted values)
WUZHI_DEBUG           1 for development
WUZHI_ALLOWED_HOSTS   comma separated
WUZHI_CACHE_URL       redis://127.0.0.1:6379/0 for several processes; default a file cache
WUZHI_PAGE_CACHE_SECONDS     how long a rendered page may be reused while its area is unchanged (300; 0: off)
WUZHI_HTTPS           1 behind TLS: HTTPS redirect, HSTS, secure cookies (see "Security" below)
WUZHI_BEHIND_PROXY    1 behind one reverse proxy that sets X-Forwarded-For (and X-Forwarded-Proto)
WUZHI_SESSION_IDLE_MINUTES   log out after this long without a request (default 120)
WUZHI_TOTP_REQUIRED_ROLES    roles that must use the two-step login, e.g. "admin,secretary,county_cadre"
WUZHI_PUBLIC_URL      the address printed on QR codes (default http://127.0.0.1:8000)
WUZHI_SERVICE_HOTLINE the community service hotline printed on unit boards
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent
HOME = Path(os.environ.get("WUZHI_HOME", Path.cwd() / "var")).resolve()
HOME.mkdir(parents=True, exist_ok=True)


def _generated_secrets() -> dict[str, str]:
    """Secrets for a deployment that did not configure any: made once, kept in WUZHI_HOME with
    owner-only permissions so a restart decrypts what the last run encrypted."""
    path = HOME / "secrets.json"
    if path.exists():
        return json.loads(path.read_text())
    data = {
        "secret_key": secrets.token_urlsafe(50),
        "field_keys": "k1:" + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "index_key": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
    }
    path.touch(mode=0o600)
    path.write_text(json.dumps(data))
    return data


def _env(name: str, generated_key: str | None = None, default: str = "") -> str:
    value = os.environ.get(name)
    if value:
        return value
    if generated_key:
        return _generated_secrets()[generated_key]
    return default


DEBUG = _env("WUZHI_DEBUG") == "1"
SECRET_KEY = _env("WUZHI_SECRET_KEY", "secret_key")
FIELD_KEYS = _env("WUZHI_FIELD_KEYS", "field_keys")
INDEX_KEY = _env("WUZHI_INDEX_KEY", "index_key")
# Personal data of people who moved out or died is anonymised this long after their last change.
WUZHI_RETENTION_DAYS = int(_env("WUZHI_RETENTION_DAYS", default=str(3 * 365)))
PUBLIC_URL = _env("WUZHI_PUBLIC_URL", default="http://127.0.0.1:8000").rstrip("/")
SERVICE_HOTLINE = _env("WUZHI_SERVICE_HOTLINE", default="0870-7622345")
# SMS (wuzhi.core.sms): no sender means outbox rows stay pending; e.g. wuzhi.core.sms_aliyun.AliyunSmsSender
WUZHI_SMS_SENDER = _env("WUZHI_SMS_SENDER")
WUZHI_SMS_ALIYUN_ENDPOINT = _env("WUZHI_SMS_ALIYUN_ENDPOINT", default="https://dysmsapi.aliyuncs.com/")
WUZHI_SMS_ALIYUN_ACCESS_KEY_ID = _env("WUZHI_SMS_ALIYUN_ACCESS_KEY_ID")
WUZHI_SMS_ALIYUN_ACCESS_KEY_SECRET = _env("WUZHI_SMS_ALIYUN_ACCESS_KEY_SECRET")
WUZHI_SMS_ALIYUN_SIGN_NAME = _env("WUZHI_SMS_ALIYUN_SIGN_NAME")
WUZHI_SMS_ALIYUN_TEMPLATE = _env("WUZHI_SMS_ALIYUN_TEMPLATE")
WUZHI_SMS_ALIYUN_TEMPLATES = _env("WUZHI_SMS_ALIYUN_TEMPLATES")  # "SMS_ALARM=SMS_153055065,..."
WUZHI_SMS_ALIYUN_REGION = _env("WUZHI_SMS_ALIYUN_REGION", default="cn-hangzhou")
WUZHI_SMS_ALIYUN_TIMEOUT = float(_env("WUZHI_SMS_ALIYUN_TIMEOUT", default="5"))
ALLOWED_HOSTS = [h for h in _env("WUZHI_ALLOWED_HOSTS", default="127.0.0.1,localhost,testserver").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in _env("WUZHI_CSRF_TRUSTED_ORIGINS").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "wuzhi.core",
    "wuzhi.registry",
    "wuzhi.party",
    "wuzhi.activities",
    "wuzhi.cases",
    "wuzhi.deliberation",
    "wuzhi.honours",
    "wuzhi.employment",
    "wuzhi.reports",
    "wuzhi.portal",
    "wuzhi.alarms",
    "wuzhi.cameras",
    "wuzhi.scale",
    "wuzhi.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "wuzhi.core.auth.SessionSecurityMiddleware",
]

ROOT_URLCONF = "wuzhi.urls"
WSGI_APPLICATION = "wuzhi.wsgi.application"
ASGI_APPLICATION = "wuzhi.asgi.application"

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
                "wuzhi.core.context_processors.wuzhi",
            ],
        },
    }
]

DATABASES = {
    "default": dj_database_url.parse(
        _env("WUZHI_DATABASE_URL", default=f"sqlite:///{HOME / 'wuzhi.sqlite3'}"),
        conn_max_age=60,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the dashboard read while an import writes; the busy timeout waits for the
    # single writer instead of failing at once with "database is locked".
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }

_cache_url = _env("WUZHI_CACHE_URL")
if _cache_url.startswith("redis://"):
    CACHES = {"default": {"BACKEND": "wuzhi.core.cache.RedisCache", "LOCATION": _cache_url}}
else:
    # A file cache is shared by every process on one machine, which is what import progress needs.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(HOME / "cache"),
        }
    }

# How long a rendered page may be reused while nothing in its area changes (core.pagecache); 0: off.
WUZHI_PAGE_CACHE_SECONDS = int(_env("WUZHI_PAGE_CACHE_SECONDS", default="300"))

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    # 10 characters for staff, 8 for resident-only accounts (wuzhi.core.auth)
    {"NAME": "wuzhi.core.auth.StaffMinimumLengthValidator", "OPTIONS": {"min_length": 10, "resident_min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
SESSION_COOKIE_AGE = 60 * 60 * 10  # one working day
# Django's database sessions and model backend, each read with one hand-written statement.
SESSION_ENGINE = "wuzhi.core.sessions"
AUTHENTICATION_BACKENDS = ["wuzhi.core.sessions.UserBackend"]
SESSION_COOKIE_HTTPONLY = True

# ---- Security (wuzhi.core.auth; a production deployment passes `wuzhi check --deploy`) ----
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
WUZHI_SESSION_IDLE_MINUTES = int(_env("WUZHI_SESSION_IDLE_MINUTES", default="120"))
WUZHI_TOTP_REQUIRED_ROLES = [r.strip() for r in _env("WUZHI_TOTP_REQUIRED_ROLES").split(",") if r.strip()]
# Failed logins, counted in the cache: 5 per username or 20 per address within 15 minutes lock for 15.
WUZHI_LOGIN_MAX_FAILURES = 5
WUZHI_LOGIN_MAX_FAILURES_PER_IP = 20
WUZHI_LOGIN_WINDOW_MINUTES = 15
WUZHI_LOGIN_LOCK_MINUTES = 15
# Report-only: pages still carry inline scripts; browsers report what an enforced policy would block.
WUZHI_CSP_REPORT_ONLY = _env("WUZHI_CSP_REPORT_ONLY", default=(
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"))
# Behind one reverse proxy, the client's address is the last X-Forwarded-For entry (the one the
# proxy appended); wuzhi.core.auth puts it into REMOTE_ADDR for the login throttle and the access log.
BEHIND_PROXY = _env("WUZHI_BEHIND_PROXY") == "1"
HTTPS = _env("WUZHI_HTTPS") == "1"
if HTTPS:
    SECURE_SSL_REDIRECT = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(_env("WUZHI_HSTS_SECONDS", default=str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    # Preloading is a decision for the domain's owner (anyone may submit a domain whose header
    # says "preload", and leaving the list takes months): opt in with WUZHI_HSTS_PRELOAD=1.
    SECURE_HSTS_PRELOAD = _env("WUZHI_HSTS_PRELOAD") == "1"
    if not SECURE_HSTS_PRELOAD:
        SILENCED_SYSTEM_CHECKS = ["security.W021"]
    if BEHIND_PROXY:
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = HOME / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise warns on every request when it is missing
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = HOME / "media"
MEDIA_URL = "/media/"
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 50 * 1024 * 1024
WHITENOISE_USE_FINDERS = True  # serve vendored assets without a collectstatic step in the demo

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "wuzhi.core.pagination.KeysetPagination",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "五治 wuzhi API",
    "DESCRIPTION": "社区治理平台接口:区域、户、人员、走访。所有结果按用户的网格范围过滤。",
    "VERSION": "0.1.0",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_INCLUDE_SCHEMA": False,
}

SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("WUZHI_LOG_LEVEL", "WARNING")},
}
