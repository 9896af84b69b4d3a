"""Doorman settings.

Every environment variable is read once, here, with one development-safe default. The
variables are documented in README.md and `.env.example`.

DOORMAN_ENV selects the safety level: `production` (the default: DEBUG off, a real secret key
is required), `development` (the embedded portal started by `bin/start`) or `test` (pytest).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.retry import Retry

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_rate(name: str, default: str) -> str:
    """A rate limit "N/s", "N/m", "N/h", "N/d" (or "N/5m"); empty turns that limit off."""
    value = os.environ.get(name, default).strip()
    if value and not re.fullmatch(r"\d+/\d*[smhd]", value):
        raise ImproperlyConfigured(f"{name} must look like 30/m (N/s, N/m, N/h, N/d or N/5m).")
    return value


# ---------------------------------------------------------------------------------------------
# Environment and secrets
# ---------------------------------------------------------------------------------------------
DOORMAN_ENV = os.environ.get("DOORMAN_ENV", "production").strip().lower()
if DOORMAN_ENV not in {"production", "development", "test"}:
    raise ImproperlyConfigured("DOORMAN_ENV must be production, development or test.")
IS_PRODUCTION = DOORMAN_ENV == "production"

DEBUG = env_bool("DOORMAN_DEBUG", default=False)

SECRET_KEY = os.environ.get("DOORMAN_SECRET_KEY", "")
if not SECRET_KEY:
    if IS_PRODUCTION:
        raise ImproperlyConfigured(
            "DOORMAN_SECRET_KEY is required when DOORMAN_ENV=production "
            "(set DOORMAN_ENV=development for a local portal)."
        )
    SECRET_KEY = "doorman-insecure-development-key-never-use-in-production"

DOORMAN_BASE_URL = os.environ.get("DOORMAN_BASE_URL", "http://127.0.0.1:8000").rstrip("/")

ALLOWED_HOSTS = [
    host.strip() for host in os.environ.get("DOORMAN_ALLOWED_HOSTS", "").split(",") if host.strip()
]
if not ALLOWED_HOSTS:
    ALLOWED_HOSTS = [urlsplit(DOORMAN_BASE_URL).hostname or "localhost"]
    if not IS_PRODUCTION:
        ALLOWED_HOSTS += ["localhost", "127.0.0.1", "[::1]", "testserver"]

CSRF_TRUSTED_ORIGINS = [DOORMAN_BASE_URL]

# ---------------------------------------------------------------------------------------------
# Applications and middleware
# ---------------------------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from static/, never from a CDN
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "allauth.socialaccount.providers.saml",
    "core",
    "accounts",
    "connected_apps",
    "oauth",
    "audit",
    "developer",
    "oauth2_provider",
]

MIDDLEWARE = [
    # First: times and counts every request Django answers (core/metrics.py).
    "core.metrics.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Token endpoints and bearer API calls skip the session/CSRF/portal stack below.
    "core.middleware.MachineRequestMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # Django's, with the user read with the session row (accounts/sessions.py).
    "accounts.sessions.SessionUserMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "oauth.ratelimit.LoginPageRateLimitMiddleware",
    # A session owing a second factor reaches nothing but the pages that take it.
    "accounts.factors.SecondFactorRequiredMiddleware",
]

if IS_PRODUCTION:
    # Production serves collected static files itself; runserver and live_server do it elsewhere.
    MIDDLEWARE.insert(3, "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "accounts.context_processors.navigation",
            ],
        },
    },
]

# ---------------------------------------------------------------------------------------------
# Database: SQLite by default, PostgreSQL (psycopg 3) when DATABASE_URL is set
# ---------------------------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL", "")
# A database that stalls or goes away must not hold a request: connecting, each statement and
# each wait for a lock are bounded; a request that meets the limit (or a lost connection)
# answers 503 with Retry-After (core/api_errors.py), and the next request connects anew.
DOORMAN_DB_CONNECT_TIMEOUT = max(int(os.environ.get("DOORMAN_DB_CONNECT_TIMEOUT", "3")), 2)
DOORMAN_DB_STATEMENT_TIMEOUT = int(os.environ.get("DOORMAN_DB_STATEMENT_TIMEOUT", "10000"))
# After a failed connect, this process does not try again for this long (core/postgresql).
DOORMAN_DB_RETRY_SECONDS = float(os.environ.get("DOORMAN_DB_RETRY_SECONDS", "1"))
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["default"]["ENGINE"] = "core.postgresql"
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "connect_timeout": DOORMAN_DB_CONNECT_TIMEOUT,
            # Milliseconds; 0 is PostgreSQL's "no limit". A lock waits at most as long.
            "options": f"-c statement_timeout={DOORMAN_DB_STATEMENT_TIMEOUT}"
            f" -c lock_timeout={DOORMAN_DB_STATEMENT_TIMEOUT}"
            f" -c idle_in_transaction_session_timeout={max(DOORMAN_DB_STATEMENT_TIMEOUT, 60000)}",
            # A server cut off mid-connection (a partition, a failover, a dead host) cancels
            # nothing and sends no reset: the kernel gives the connection up when what was
            # sent is not acknowledged (tcp_user_timeout, ms) or keepalives go unanswered
            # while a reply is awaited, in seconds, not the ~15 minutes of its defaults.
            "keepalives": 1,
            "keepalives_idle": DOORMAN_DB_CONNECT_TIMEOUT,
            "keepalives_interval": 1,
            "keepalives_count": 3,
            "tcp_user_timeout": DOORMAN_DB_CONNECT_TIMEOUT * 1000,
        }
    )
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get(
                "DOORMAN_SQLITE_PATH", str(BASE_DIR / "var" / "doorman.sqlite3")
            ),
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# ---------------------------------------------------------------------------------------------
# Cache and Celery: in-process by default, Redis when REDIS_URL is set
# ---------------------------------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
# Seconds a Redis connect or reply may take before the request goes on without Redis, and
# seconds the token paths then leave Redis alone (a circuit breaker: one timeout per interval).
DOORMAN_REDIS_TIMEOUT = float(os.environ.get("DOORMAN_REDIS_TIMEOUT", "0.5"))
DOORMAN_REDIS_RETRY_SECONDS = float(os.environ.get("DOORMAN_REDIS_RETRY_SECONDS", "2"))
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "core.cache.SharedClientRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("DOORMAN_CACHE_PREFIX", "doorman"),
            # A stalled Redis must not hold a request: every connect and reply is bounded.
            # A connection Redis closed (it restarted) is made again once; a timeout is not
            # retried (a frozen Redis would hold the request twice as long).
            "OPTIONS": {
                "socket_timeout": DOORMAN_REDIS_TIMEOUT,
                "socket_connect_timeout": DOORMAN_REDIS_TIMEOUT,
                "retry": Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
            },
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_TASK_ALWAYS_EAGER = False
    # A request that sends a task (an audit export) waits for a frozen broker a few seconds
    # at most (the worker's BRPOP waits 1 s, so replies may take longer than the cache's).
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "socket_connect_timeout": DOORMAN_REDIS_TIMEOUT,
        "socket_timeout": max(DOORMAN_REDIS_TIMEOUT, 2.0),
    }
    CELERY_TASK_PUBLISH_RETRY_POLICY = {
        "max_retries": 1,
        "interval_start": 0,
        "interval_step": 0.2,
        "interval_max": 0.2,
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CELERY_BROKER_URL = "memory://"
    CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True

# Bearer-token resolutions and token-endpoint clients remembered per worker
# (oauth.principal_cache), trusted while the database's generation row (advanced by triggers on
# every change they depend on) and, for a token, its own row say nothing changed: one statement,
# no Redis, so nothing about the cache needs to be shared between processes.
DOORMAN_TOKEN_CACHE = env_bool("DOORMAN_TOKEN_CACHE", default=True)
DOORMAN_TOKEN_CACHE_SECONDS = int(os.environ.get("DOORMAN_TOKEN_CACHE_SECONDS", "60"))
# client_credentials token requests answered ahead of Django's request cycle (oauth/wsgi.py).
DOORMAN_TOKEN_FAST_PATH = env_bool("DOORMAN_TOKEN_FAST_PATH", default=True)
# Test runs sharing one Redis (two suites at once on a machine) keep their tasks apart: each
# run's queue is named after its cache prefix, so no worker takes another run's tasks.
if DOORMAN_ENV == "test":
    CELERY_TASK_DEFAULT_QUEUE = f"celery-{os.environ.get('DOORMAN_CACHE_PREFIX', 'doorman')}"
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# Audit events older than this many days are purged by the daily beat task; 0 keeps them forever.
DOORMAN_AUDIT_RETENTION_DAYS = max(int(os.environ.get("DOORMAN_AUDIT_RETENTION_DAYS", "365")), 0)

# ---------------------------------------------------------------------------------------------
# Metrics: Prometheus exposition at /metrics (core/metrics.py)
# ---------------------------------------------------------------------------------------------
# The bearer token a scraper sends (Authorization: Bearer …); unset, /metrics answers 404.
DOORMAN_METRICS_TOKEN = os.environ.get("DOORMAN_METRICS_TOKEN", "").strip()
if DOORMAN_METRICS_TOKEN and len(DOORMAN_METRICS_TOKEN) < 16:
    raise ImproperlyConfigured("DOORMAN_METRICS_TOKEN must be at least 16 characters long.")
# Worker processes keep their counts in files here, added up at each scrape (prometheus_client's
# multiprocess mode, which reads the variable itself when first imported; bin/serve sets it and
# empties the directory at start). Unset: this process's own counts (tests, bin/start).
PROMETHEUS_MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if PROMETHEUS_MULTIPROC_DIR is not None and not os.path.isdir(PROMETHEUS_MULTIPROC_DIR):
    raise ImproperlyConfigured("PROMETHEUS_MULTIPROC_DIR must name an existing directory.")

# ---------------------------------------------------------------------------------------------
# Authentication: custom user, django-allauth pages under /auth/
# ---------------------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    # Not a rule: after every password change it ends the user's portal sessions and revokes
    # their platform tokens (SPEC §4), whatever path changed it.
    {"NAME": "accounts.sessions.PasswordChangeEndsSignIns"},
]
PASSWORD_HASHERS = [
    # User passwords: Django's slow default (MD5 in tests only, where users are made by the
    # hundred). Client secrets: a keyed SHA-256, named by OAUTH2_PROVIDER["CLIENT_SECRET_HASHER"]
    # below; they are random 256-bit values, so a slow hash would only slow the token endpoint.
    "django.contrib.auth.hashers.MD5PasswordHasher"
    if DOORMAN_ENV == "test"
    else "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "oauth.hashers.ClientSecretHasher",
]

# Portal sessions are stored under a digest of their key: a database copy signs nobody in.
SESSION_ENGINE = "accounts.sessions"

LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "portal:home"
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"
ACCOUNT_LOGIN_METHODS = {"username"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "email*", "password1*", "password2*"]
# Mail (password resets, email confirmation; core/mail.py): an SMTP server when one is named;
# else the console while developing, and in production nothing at all (a reset link must not
# land in a log), each send then answering 503.
SMTP_HOST = os.environ.get("DOORMAN_SMTP_HOST", "").strip()
if SMTP_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = SMTP_HOST
    EMAIL_PORT = int(os.environ.get("DOORMAN_SMTP_PORT", "587"))
    EMAIL_HOST_USER = os.environ.get("DOORMAN_SMTP_USER", "")
    EMAIL_HOST_PASSWORD = os.environ.get("DOORMAN_SMTP_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("DOORMAN_SMTP_STARTTLS", default=EMAIL_PORT == 587)
    EMAIL_USE_SSL = env_bool("DOORMAN_SMTP_SSL", default=EMAIL_PORT == 465)
elif IS_PRODUCTION:
    EMAIL_BACKEND = "core.mail.UnconfiguredEmailBackend"
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = os.environ.get(
    "DOORMAN_EMAIL_FROM", f"Doorman <no-reply@{urlsplit(DOORMAN_BASE_URL).hostname}>"
)
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
ACCOUNT_FORMS = {
    "login": "accounts.forms.LoginForm",
    "signup": "accounts.forms.SignupForm",
    "reset_password": "accounts.forms.ResetPasswordForm",
    "set_password": "accounts.forms.SetPasswordForm",
}
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_SESSION_REMEMBER = None
# Second factors (SPEC §11, django-allauth's mfa): TOTP with recovery codes, WebAuthn
# security keys and passkeys (passwordless sign-in), set up from the account pages.
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes", "webauthn"]
MFA_PASSKEY_LOGIN_ENABLED = True
MFA_TOTP_ISSUER = "Doorman"
MFA_TOTP_TOLERANCE = 1  # a code of the step before or after too (phones' clocks drift)
# A second factor is never held back for an unverified email address (allauth's default is
# to refuse one, and to refuse a new address to a user who has one). That default guards sites
# where the address is the account; here people sign in by username, addresses are not
# verified at sign-up (ACCOUNT_EMAIL_VERIFICATION above) and may not be mailable at all, so it
# would leave everyone who signed up, changed their address or must enrol by their org's
# policy (accounts.factors) with no way to set one up, and every user with one unable to
# change their address.
MFA_ALLOW_UNVERIFIED_EMAIL = True
# Company SSO (SPEC §11, django-allauth's socialaccount): an org's OpenID Connect and SAML
# identity providers are its IdentityProvider rows (accounts/sso.py gives allauth their apps);
# their users are created just in time in that org and linked to the provider, never matched to
# an existing account by email. Upstream tokens are not kept.
SOCIALACCOUNT_ADAPTER = "accounts.sso.SocialAccountAdapter"
SOCIALACCOUNT_STORE_TOKENS = False
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = False
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_EMAIL_VERIFICATION = "none"
SOCIALACCOUNT_LOGIN_ON_GET = False
SOCIALACCOUNT_REQUESTS_TIMEOUT = 5
# Resolvers asked for the DNS proofs of SSO email domains (accounts/sso_domains.py):
# "host[:port]" comma-separated; empty: the system's.
DOORMAN_DNS_NAMESERVERS = os.environ.get("DOORMAN_DNS_NAMESERVERS", "")
# The URLs an org administrator configures are fetched by Doorman: outside development and
# tests they must be https and resolve to public addresses (accounts/sso_config.py).
DOORMAN_SSO_ALLOW_PRIVATE_NETWORKS = os.environ.get(
    "DOORMAN_SSO_ALLOW_PRIVATE_NETWORKS", "true" if DOORMAN_ENV != "production" else "false"
).lower() in ("1", "true", "yes")

# ---------------------------------------------------------------------------------------------
# Authorization server (django-oauth-toolkit, customized at its documented seams)
# ---------------------------------------------------------------------------------------------
OAUTH2_PROVIDER_APPLICATION_MODEL = "connected_apps.ConnectedApp"
OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL = "oauth.AccessToken"
OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL = "oauth.RefreshToken"
OAUTH2_PROVIDER_ID_TOKEN_MODEL = "oauth.IDToken"
OAUTH2_PROVIDER_GRANT_MODEL = "oauth.Grant"

DOORMAN_ISSUER = f"{DOORMAN_BASE_URL}/accounts/api/v2/oauth2"
# SPEC §5: 60 minutes by default, configurable, never above 90 minutes.
DOORMAN_ACCESS_TOKEN_LIFETIME = min(
    max(int(os.environ.get("DOORMAN_ACCESS_TOKEN_LIFETIME", "3600")), 60), 5400
)
DOORMAN_REFRESH_TOKEN_LIFETIME = 90 * 24 * 3600
DOORMAN_AUTHORIZATION_CODE_LIFETIME = 600
# Password sign-ins (password grant, POST /accounts/login): wrong passwords counted per
# (username, client IP) and per client IP within a window; reaching a limit locks that pair or
# that IP out (RFC 6749 §4.3.2), never the username from everywhere (SPEC §10; oauth/throttle.py).
DOORMAN_LOGIN_MAX_FAILURES = int(os.environ.get("DOORMAN_LOGIN_MAX_FAILURES", "5"))
DOORMAN_LOGIN_MAX_FAILURES_PER_IP = int(os.environ.get("DOORMAN_LOGIN_MAX_FAILURES_PER_IP", "50"))
DOORMAN_LOGIN_FAILURE_WINDOW = int(os.environ.get("DOORMAN_LOGIN_FAILURE_WINDOW", "900"))
DOORMAN_LOGIN_LOCKOUT = int(os.environ.get("DOORMAN_LOGIN_LOCKOUT", "300"))
# Request-rate limits (oauth/ratelimit.py): fixed windows in the cache, "N/s|m|h|d", 429 with
# Retry-After. The client IP (core/client_ip.py, also lockouts' and the audit trail's) is
# REMOTE_ADDR, which a trusted reverse proxy must set to the client's address; or
# DOORMAN_TRUSTED_PROXY_COUNT=N takes the Nth X-Forwarded-For entry from the right. The
# per-client budget is spent only by requests that authenticated as the client; the password
# limits only by wrong passwords.
# DOORMAN_RATELIMIT_ENABLED=false switches them all off (allauth's own login limits too).
# An empty rate turns that one limit off.
DOORMAN_RATELIMIT_ENABLED = env_bool("DOORMAN_RATELIMIT_ENABLED", default=True)
DOORMAN_RATELIMIT_TOKEN_PER_CLIENT = env_rate("DOORMAN_RATELIMIT_TOKEN_PER_CLIENT", "600/m")
DOORMAN_RATELIMIT_TOKEN_PER_IP = env_rate("DOORMAN_RATELIMIT_TOKEN_PER_IP", "1200/m")
DOORMAN_RATELIMIT_PASSWORD_PER_IP = env_rate("DOORMAN_RATELIMIT_PASSWORD_PER_IP", "30/m")
DOORMAN_RATELIMIT_LOGIN_PAGE_PER_IP = env_rate("DOORMAN_RATELIMIT_LOGIN_PAGE_PER_IP", "30/m")
DOORMAN_TRUSTED_PROXY_COUNT = max(int(os.environ.get("DOORMAN_TRUSTED_PROXY_COUNT", "0")), 0)
# The login page's per-IP limit is ours (DOORMAN_RATELIMIT_LOGIN_PAGE_PER_IP, with a
# Retry-After); allauth keeps its failed-login, signup and reset limits.
ACCOUNT_RATE_LIMITS = {"login": None} if DOORMAN_RATELIMIT_ENABLED else False

OAUTH2_PROVIDER = {
    "OAUTH2_VALIDATOR_CLASS": "oauth.validators.DoormanValidator",
    "OAUTH2_SERVER_CLASS": "oauth.server.DoormanServer",
    "OIDC_SERVER_CLASS": "oauth.server.DoormanServer",
    "OAUTH2_BACKEND_CLASS": "oauth.backends.DoormanOAuthLibCore",
    "SCOPES_BACKEND_CLASS": "oauth.scopes.ConnectedAppScopes",
    "SCOPES": {"openid": "OpenID Connect"},  # unused: ConnectedAppScopes reads accounts.catalog
    "DEFAULT_SCOPES": [],
    "CLIENT_ID_GENERATOR_CLASS": "connected_apps.generators.ClientIdGenerator",
    "CLIENT_SECRET_GENERATOR_CLASS": "connected_apps.generators.ClientSecretGenerator",
    "CLIENT_SECRET_HASHER": "doorman_hmac_sha256",
    "ACCESS_TOKEN_GENERATOR": "oauth.tokens.generate_token",
    "REFRESH_TOKEN_GENERATOR": "oauth.tokens.generate_token",
    "ACCESS_TOKEN_EXPIRE_SECONDS": DOORMAN_ACCESS_TOKEN_LIFETIME,
    "ID_TOKEN_EXPIRE_SECONDS": DOORMAN_ACCESS_TOKEN_LIFETIME,
    "REFRESH_TOKEN_EXPIRE_SECONDS": DOORMAN_REFRESH_TOKEN_LIFETIME,
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": DOORMAN_AUTHORIZATION_CODE_LIFETIME,
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 0,
    "PKCE_REQUIRED": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "COMPLIANT_BCP_RFC9700_PKCE_REQUIRED": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_MATCHING": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,  # RFC 9207 `iss` in code redirects
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https", "http"],
    "ALLOW_URI_WILDCARDS": False,
    "REQUEST_APPROVAL_PROMPT": "force",
    "OIDC_ENABLED": True,
    "OIDC_ISS_ENDPOINT": DOORMAN_ISSUER,
    "OIDC_RESPONSE_TYPES_SUPPORTED": ["code"],
    "OIDC_TOKEN_ENDPOINT_AUTH_METHODS_SUPPORTED": [
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
    ],
    "OIDC_JWKS_MAX_AGE_SECONDS": 300,
    "OIDC_RP_INITIATED_LOGOUT_ENABLED": False,
    "ALWAYS_RELOAD_OAUTHLIB_CORE": DOORMAN_ENV == "test",
}
SILENCED_SYSTEM_CHECKS = [
    "oauth2_provider.W002",  # the password grant is part of the product (SPEC §5)
    "oauth2_provider.W008",  # http redirect URIs are allowed for localhost only (SPEC §2)
]

# ---------------------------------------------------------------------------------------------
# HTTP hardening
# ---------------------------------------------------------------------------------------------
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024  # config/asgi.py refuses larger bodies unread
DATA_UPLOAD_MAX_NUMBER_FIELDS = 2000
# config/asgi.py (bin/serve): a request body must arrive within this many seconds of its head
# (else 408), and a streamed response's client must take each piece within it; the WSGI
# application runs in this many threads per process (gunicorn.conf.py reads the variable on
# its own, with 1 for a default: sync workers).
DOORMAN_BODY_TIMEOUT = float(os.environ.get("DOORMAN_BODY_TIMEOUT", "10"))
DOORMAN_THREADS = max(int(os.environ.get("DOORMAN_THREADS", "2")), 1)
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
CSRF_FAILURE_VIEW = "core.api_errors.json_csrf_failure"  # JSON on API paths
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
if DOORMAN_BASE_URL.startswith("https://"):
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# ---------------------------------------------------------------------------------------------
# REST framework
# ---------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Bearer first: DRF takes the 401 challenge from the first class (RFC 6750 §3).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "oauth.authentication.BearerTokenAuthentication",
        "accounts.authentication.PortalSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["core.api_support.JSONParser"],
    # DRF's, with its answer for the usual Accept headers remembered.
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "core.api_support.ContentNegotiation",
    "EXCEPTION_HANDLER": "oauth.api_errors.api_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "DEFAULT_SCHEMA_CLASS": "core.schema.DoormanAutoSchema",
}

# OpenAPI 3 schema of the JSON APIs (drf-spectacular): core/schema/ adds the shared shapes,
# the security schemes and the authorization server's plain-Django endpoints.
SPECTACULAR_SETTINGS = {
    "TITLE": "Doorman API",
    "DESCRIPTION": "Access management and connected apps. Errors are "
    '`{"error", "message", "fields"}`; the OAuth endpoints answer RFC 6749 errors.',
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # A PATCH takes the same body as its PUT (`patch = put` in the views): renaming still needs
    # `name`. drf-spectacular's default would document every field of a PATCH as optional.
    "COMPONENT_SPLIT_PATCH": False,
    "ENUM_NAME_OVERRIDES": {
        "IdentityProviderTypeEnum": "accounts.models.IdentityProviderType",
        "EnvironmentTypeEnum": "accounts.models.EnvironmentType",
    },
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # validatorUrl null: Swagger UI would otherwise fetch a badge from a public validator.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "oauth.api_schema.add_authorization_server",
    ],
}

# ---------------------------------------------------------------------------------------------
# Internationalization, static files, logging
# ---------------------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if IS_PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("DOORMAN_LOG_LEVEL", "INFO")},
    # Django's own "django" logger also prints to the console when DEBUG is on; it goes to the
    # root's handler only, or `bin/start` shows every line twice.
    "loggers": {"django": {"handlers": [], "level": "INFO", "propagate": True}},
}
