"""Settings for every process (web, ingress, worker, beat), read from the environment only.

There is no SQLite path: DATABASE_URL must name a PostgreSQL server. `make run` and `make test`
start embedded PostgreSQL and Redis (portal/launcher.py) when DATABASE_URL / REDIS_URL are unset.
"""

from __future__ import annotations

import secrets

import dj_database_url

from portal.env import BASE_DIR, data_dir, env_bool, env_int, env_list, env_str


def _secret_key() -> str:
    key = env_str("SECRET_KEY")
    if key:
        return key
    # A generated key kept in the data folder, so sessions survive restarts of `make run`.
    path = data_dir() / "secret-key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["*"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# Browser protections (portal.security): the pages load scripts only from /static/, no inline script.
# Inline style attributes stay allowed (a few templates set widths); style elements come from files.
CONTENT_SECURITY_POLICY = env_str(
    "CONTENT_SECURITY_POLICY",
    "default-src 'self'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'",
)
# HSTS, sent over TLS only (Django's SecurityMiddleware); 0 sends none.
SECURE_HSTS_SECONDS = env_int("HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("HSTS_PRELOAD", False)

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "applications",
    "subscriptions",
    "products",
    "devices",
    "commands",
    "firmware",
    "rules",
    "ingress",
    "portal",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "portal.security.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "applications.guard.HostileInputMiddleware",  # NUL, numbers past 64 bits: 400, never 500
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "portal.middleware.AuditContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "portal.urls"
ASGI_APPLICATION = "portal.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.navigation",
            ],
        },
    },
]

# --- Database: PostgreSQL only -------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
if not DATABASE_URL:
    raise SystemExit(
        "DATABASE_URL is not set: run through `make run` / `make test`, which start an embedded "
        "PostgreSQL, or point it at a server (postgres://user@host:5432/dbname)."
    )
_db = dj_database_url.parse(DATABASE_URL)
if _db["ENGINE"] != "django.db.backends.postgresql":
    raise SystemExit(f"DATABASE_URL must name a PostgreSQL server, got engine {_db['ENGINE']}")
if env_bool("DB_POOL", True):
    # psycopg's pool keeps connections open across requests; CONN_MAX_AGE must stay 0 with it.
    _db.setdefault("OPTIONS", {})["pool"] = {"min_size": 1, "max_size": env_int("DB_POOL_SIZE", 10), "timeout": 10}
    _db["CONN_MAX_AGE"] = 0
if env_bool("DB_PGBOUNCER", False):
    # PgBouncer in transaction mode (docs/multi-node.md): consecutive transactions of one connection may
    # run on different server connections, so nothing may outlive a transaction. Advisory locks are
    # already transaction-level (pg_try_advisory_xact_lock); psycopg must not prepare statements (a
    # prepared statement lives on one server connection), and .iterator()'s server-side cursors (named
    # cursors, which live on one) are replaced by client-side fetching.
    _db.setdefault("OPTIONS", {})["prepare_threshold"] = None
    _db["DISABLE_SERVER_SIDE_CURSORS"] = True
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: Celery broker, channel layer, flow-control counters ---------------------------------
REDIS_URL = env_str("REDIS_URL")
if not REDIS_URL:
    raise SystemExit(
        "REDIS_URL is not set: run through `make run` / `make test`, which start an embedded Redis, "
        "or point it at a server (redis://127.0.0.1:6379/0)."
    )
# Keys of one deployment (or one test run) share a prefix, so several can share a Redis.
REDIS_KEY_PREFIX = env_str("REDIS_KEY_PREFIX", "oc:")

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL], "prefix": f"{REDIS_KEY_PREFIX}asgi"},
    }
}

CELERY_BROKER_URL = REDIS_URL
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_TRANSPORT_OPTIONS = {"global_keyprefix": REDIS_KEY_PREFIX}
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
HEARTBEAT_INTERVAL = env_int("HEARTBEAT_INTERVAL", 30)

# --- Login throttling and client addresses (applications.login_throttle, applications.addresses) -----
# Failures per (account, address) and per account within the window; addresses an account logged in
# from successfully within LOGIN_KNOWN_ADDRESS_DAYS are exempt from the per-account ceiling.
LOGIN_FAILURE_WINDOW = env_int("LOGIN_FAILURE_WINDOW", 900)
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 10)
LOGIN_ACCOUNT_FAILURE_LIMIT = env_int("LOGIN_ACCOUNT_FAILURE_LIMIT", 100)
LOGIN_KNOWN_ADDRESS_DAYS = env_int("LOGIN_KNOWN_ADDRESS_DAYS", 30)
# Proxies (addresses or networks) whose TRUSTED_PROXY_HEADER names the client (uvicorn honours their
# X-Forwarded-Proto too); by default a proxy on this machine, as in docs/deployment.md.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", ["127.0.0.1", "::1"])
TRUSTED_PROXY_HEADER = env_str("TRUSTED_PROXY_HEADER", "X-Forwarded-For")

# --- Audit log (applications.audit) ------------------------------------------------------------
AUDIT_RETENTION_DAYS = env_int("AUDIT_RETENTION_DAYS", 365)
AUDIT_SWEEP_SECONDS = env_int("AUDIT_SWEEP_SECONDS", 3600)

# --- Products: what a profile upload may cost to read (products.validation.Limits) ---------------
PROFILE_MAX_UPLOAD_BYTES = env_int("PROFILE_MAX_UPLOAD_BYTES", 4 * 1024 * 1024)
PROFILE_MAX_MEMBERS = env_int("PROFILE_MAX_MEMBERS", 1000)
PROFILE_MAX_MEMBER_BYTES = env_int("PROFILE_MAX_MEMBER_BYTES", 2 * 1024 * 1024)
PROFILE_MAX_TOTAL_BYTES = env_int("PROFILE_MAX_TOTAL_BYTES", 16 * 1024 * 1024)
PROFILE_MAX_COMPRESSION_RATIO = env_int("PROFILE_MAX_COMPRESSION_RATIO", 100)

# --- Devices ---------------------------------------------------------------------------------
# Fernet keys (comma-separated, first encrypts) for device secrets at rest; derived from SECRET_KEY if unset.
DEVICE_SECRET_KEYS = env_list("DEVICE_SECRET_KEYS", [])
DEVICE_DEFAULT_BIND_TIMEOUT = env_int("DEVICE_DEFAULT_BIND_TIMEOUT", 180)
DEVICE_GROUP_LIMIT = env_int("DEVICE_GROUP_LIMIT", 1000)
DEVICE_GROUP_ADD_LIMIT = env_int("DEVICE_GROUP_ADD_LIMIT", 1000)
DEVICE_SWEEP_SECONDS = env_int("DEVICE_SWEEP_SECONDS", 30)
DEVICE_COUNTS_RECONCILE_SECONDS = env_int("DEVICE_COUNTS_RECONCILE_SECONDS", 300)
HISTORY_PARTITIONS_AHEAD = env_int("HISTORY_PARTITIONS_AHEAD", 3)
# Bulk registration (F-4.4): upload limits, rows per job transaction, and the Celery queue of its jobs.
BULK_REGISTRATION_MAX_BYTES = env_int("BULK_REGISTRATION_MAX_BYTES", 20 * 1024 * 1024)
BULK_REGISTRATION_MAX_ROWS = env_int("BULK_REGISTRATION_MAX_ROWS", 100_000)
BULK_REGISTRATION_CHUNK = env_int("BULK_REGISTRATION_CHUNK", 2000)
BULK_REGISTRATION_QUEUE = env_str("BULK_REGISTRATION_QUEUE", "celery")

# --- Commands ---------------------------------------------------------------------------------
COMMAND_DEFAULT_EXPIRE_TIME = env_int("COMMAND_DEFAULT_EXPIRE_TIME", 172800)
COMMAND_DEFAULT_POWER_MODE = env_str("COMMAND_DEFAULT_POWER_MODE", "PSM")
# F-5.4: no ACK after the retransmissions (10-15 s, 20-30 s, 40-60 s, then 80-120 s): 225 s in all.
COMMAND_ACK_TIMEOUT_TOTAL = env_int("COMMAND_ACK_TIMEOUT_TOTAL", 225)
COMMAND_RESPONSE_TIMEOUT = env_int("COMMAND_RESPONSE_TIMEOUT", 3600)
COMMAND_SWEEP_SECONDS = env_int("COMMAND_SWEEP_SECONDS", 5)
COMMAND_BATCH_TASK_LIMIT = env_int("COMMAND_BATCH_TASK_LIMIT", 10)

# --- Firmware and software upgrades ------------------------------------------------------------
FIRMWARE_STEP_TIMEOUT = env_int("FIRMWARE_STEP_TIMEOUT", 3600)
FIRMWARE_ABORT_MIN_SAMPLE = env_int("FIRMWARE_ABORT_MIN_SAMPLE", 5)
FIRMWARE_SWEEP_SECONDS = env_int("FIRMWARE_SWEEP_SECONDS", 10)
RULES_SWEEP_SECONDS = env_int("RULES_SWEEP_SECONDS", 10)  # absence, duration and timer conditions of rules
RULES_RELOAD_MS = env_int("RULES_RELOAD_MS", 1000)  # a rule change reaches other processes within this
RULES_EVALUATIONS_KEPT = env_int("RULES_EVALUATIONS_KEPT", 50)  # last evaluations kept per rule (Redis)
# Where devices fetch a package over CoAP (LwM2M /5/0/1 Package URI): the ingress's public address.
FIRMWARE_PACKAGE_HOST = env_str("FIRMWARE_PACKAGE_HOST", "127.0.0.1")
FIRMWARE_PACKAGE_PORT = env_int("FIRMWARE_PACKAGE_PORT", 0)  # 0: the worker's own COAP_PORT (COAPS_PORT if secure)
FIRMWARE_PUSH_BLOCK_SZX = env_int("FIRMWARE_PUSH_BLOCK_SZX", 6)  # Block1 size of a pushed /5/0/0 write: 2**(4+szx)
FIRMWARE_POLL_SECONDS = env_int("FIRMWARE_POLL_SECONDS", 60)  # silence after which /5/0/3 and /5/0/5 are read
FIRMWARE_PCP_BLOCK_SIZE = env_int("FIRMWARE_PCP_BLOCK_SIZE", 500)  # bytes per PCP block (Huawei: 32 to 500)

# --- Codecs (products.codecs) ----------------------------------------------------------------
# Wall time one JavaScript plugin call may take per payload, and the heap one plugin may use.
CODEC_JS_TIMEOUT_MS = env_int("CODEC_JS_TIMEOUT_MS", 100)
CODEC_JS_LOAD_TIMEOUT_MS = env_int("CODEC_JS_LOAD_TIMEOUT_MS", 1000)
CODEC_JS_MAX_MEMORY = env_int("CODEC_JS_MAX_MEMORY", 64 * 1024 * 1024)
# Payloads decoded in one crossing into V8 (micro-batching, shared/reference/device-protocols.md section 7).
CODEC_JS_BATCH_SIZE = env_int("CODEC_JS_BATCH_SIZE", 500)
# Each application's share of an ingress worker's codec time (ingress.budget): seconds per second, and
# the burst it may spend at once (share x burst seconds); 0 turns the budget off.
CODEC_APP_CPU_SHARE = float(env_str("CODEC_APP_CPU_SHARE", "0.25"))
CODEC_APP_CPU_BURST_SECONDS = float(env_str("CODEC_APP_CPU_BURST_SECONDS", "2"))
# A codec call stopped by CODEC_JS_TIMEOUT_MS costs its time this many times over: a codec that keeps
# timing out soon has its uplinks kept undecoded instead of holding the sandbox a share of every second.
CODEC_APP_TIMEOUT_PENALTY = float(env_str("CODEC_APP_TIMEOUT_PENALTY", "10"))
# Uplinks kept undecoded are decoded later (ingress.undecoded): the beat's sweep every this many seconds,
# at most this many a sweep, for applications no ingress found over budget for the quiet seconds.
CODEC_UNDECODED_SWEEP_SECONDS = env_int("CODEC_UNDECODED_SWEEP_SECONDS", 30)
CODEC_UNDECODED_SWEEP_LIMIT = env_int("CODEC_UNDECODED_SWEEP_LIMIT", 1000)
CODEC_UNDECODED_QUIET_SECONDS = env_int("CODEC_UNDECODED_QUIET_SECONDS", 60)
CODEC_MAX_PAYLOAD_BYTES = env_int("CODEC_MAX_PAYLOAD_BYTES", 1024)
CODEC_MAX_UPLOAD_BYTES = env_int("CODEC_MAX_UPLOAD_BYTES", 1024 * 1024)
# The checker refuses a plugin whose decode or encode takes longer than this per call.
CODEC_CHECK_CALL_BUDGET_MS = env_int("CODEC_CHECK_CALL_BUDGET_MS", 10)
# Compiled or loaded codec versions kept per process.
CODEC_CACHE_SIZE = env_int("CODEC_CACHE_SIZE", 256)
# Seconds a process remembers which version a product decodes with (another process's activation
# takes effect within this).
CODEC_VERSION_CACHE_SECONDS = env_int("CODEC_VERSION_CACHE_SECONDS", 2)

# --- Push delivery (subscriptions) -----------------------------------------------------------
# Callbacks go to globally routable addresses only. PUSH_ALLOW_PRIVATE opens every address;
# PUSH_ALLOWED_TARGETS opens listed ones (`127.0.0.1:9000-9099`), which is what `make run` sets.
PUSH_ALLOW_PRIVATE = env_bool("PUSH_ALLOW_PRIVATE", False)
PUSH_ALLOWED_TARGETS = env_list("PUSH_ALLOWED_TARGETS", [])
PUSH_CONNECT_TIMEOUT = env_int("PUSH_CONNECT_TIMEOUT", 5)
PUSH_READ_TIMEOUT = env_int("PUSH_READ_TIMEOUT", 10)
PUSH_BATCH_SIZE = env_int("PUSH_BATCH_SIZE", 200)
PUSH_CONCURRENCY = env_int("PUSH_CONCURRENCY", 32)
PUSH_LEASE_SECONDS = env_int("PUSH_LEASE_SECONDS", 120)
PUSH_TASK_SECONDS = env_int("PUSH_TASK_SECONDS", 30)
PUSH_SWEEP_SECONDS = env_int("PUSH_SWEEP_SECONDS", 5)
PUSH_BLACKLIST_FAILURES = env_int("PUSH_BLACKLIST_FAILURES", 10)
PUSH_BLACKLIST_SECONDS = env_int("PUSH_BLACKLIST_SECONDS", 180)
PUSH_MAX_AGE_SECONDS = env_int("PUSH_MAX_AGE_SECONDS", 24 * 3600)
PUSH_LOG_RETENTION_DAYS = env_int("PUSH_LOG_RETENTION_DAYS", 7)
PUSH_RETRY_DELAYS = [int(value) for value in env_list("PUSH_RETRY_DELAYS", ["10", "30", "60", "120", "300", "600"])]

# --- Auth ------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "portal:login"
LOGIN_REDIRECT_URL = "portal:dashboard"
LOGOUT_REDIRECT_URL = "portal:login"

# Northbound (OceanConnect) API: token lifetimes and application-side flow control (F-8.2).
ACCESS_TOKEN_LIFETIME = env_int("ACCESS_TOKEN_LIFETIME", 3600)
REFRESH_TOKEN_LIFETIME = env_int("REFRESH_TOKEN_LIFETIME", 30 * 24 * 3600)
NORTHBOUND_RATE_LIMIT = env_int("NORTHBOUND_RATE_LIMIT", 100)
NORTHBOUND_RATE_WINDOW = env_int("NORTHBOUND_RATE_WINDOW", 60)
# Seconds a web process remembers a live access token (applications.actions.check_access_token).
NORTHBOUND_TOKEN_CACHE_SECONDS = env_int("NORTHBOUND_TOKEN_CACHE_SECONDS", 2)

# --- Internationalisation --------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# WhiteNoise serves static files from the web process; with finders it needs no collectstatic in tests.
WHITENOISE_USE_FINDERS = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- Metrics (applications.prometheus, docs/observability.md) ---------------------------------
# Each process serves Prometheus metrics on METRICS_ADDRESS at its base port plus its worker index
# (run_ingress, run_web and run_mqtt number their workers from 0); 0 serves nothing. Loopback by default:
# the figures are platform-wide (no tenant's data), yet they are no one else's business either.
METRICS_ADDRESS = env_str("METRICS_ADDRESS", "127.0.0.1")
INGRESS_METRICS_PORT = env_int("INGRESS_METRICS_PORT", 0)
MQTT_METRICS_PORT = env_int("MQTT_METRICS_PORT", 0)
WEB_METRICS_PORT = env_int("WEB_METRICS_PORT", 0)
WORKER_METRICS_PORT = env_int("WORKER_METRICS_PORT", 0)
BEAT_METRICS_PORT = env_int("BEAT_METRICS_PORT", 0)

# --- Web servers -----------------------------------------------------------------------------
BIND_ADDRESS = env_str("BIND_ADDRESS", "0.0.0.0")
HTTP_PORT = env_int("HTTP_PORT", 8000)
WEB_WORKERS = env_int("WEB_WORKERS", 2)  # web processes sharing HTTP_PORT/HTTPS_PORT (SO_REUSEPORT)
WEB_THREADS = env_int("WEB_THREADS", 8)  # threads per web process running Django's (synchronous) views
HTTPS_PORT = env_int("HTTPS_PORT", 8743)
TLS_CERT_FILE = env_str("TLS_CERT_FILE")
TLS_KEY_FILE = env_str("TLS_KEY_FILE")
# Two-way TLS on HTTPS_PORT (the original's): a PEM file of the CAs whose client certificates are accepted.
TLS_CLIENT_CA_FILE = env_str("TLS_CLIENT_CA_FILE")
TLS_CLIENT_CERT_REQUIRED = env_bool("TLS_CLIENT_CERT_REQUIRED", True)  # False: verified when sent, else accepted
# Request bodies (portal.bridge): a body over its limit is refused with 413 as it is read, chunked or not.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("REQUEST_MAX_BYTES", 2621440)  # JSON and form bodies (Django's default)
REQUEST_MAX_UPLOAD_BYTES = env_int("REQUEST_MAX_UPLOAD_BYTES", 40 * 1024 * 1024)  # multipart: packages, files
# Device-side ports, used by the ingress process (documented now so the launcher can check them).
COAP_PORT = env_int("COAP_PORT", 5683)
COAPS_PORT = env_int("COAPS_PORT", 5684)
MQTT_PORT = env_int("MQTT_PORT", 1883)
MQTTS_PORT = env_int("MQTTS_PORT", 8883)
# MQTTS: the ingress listens on MQTTS_PORT only when both files are set (PEM certificate chain, key).
MQTT_TLS_CERT_FILE = env_str("MQTT_TLS_CERT_FILE")
MQTT_TLS_KEY_FILE = env_str("MQTT_TLS_KEY_FILE")
MQTT_ENABLED = env_bool("MQTT_ENABLED", True)  # `make run` starts `run_mqtt` beside `run_ingress`
MQTT_WORKERS = env_int("MQTT_WORKERS", 1)  # run_mqtt processes sharing MQTT_PORT (SO_REUSEPORT)
MQTT_ACK_TIMEOUT = env_int("MQTT_ACK_TIMEOUT", 5)  # a command without PUBACK in this time: timeout (at most 5)
MQTT_CONNECT_TIMEOUT = env_int("MQTT_CONNECT_TIMEOUT", 10)  # a socket that sent no CONNECT by then is closed
# Keep-alive: a connection silent for 1.5 x its keep-alive is closed (MQTT 3.1.1 3.1.2.10); one with
# keep-alive 0 (none) or a longer one, after this many silent seconds.
MQTT_MAX_IDLE_SECONDS = env_int("MQTT_MAX_IDLE_SECONDS", 7200)
# Open connections from one IP address (carrier NAT puts many devices behind one), and of those, how many
# may be waiting for their CONNECT.
MQTT_MAX_CONNECTIONS_PER_ADDRESS = env_int("MQTT_MAX_CONNECTIONS_PER_ADDRESS", 1000)
MQTT_MAX_PENDING_PER_ADDRESS = env_int("MQTT_MAX_PENDING_PER_ADDRESS", 50)

# --- Ingress (device access: `manage.py run_ingress`) -----------------------------------------------
INGRESS_WORKERS = env_int("INGRESS_WORKERS", 2)  # processes sharing COAP_PORT (SO_REUSEPORT)
INGRESS_BIND_ADDRESS = env_str("INGRESS_BIND_ADDRESS", "::")  # "::" takes IPv4 too (v4-mapped)
INGRESS_CODEC_MODULE = env_str("INGRESS_CODEC_MODULE", "products.codecs")
# CoAP retransmission of the platform's confirmable messages (observe, downlinks): F-5.4's 10-15 s,
# 20-30 s, 40-60 s, then TIMEOUT: ACK timeout 10 s, random factor 1.5, 3 retransmissions (225 s in all).
INGRESS_ACK_TIMEOUT = float(env_str("INGRESS_ACK_TIMEOUT", "10"))
INGRESS_ACK_RANDOM_FACTOR = float(env_str("INGRESS_ACK_RANDOM_FACTOR", "1.5"))
INGRESS_MAX_RETRANSMIT = env_int("INGRESS_MAX_RETRANSMIT", 3)
# aiocoap keeps every received message for EXCHANGE_LIFETIME (~2 x MAX_LATENCY + 47 s): memory.
INGRESS_MAX_LATENCY = float(env_str("INGRESS_MAX_LATENCY", "10"))
INGRESS_DEDUP_SECONDS = env_int("INGRESS_DEDUP_SECONDS", 300)  # uplinks deduplicated by (device, MID)
INGRESS_DEDUP_PENDING_SECONDS = env_int("INGRESS_DEDUP_PENDING_SECONDS", 30)
INGRESS_DEVICE_WINDOW = env_int("INGRESS_DEVICE_WINDOW", 1200)  # F-8.2: per-device limit per 20 min
INGRESS_MAX_PENDING = env_int("INGRESS_MAX_PENDING", 5000)  # uplinks waiting per worker, then 5.03
INGRESS_BATCH_SIZE = env_int("INGRESS_BATCH_SIZE", 200)
# Registrations after an outage (ingress.admission): answered within ANSWER_SECONDS (Huawei modules give
# up after 4 s, F-1.5) or refused at once with 5.03 and a Max-Age drawn between RETRY_MIN and RETRY_MAX.
INGRESS_REGISTER_BACKLOG = env_int("INGRESS_REGISTER_BACKLOG", 1000)  # waiting per worker, then 5.03
INGRESS_REGISTER_ANSWER_SECONDS = float(env_str("INGRESS_REGISTER_ANSWER_SECONDS", "3"))
INGRESS_REGISTER_RETRY_MIN = env_int("INGRESS_REGISTER_RETRY_MIN", 5)
INGRESS_REGISTER_RETRY_MAX = env_int("INGRESS_REGISTER_RETRY_MAX", 60)
INGRESS_DB_THREADS = env_int("INGRESS_DB_THREADS", 2)
INGRESS_MIN_LIFETIME = env_int("INGRESS_MIN_LIFETIME", 60)
INGRESS_DEFAULT_LIFETIME = env_int("INGRESS_DEFAULT_LIFETIME", 86400)
INGRESS_SESSION_GRACE = env_int("INGRESS_SESSION_GRACE", 300)  # kept this long past the lifetime
INGRESS_HEARTBEAT_SECONDS = env_int("INGRESS_HEARTBEAT_SECONDS", 5)
INGRESS_REOBSERVE_RATE = env_int("INGRESS_REOBSERVE_RATE", 200)  # re-observations per second after a restart
# The codec's cloudRsp ACK to an uplink goes NON by default: the uplink was already acknowledged at the
# CoAP level once stored, a NON spares the device an ACK transmission, and a CON would hold back a command
# sent right after it (one outstanding CON per device, NSTART = 1) until the device acknowledged it.
INGRESS_CLOUDRSP_CONFIRMABLE = env_bool("INGRESS_CLOUDRSP_CONFIRMABLE", False)
# How long an answer may take and still ride on the ACK (piggybacked), below clients' 2 s ACK timeout.
INGRESS_EMPTY_ACK_DELAY = float(env_str("INGRESS_EMPTY_ACK_DELAY", "1.0"))
# LwM2M queue mode: how long a device listens after its Update or uplink (LwM2M TS 1.1: MAX_TRANSMIT_WAIT).
INGRESS_QUEUE_AWAKE_SECONDS = env_int("INGRESS_QUEUE_AWAKE_SECONDS", 93)
INGRESS_LWM2M_DOWNLINK = env_str("INGRESS_LWM2M_DOWNLINK", "write")  # write (PUT) or execute (POST) /19/1/0
# One composite (FETCH) observe of a mapped product's paths for LwM2M 1.1+ clients (docs/lwm2m-objects.md).
INGRESS_LWM2M_COMPOSITE_OBSERVE = env_bool("INGRESS_LWM2M_COMPOSITE_OBSERVE", True)
# LwM2M bootstrap (docs/lwm2m-objects.md): the PSK identity and key (hex) a device uses for the bootstrap
# server (off when the key is empty), and the server URI written into its Security object (default:
# coaps://127.0.0.1:COAPS_PORT).
LWM2M_BOOTSTRAP_IDENTITY = env_str("LWM2M_BOOTSTRAP_IDENTITY", "bootstrap")
LWM2M_BOOTSTRAP_PSK = env_str("LWM2M_BOOTSTRAP_PSK", "")
LWM2M_SERVER_URI = env_str("LWM2M_SERVER_URI", "")
INGRESS_RCVBUF = env_int("INGRESS_RCVBUF", 4 * 1024 * 1024)
INGRESS_SIMULATOR_HOST = env_str("INGRESS_SIMULATOR_HOST", "127.0.0.1")  # where the portal's simulator finds it
INGRESS_DTLS_MAX_PEERS = env_int("INGRESS_DTLS_MAX_PEERS", 100000)  # DTLS sessions a worker keeps
INGRESS_DTLS_IDLE_SECONDS = env_int("INGRESS_DTLS_IDLE_SECONDS", 3600)  # silence that ends a DTLS session
# Handshakes past the cookie exchange (spoofed ClientHellos get a stateless HelloVerifyRequest and no state):
# at most this many per worker, this many from one IP address (carrier NAT puts many devices behind one),
# each dropped if not over within this many seconds.
INGRESS_DTLS_MAX_HANDSHAKES = env_int("INGRESS_DTLS_MAX_HANDSHAKES", 1000)
INGRESS_DTLS_HANDSHAKES_PER_HOST = env_int("INGRESS_DTLS_HANDSHAKES_PER_HOST", 100)
INGRESS_DTLS_HANDSHAKE_SECONDS = env_int("INGRESS_DTLS_HANDSHAKE_SECONDS", 60)
# Malformed or refused device traffic is counted always, logged once per (kind, source address) per interval.
INGRESS_REFUSAL_LOG_SECONDS = env_int("INGRESS_REFUSAL_LOG_SECONDS", 60)

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_AUTHENTICATION_CLASSES": ["applications.auth.NorthboundAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["applications.auth.IsApplication"],
    "EXCEPTION_HANDLER": "applications.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "OceanConnect-compatible IoT platform API",
    "DESCRIPTION": (
        "The northbound API of OceanConnect (paths under /iocm and /iodm, unchanged) and the "
        "Developer Center API under /api/v1/. Log in with appId and secret, then send "
        "`app_key: <appId>` and `Authorization: Bearer <accessToken>` on every other call."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    # One name per choice set that several bodies share (a collision would get a hash for a name).
    "ENUM_NAME_OVERRIDES": {
        "CommandStatusEnum": "commands.models.CommandStatus",
        "UpgradeOperationStatusEnum": "firmware.models.OperationStatus",
        "SubOperationStatusEnum": "firmware.models.SubStatus",
        "LwM2MOperationEnum": "ingress.lwm2m_management.OPERATIONS",
        "MappedCommandOperationEnum": ["write", "execute"],
        "RuleStatusEnum": ["active", "inactive"],
    },
    # Every call that takes a token also answers the token and throttling refusals (applications/schema.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "applications.schema.authentication_errors",
    ],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.request": {"level": "ERROR"},
        # amqtt logs two or three INFO lines per TCP connection and its state machine (transitions) more:
        # a connection flood would fill disks. Connections are logged on the device (MQTT connected as ...).
        "amqtt": {"level": "WARNING"},
        "transitions": {"level": "WARNING"},
    },
}
