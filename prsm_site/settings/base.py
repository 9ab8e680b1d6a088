"""Shared settings. Everything a deployment changes comes from the environment (see README)."""

from importlib.util import find_spec
from pathlib import Path

import dj_database_url

from prsm.engine.data import files as _engine_files

from .env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent

SECRET_KEY = env_str("SECRET_KEY", "dev-only-insecure-key-change-me-in-production-0123456789abcdef")
# Debug pages list settings and URL patterns: only when a developer asks for them (DEBUG=1).
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "django_htmx",
    "dramatiq_crontab",
    "prsm_site",
    "accounts",
    "ledger",
    "distillation",
    "safety",
    "marketplace",
    "serving",
    "moderation",
    "webhooks",
]

MIDDLEWARE = [
    "core.logging.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "core.middleware.ApiQueryBounds",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "prsm_site.urls"
ASGI_APPLICATION = "prsm_site.asgi.application"
CSRF_FAILURE_VIEW = "prsm_site.errors.csrf_failure"

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
                "ledger.context_processors.ftns_balance",
            ],
        },
    },
]

# --- Database: SQLite in the project by default, PostgreSQL (or anything dj-database-url reads) when given.
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 0))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web process and the workers share the file: wait for locks instead of failing at once.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, the task broker and the key namespace shared by web and workers.
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
BROKER_URL = env_str("BROKER_URL", REDIS_URL)
PRSM_NAMESPACE = env_str("PRSM_NAMESPACE", "prsm")

# An idle socket's channel waits on Redis in 5-second blocking reads: redis-py 8 gives every read a
# 5-second timeout by default, which would close each idle socket with 1011 after 5 seconds.
CHANNEL_LAYER_READ_TIMEOUT_S = 30
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": CHANNEL_LAYER_READ_TIMEOUT_S}],
                   "prefix": f"{PRSM_NAMESPACE}:asgi", "capacity": 1000, "expiry": 60},
    }
}
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": f"{PRSM_NAMESPACE}:cache",
    }
}

# --- Dramatiq: queues, retries and time limits, applied in core/broker.py.
DRAMATIQ_QUEUES = ["default", "training", "gpu"]  # gpu: consumed only by workers that have CUDA
DRAMATIQ_MAX_RETRIES = env_int("DRAMATIQ_MAX_RETRIES", 3)
DRAMATIQ_MIN_BACKOFF_MS = env_int("DRAMATIQ_MIN_BACKOFF_MS", 1_000)
DRAMATIQ_MAX_BACKOFF_MS = env_int("DRAMATIQ_MAX_BACKOFF_MS", 60_000)
DRAMATIQ_TIME_LIMIT_MS = env_int("DRAMATIQ_TIME_LIMIT_MS", 10 * 60_000)
WORKER_HEARTBEAT_TTL = env_int("WORKER_HEARTBEAT_TTL", 15)
# Redis broker: a worker silent this long is dead and its unacknowledged messages are redelivered;
# the chance (per million broker commands) that a command also runs that clean-up.
DRAMATIQ_REDIS_HEARTBEAT_TIMEOUT_MS = env_int("DRAMATIQ_REDIS_HEARTBEAT_TIMEOUT_MS", 15_000)
DRAMATIQ_REDIS_MAINTENANCE_CHANCE = env_int("DRAMATIQ_REDIS_MAINTENANCE_CHANCE", 10_000)
# The scheduler (`manage.py crontab`, dramatiq-crontab) sends the actors marked @cron; a Redis lock lets one
# scheduler run at a time (another waits LOCK_BLOCKING_TIMEOUT seconds for it, then exits).
DRAMATIQ_CRONTAB = {
    "REDIS_URL": REDIS_URL,
    "LOCK_BLOCKING_TIMEOUT": env_int("SCHEDULER_LOCK_WAIT_S", 15),
}
# A running job's lease: a worker renews it every few seconds; a dead worker's lease lapses after this.
DISTILLATION_LEASE_SECONDS = env_int("DISTILLATION_LEASE_SECONDS", 30)
DISTILLATION_MAX_RUNNING_PER_USER = env_int("DISTILLATION_MAX_RUNNING_PER_USER", 2)

# --- Serving (docs/SERVING.md): a pool of serving processes (`python -m prsm.serving.pool`, the Procfile's
# `serving:` line) answers predictions over Unix sockets in SERVING_SOCKET_DIR; the web server never runs a model.
SERVING_SOCKET_DIR = env_str("SERVING_SOCKET_DIR", str(BASE_DIR / "var" / "serving"))
SERVING_WORKERS = env_int("SERVING_WORKERS", 2)              # serving processes; a model lives in one of them
SERVING_MEMORY_MB = env_int("SERVING_MEMORY_MB", 1024)       # per process: past it, least recently used models unload
SERVING_MAX_BATCH = env_int("SERVING_MAX_BATCH", 32)         # inputs one session.run takes from waiting requests
SERVING_MAX_WAIT_MS = env_int("SERVING_MAX_WAIT_MS", 2)      # the longest a request waits for others to batch with
SERVING_MAX_IN_FLIGHT = env_int("SERVING_MAX_IN_FLIGHT", 64)  # per model; more get 429 with Retry-After
SERVING_TIMEOUT_S = env_int("SERVING_TIMEOUT_S", 30)
PREDICT_MAX_INPUTS = env_int("PREDICT_MAX_INPUTS", 64)
PREDICT_MAX_BODY_BYTES = env_int("PREDICT_MAX_BODY_BYTES", 8 * 1024 * 1024)
PREDICT_RATE_PER_MINUTE = env_int("PREDICT_RATE_PER_MINUTE", 600)  # per API token (per user in the browser)
PREDICT_GRANT_CACHE_S = env_int("PREDICT_GRANT_CACHE_S", 5)  # the lean predict path keeps a token's access decision (serving/fast_path.py)
TRY_IT_FREE_PER_DAY = env_int("TRY_IT_FREE_PER_DAY", 20)     # "try it" on listings a user does not own

# --- Teachers over HTTP (docs/SERVING.md "Teachers over HTTP"). The operator's OpenAI-compatible provider
# (used by openai:MODEL and bare names like gpt-4 when the user saved none); hosts or CIDRs a teacher URL may
# reach although private or loopback; the price of 1,000 teacher tokens, in units (charged with the job).
PRSM_OPENAI_BASE_URL = env_str("PRSM_OPENAI_BASE_URL", "")
PRSM_OPENAI_API_KEY = env_str("PRSM_OPENAI_API_KEY", "")
PRSM_TEACHER_HOSTS_ALLOW = env_list("PRSM_TEACHER_HOSTS_ALLOW", [])
PRSM_TEACHER_PRICE_PER_1K_TOKENS_UNITS = env_int("PRSM_TEACHER_PRICE_PER_1K_TOKENS_UNITS", 0)
PRSM_TEACHER_CONCURRENCY = env_int("PRSM_TEACHER_CONCURRENCY", 4)
PRSM_TEACHER_TIMEOUT_S = env_int("PRSM_TEACHER_TIMEOUT_S", 30)
PRSM_SECRETS_KEY = env_str("PRSM_SECRETS_KEY", "")  # a Fernet key for saved provider keys; "" derives one from SECRET_KEY

# --- Webhooks (README "Webhooks"): signed POSTs of job.completed, job.failed and model.sold to the URLs users
# register, sent by the webhook_deliver actor. Hosts or CIDRs a webhook URL may reach although private or loopback
# (a list of its own: allowing a teacher's host does not let webhooks post into the same network).
WEBHOOK_HOSTS_ALLOW = env_list("WEBHOOK_HOSTS_ALLOW", [])
# Seconds before each retry of a failed attempt, so 1 + len() attempts in all: 6 over about an hour by default.
WEBHOOK_RETRY_DELAYS_S = [float(s) for s in env_list("WEBHOOK_RETRY_DELAYS_S", ["30", "90", "270", "810", "2430"])]
# Event deliveries in a row that used up their retries before the endpoint is disabled (its owner is told).
WEBHOOK_DISABLE_AFTER_FAILURES = env_int("WEBHOOK_DISABLE_AFTER_FAILURES", 5)
WEBHOOK_TIMEOUT_S = env_int("WEBHOOK_TIMEOUT_S", 10)                          # per attempt: connect and answer
WEBHOOK_RESPONSE_EXCERPT_BYTES = env_int("WEBHOOK_RESPONSE_EXCERPT_BYTES", 2048)  # of each answer, kept; the rest unread
WEBHOOK_MAX_ENDPOINTS = env_int("WEBHOOK_MAX_ENDPOINTS", 20)                  # per user
# A delivery still pending this long after its attempt was due (the broker was down when it was queued, or a
# worker died) is queued again by the webhook_sweep actor (every 5 minutes, `manage.py crontab`).
WEBHOOK_SWEEP_AFTER_S = env_int("WEBHOOK_SWEEP_AFTER_S", 600)
# This site's address as its users reach it (e.g. https://distill.example.com): webhook bodies link to jobs and
# listings with it; "" leaves the links as paths.
SITE_URL = env_str("SITE_URL", "").rstrip("/")

# --- Auth and accounts.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)  # per (account, address); 4x per address and per account
LOGIN_FAILURE_WINDOW = env_int("LOGIN_FAILURE_WINDOW", 15 * 60)
# Reverse proxies in front of the server that each append the address they saw to X-Forwarded-For.
# 0: the client is REMOTE_ADDR and X-Forwarded-For is ignored (a client can write anything there).
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
SIGNUP_RATE_PER_HOUR = env_int("SIGNUP_RATE_PER_HOUR", 20)  # accounts per client address, browser and API together
# Usernames compare NFKC-normalised and without case, at login too (accounts/backends.py).
AUTHENTICATION_BACKENDS = ["accounts.backends.UsernameBackend"]
MODERATORS_GROUP = "moderators"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.auth.ApiTokenAuthentication",  # named API tokens, and DRF's Token keys as before
        "rest_framework.authentication.SessionAuthentication",
    ],
    # TokenScope: a named API token's scopes (read, predict, manage); a view with its own permission_classes lists it too
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated", "accounts.permissions.TokenScope"],
    "DEFAULT_SCHEMA_CLASS": "core.schema.AutoSchema",  # every refusal declared with the error shape
    "EXCEPTION_HANDLER": "core.api_errors.api_exception_handler",
    # JSON only, whatever the client's Accept says (no browsable pages); bodies read with limits.
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "core.negotiation.JsonUnlessAsked",
    # JSON bodies only; the upload routes (and predict's images) declare multipart themselves
    "DEFAULT_PARSER_CLASSES": ["core.parsers.JSONParser"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,  # DRF's throttles find the client the way accounts.selectors.client_ip does
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "PRSM Distill API",
    "DESCRIPTION": "Distil large models into small, fast, trustworthy ones. Authenticate with "
    "`Authorization: Token KEY` (from POST /api/v1/auth/token/) or a browser session with CSRF.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/api/v1",
}

# --- Internationalisation, static and media files.
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# plotly.js from the installed plotly package's own bundle (/static/plotly/plotly.min.js), no CDN or copy
STATICFILES_DIRS = [BASE_DIR / "static",
                    ("plotly", Path(find_spec("plotly").submodule_search_locations[0]) / "package_data")]
WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "media")))
MEDIA_URL = "media/"

# --- Logging: one readable line per request and per actor run; JSON lines with LOG_FORMAT=json.
LOG_FORMAT = env_str("LOG_FORMAT", "text")
LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "core.logging.JsonFormatter"},
    },
    "filters": {
        "only_exceptions": {"()": "core.logging.OnlyExceptions"},
        "client_errors": {"()": "core.logging.ClientErrorsAsWarnings"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json" if LOG_FORMAT == "json" else "text"},
        "tracebacks": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "text",
            "filters": ["only_exceptions"],
        },
        "security": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "text",
            "filters": ["client_errors"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Our own request line replaces Django's and Daphne's access lines.
        "django.request": {"handlers": ["tracebacks"], "level": "ERROR", "propagate": False},
        # A bad Host header or an oversized form is the client's doing: a warning line, no traceback.
        "django.security": {"handlers": ["security"], "level": "WARNING", "propagate": False},
        "django.server": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
        "dramatiq": {"level": "WARNING"},
        # the scheduler renews its lock every 5 seconds and logs each run at INFO
        "apscheduler": {"level": "WARNING"},
    },
}

# --- Ledger (FTNS). Amounts are kept in units (1 FTNS = 1,000,000 units); these are whole FTNS.
LEDGER_SIGNUP_GRANT = env_int("LEDGER_SIGNUP_GRANT", 1000)  # granted to every new account; 0 turns it off
LEDGER_IDEMPOTENCY_TTL = env_int("LEDGER_IDEMPOTENCY_TTL", 24 * 60 * 60)  # seconds a key replays its response

# --- Uploads: teachers and data sets (distillation/uploads.py, distillation/archives.py). -------------
# Owned by the uploads work; bytes unless named otherwise. A larger body is refused with 413.
UPLOAD_MAX_TEACHER_BYTES = env_int("UPLOAD_MAX_TEACHER_BYTES", 1 << 30)
UPLOAD_MAX_DATASET_BYTES = env_int("UPLOAD_MAX_DATASET_BYTES", 256 << 20)
# Archives are checked before extraction against these.
UPLOAD_MAX_TEACHER_UNCOMPRESSED_BYTES = env_int("UPLOAD_MAX_TEACHER_UNCOMPRESSED_BYTES", 2 << 30)
UPLOAD_MAX_DATASET_UNCOMPRESSED_BYTES = env_int("UPLOAD_MAX_DATASET_UNCOMPRESSED_BYTES", 1 << 30)
UPLOAD_MAX_ARCHIVE_ENTRIES = env_int("UPLOAD_MAX_ARCHIVE_ENTRIES", 100_000)
UPLOAD_MAX_COMPRESSION_RATIO = env_int("UPLOAD_MAX_COMPRESSION_RATIO", 100)
# the engine refuses the same files past the same limits (prsm/engine/data/files.py); raising these
# only helps an upload that the engine will still refuse
UPLOAD_CSV_MAX_FIELD_CHARS = env_int("UPLOAD_CSV_MAX_FIELD_CHARS", _engine_files.MAX_FIELD_CHARS)
UPLOAD_JSONL_MAX_DEPTH = env_int("UPLOAD_JSONL_MAX_DEPTH", _engine_files.MAX_JSON_DEPTH)
UPLOAD_MAX_IMAGE_PIXELS = env_int("UPLOAD_MAX_IMAGE_PIXELS", 16_000_000)  # per image
UPLOAD_MAX_DATASET_PIXELS = env_int("UPLOAD_MAX_DATASET_PIXELS", 100_000_000)  # all images of one data set
UPLOAD_ONNX_CHECK_MEMORY_BYTES = env_int("UPLOAD_ONNX_CHECK_MEMORY_BYTES", 2 << 30)  # plus 4x the file's size
# A request body other than an upload's files (JSON, form fields) past this is refused with 413; a
# form with more fields than this with 400.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 2_621_440)
DATA_UPLOAD_MAX_NUMBER_FIELDS = env_int("DATA_UPLOAD_MAX_NUMBER_FIELDS", 1000)
# Request bodies past this stream to a temporary file instead of memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = env_int("FILE_UPLOAD_MAX_MEMORY_SIZE", 1 << 20)
FILE_UPLOAD_PERMISSIONS = 0o640
