"""Settings for the tiered-funnel CRM.

Everything that differs between machines comes from environment variables (django-environ).
The defaults run on a laptop with nothing installed: SQLite and Celery's filesystem transport,
both under ``var/``. Production adds ``config.settings_production`` on top of this module.
"""

import os
import tempfile
from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONCE, NONE, SELF
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
VAR_DIR.mkdir(exist_ok=True)

env = environ.Env()

SECRET_KEY = env("SECRET_KEY", default="django-insecure-development-only-key-change-me")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_filters",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_htmx",
    "template_partials",
    "csp",
    "simple_history",
    "django_celery_beat",
    "axes",
    "crm",
    "customers",
    "funnel",
    "risk",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "crm.middleware.SessionLifetimeMiddleware",
    "crm.middleware.UserLanguageMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as django-axes asks: it turns a lockout raised by the backend into a response.
    "axes.middleware.AxesMiddleware",
]

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
                "django.template.context_processors.i18n",
                "crm.context_processors.crm",
                "config.context_processors.exceptions",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'crm.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and the Celery worker write to the same file: WAL lets readers run beside a
    # writer, IMMEDIATE takes the write lock at BEGIN so two writers queue instead of failing
    # with "database is locked" half-way through a transaction.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Tests use a file too (not shared-cache memory, whose table locks fail at once instead of
    # waiting), so concurrency tests see the same locking as the running product.
    # One file per test process, so parallel runs never share a test database.
    DATABASES["default"]["TEST"] = {"NAME": str(Path(tempfile.gettempdir()) / f"crm-test-{os.getpid()}.sqlite3")}
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Who the session is, in pg_stat_activity: "crm-web" for the web server (config/wsgi.py), so
    # that heavy background work can yield to people's requests (crm.sql.yield_to_people).
    DATABASES["default"].setdefault("OPTIONS", {})["application_name"] = env("DB_APPLICATION_NAME", default="crm")
    if not env.bool("DB_JIT", default=True):
        # The web server's sessions (config/wsgi.py) plan no JIT: a page reads a page of rows,
        # but a plan's cost counts every row it could read, so PostgreSQL compiled some to
        # machine code first, e.g. 66 ms of the 70 a team manager's overdue facilities took.
        DATABASES["default"]["OPTIONS"]["options"] = "-c jit=off"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://crm")}
if "redis" in CACHES["default"]["BACKEND"].lower():
    # Same rule as for the broker: a dead or silent Redis costs a call half a second, not a
    # hang. (No ordinary page calls the cache; see crm.context_processors.)
    CACHES["default"].setdefault("OPTIONS", {}).update({"socket_connect_timeout": 0.5, "socket_timeout": 0.5})

# --- Authentication and sessions ------------------------------------------------------------
AUTH_USER_MODEL = "crm.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Idle timeout: the session and its cookie live 30 minutes, renewed by use at most once a
# minute (crm.middleware.SessionLifetimeMiddleware), not saved on every request.
SESSION_COOKIE_AGE = 30 * 60
SESSION_RENEW_AFTER = timedelta(minutes=1)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# Absolute lifetime, enforced by crm.middleware.SessionLifetimeMiddleware.
SESSION_ABSOLUTE_AGE = timedelta(hours=12)

# Login throttling (django-axes): per username *and* address, so one attacker cannot lock a
# colleague out from another desk and one address cannot spray many usernames unnoticed.
# Behind a proxy this needs TRUSTED_PROXY_HOPS, or every desk has the proxy's address.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
# Number of reverse proxies of our own in front of gunicorn (TLS terminator, load balancer).
# The client address is then read from X-Forwarded-For that many entries from the right
# (crm.client_address); 0 = REMOTE_ADDR. Lockouts and their log use it.
TRUSTED_PROXY_HOPS = env.int("TRUSTED_PROXY_HOPS", default=0)
AXES_CLIENT_IP_CALLABLE = "crm.client_address.client_address"

# --- Internationalisation -------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
FORMAT_MODULE_PATH = ["config.formats"]
USE_I18N = True
USE_TZ = True  # stored in UTC
TIME_ZONE = env("TIME_ZONE", default="Asia/Shanghai")  # shown in Asia/Shanghai

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# --- Security headers -----------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# --- E-mail ---------------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="crm@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Where links in e-mails point.
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")

# --- Celery ---------------------------------------------------------------------------------
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="filesystem://")
BROKER_DIR = Path(env("CELERY_BROKER_DIR", default=str(VAR_DIR / "broker")))
for sub in ("queue", "processed", "control"):
    (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
# The longest any task may run (crm.jobs.runner.MAX_TIME_LIMIT is 10 minutes: longer work is
# split into batches). Redis hands a message nobody acknowledged to another worker after the
# visibility timeout, so it must be longer than that — else a slow task would run twice — but
# no longer than need be: a worker killed outright gets its message back after it. (The
# outbox's sweep sends a job whose worker died again sooner: when its one-minute lease ends.)
CELERY_TASK_TIME_LIMIT = 10 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 9 * 60
VISIBILITY_TIMEOUT = CELERY_TASK_TIME_LIMIT + 5 * 60
# Each transport reads only its own options, so one dict serves the filesystem and Redis alike.
# These are the *publisher's* (web requests, beat): a refused or silent broker costs a request
# half a second once, then the outbox's breaker stops trying (crm.jobs.outbox). Workers replace
# the connection settings with patient ones as they start (config.celery).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # Filesystem transport (the default: no server to install). control_folder keeps its
    # remote-control files out of the working directory.
    "data_folder_in": str(BROKER_DIR / "queue"),
    "data_folder_out": str(BROKER_DIR / "queue"),
    "processed_folder": str(BROKER_DIR / "processed"),
    "control_folder": str(BROKER_DIR / "control"),
    "store_processed": False,
    # Redis: connect and read time out fast; kombu does not retry the connection.
    "socket_connect_timeout": 0.5,
    "socket_timeout": 0.5,
    "retry_on_timeout": False,
    "max_retries": 0,
    "visibility_timeout": VISIBILITY_TIMEOUT,
}
if CELERY_BROKER_URL.startswith("filesystem"):
    # The filesystem transport has no fan-out exchange, so no remote control or events.
    CELERY_WORKER_ENABLE_REMOTE_CONTROL = False
CELERY_BROKER_CONNECTION_TIMEOUT = 0.5
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None  # workers: forever (publishers never retry: above)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_PUBLISH_RETRY = False
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE
CELERY_ENABLE_UTC = True

# --- Background jobs (crm.jobs) -------------------------------------------------------------
# A running job renews its lease every third of this; a worker that dies frees it within it.
JOBS_LEASE_SECONDS = env.int("JOBS_LEASE_SECONDS", default=60)
# A job sent but not started within this is taken as lost and sent again: a Redis restarted
# without persistence forgets its queues, and a worker killed outright takes the messages it
# had fetched but not started with it (Redis would hand them out again only after the
# visibility timeout). A copy of a job that has started or finished meanwhile does nothing.
JOBS_REDELIVER_AFTER = env.int("JOBS_REDELIVER_AFTER", default=2 * 60)
# Work waiting longer than this (or whose send failed) shows "background processing is delayed".
JOBS_DELAYED_AFTER = env.int("JOBS_DELAYED_AFTER", default=2 * 60)
JOBS_KEEP_DAYS = env.int("JOBS_KEEP_DAYS", default=30)
# Customers per batch job of the portfolio re-grade (customers.tasks.portfolio_regrade).
REGRADE_BATCH_SIZE = env.int("REGRADE_BATCH_SIZE", default=20_000)
# While people use the site, heavy background batches (the portfolio re-grade) pause this many
# times as long as each batch took, leaving the pages the rest of the machine; 0: never pause.
# On an idle site they run flat out. Measured at 1M customers on 2 cores (README): a re-grade
# under 8 clients' load grew their p95 by +110 to +177 % unpaused, +100 % at 1, +56 % at 2.
BACKGROUND_YIELD = env.float("BACKGROUND_YIELD", default=2.0)
# While people use the site, a re-grade batch is worked in pieces of this many customers, each
# its own transaction and pause (customers.regrade.regrade_span); on an idle site in one piece.
# Measured at 1M on 2 cores under 8 clients (README), seven runs: p95 growth +18 to +53 % (mean
# 35 %) in pieces of 2,500, against +29 to +79 % (mean 58 %, eight runs) in batches of 20,000.
REGRADE_BUSY_BATCH_SIZE = env.int("REGRADE_BUSY_BATCH_SIZE", default=2_500)
# Background imports (customers.exchange.background): rows per chunk, each chunk one
# transaction and one step of the progress bar; and the size above which the requester is
# mailed when the import finishes (they may have closed the page).
IMPORT_CHUNK_ROWS = env.int("IMPORT_CHUNK_ROWS", default=1000)
IMPORT_MAIL_ROWS = env.int("IMPORT_MAIL_ROWS", default=1000)
# Customers per batch job of the hourly alert evaluation (risk.tasks.alerts_evaluate).
ALERTS_BATCH_SIZE = env.int("ALERTS_BATCH_SIZE", default=50_000)

# --- Logging --------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
}

# Tests and other features that need PostgreSQL, Redis or Chromium fail instead of skipping.
REQUIRE_SERVICES = env.bool("REQUIRE_SERVICES", default=False)

# The board's indexes carry amount and probability (INCLUDE) for index-only totals on
# PostgreSQL; SQLite, the development database, builds them without those columns, as intended.
SILENCED_SYSTEM_CHECKS = ["models.W040"]
