"""Settings for Billing Centre: one module, driven by the environment.

Local defaults are safe for development (SQLite file, eager Celery, console
e-mail). With ``DJANGO_DEBUG=0`` the production secrets have no defaults:
start-up stops with a message naming the missing variable.
"""

from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=True)


def _required(name: str) -> str:
    """A production secret: required when DEBUG is off, with a clear message."""
    value = env.str(name, default="")
    if not value:
        raise ImproperlyConfigured(f"{name} must be set when DJANGO_DEBUG=0 (see .env.example).")
    return value


if DEBUG:
    SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="dev-only-insecure-key-do-not-use-in-production")
    ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
else:
    SECRET_KEY = _required("DJANGO_SECRET_KEY")
    ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=[])
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS must be set when DJANGO_DEBUG=0.")
    _required("DATABASE_URL")
    # Without a broker Celery would run every task inside the web request that queued it (PDFs,
    # e-mails, exports) with per-process rate limits: production needs Redis (issue 15).
    _required("REDIS_URL")
    # Links in e-mails sent by jobs have no request to take the address from (checked below).
    _required("SITE_URL")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "csp",
    # Celery beat's schedule and each entry's last run time live in PostgreSQL (docs/scheduled-jobs.md).
    "django_celery_beat",
    "core",
    "billing_centre",
    "accounts",
    "invoices",
    "payments",
    "disputes",
]

MIDDLEWARE = [
    # First: answers /healthz, /healthz/live, /healthz/ready before the HTTPS redirect and the host
    # check, so a load balancer probing http://<node address>/healthz/ready gets its answer
    # (billing_centre/health.py). Nothing else bypasses ALLOWED_HOSTS.
    "billing_centre.health.HealthProbeMiddleware",
    # Then: the request id (X-Request-ID from the proxy, or a new one), the log context and one
    # request line per request, HTTPS redirects included (billing_centre/observability/middleware.py).
    "billing_centre.observability.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # With a read replica (DATABASE_REPLICA_URL): safe requests read from it, a client that just
    # wrote is pinned to the primary (core/database.py). Before the session, so it covers it too.
    "core.database.ReplicaPinMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "billing_centre.urls"
WSGI_APPLICATION = "billing_centre.wsgi.application"
ASGI_APPLICATION = "billing_centre.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "billing_centre.context_processors.navigation",
            ],
        },
    },
]

# Database: a SQLite file by default; DATABASE_URL selects PostgreSQL.
# An empty DATABASE_URL (e.g. a blank line copied from .env.example) means the default too.
DATABASE_URL = env.str("DATABASE_URL", default="") or f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}"
DATABASES = {"default": environ.Env.db_url_config(DATABASE_URL)}
DATABASES["default"].setdefault("ATOMIC_REQUESTS", False)
# Planner costs for SSD storage or a working set in memory (PostgreSQL's defaults assume
# spinning disks): with the default random_page_cost of 4 it aggregates a company's
# 200,000 invoices with a parallel scan of the whole table rather than an index-only
# scan of its accounts, 3x slower (issue 8, bench/RESULTS.md). Empty leaves the server's.
# Sent as a start-up option on direct connections, and stored on the database by every `migrate`
# (ALTER DATABASE ... SET, core/database.py), which is how it reaches connections through PgBouncer.
_planner = env.str("DATABASE_RANDOM_PAGE_COST", default="1.1")
DATABASE_RANDOM_PAGE_COST = float(_planner) if _planner else None
# BC_DB_POOLER=pgbouncer: connections go through PgBouncer in transaction pooling, where one server
# connection serves many clients one transaction at a time. So nothing may outlive a transaction:
# no persistent connections (PgBouncer pools them), no server-side cursors (.iterator() would open
# a WITH HOLD cursor on a connection the next transaction may not get), no prepared statements
# (psycopg prepares a query run 5 times; another client's transaction would then find it or miss
# it), no start-up `options` (PgBouncer refuses them). docs/operations.md.
DB_POOLER = env.str("BC_DB_POOLER", default="")
if DB_POOLER not in ("", "pgbouncer"):
    raise ImproperlyConfigured(f"BC_DB_POOLER must be empty or 'pgbouncer', not {DB_POOLER!r}.")


def _postgres_settings(config: dict) -> dict:
    """Connection settings of a PostgreSQL alias: direct, or through PgBouncer (BC_DB_POOLER)."""
    if config["ENGINE"] != "django.db.backends.postgresql":
        return config
    config["CONN_HEALTH_CHECKS"] = True
    options = config.setdefault("OPTIONS", {})
    if DB_POOLER == "pgbouncer":
        config["CONN_MAX_AGE"] = 0
        config["DISABLE_SERVER_SIDE_CURSORS"] = True
        options["prepare_threshold"] = None
    else:
        config["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=60)
        if DATABASE_RANDOM_PAGE_COST is not None:
            cost = f"-c random_page_cost={DATABASE_RANDOM_PAGE_COST}"
            options["options"] = f"{options.get('options', '')} {cost}".strip()
    return config


_postgres_settings(DATABASES["default"])
# A read replica (a streaming standby of the primary): safe requests of clients that did not just
# write read from it; writes, transactions, Celery tasks and migrations use the primary
# (core/database.py). In tests its test database is the primary's (a mirror), so the suite works.
DATABASE_REPLICA_URL = env.str("DATABASE_REPLICA_URL", default="")
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = _postgres_settings(environ.Env.db_url_config(DATABASE_REPLICA_URL))
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
    DATABASE_ROUTERS = ["core.database.PrimaryReplicaRouter"]
# Seconds a client stays on the primary after a request that wrote (a signed cookie).
REPLICA_PIN_SECONDS = env.int("BC_REPLICA_PIN_SECONDS", default=10)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

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
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "dashboard"

# django-allauth: the user ID is the username; log in by user ID or e-mail.
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "email*", "password1*", "password2*"]
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = env.str("ACCOUNT_EMAIL_VERIFICATION", default="mandatory")
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_PRESERVE_USERNAME_CASING = False
ACCOUNT_USERNAME_MIN_LENGTH = 3
# Days an invitation by e-mail stays valid (accounts.Invitation.expires_at); then it is refused.
INVITATION_DAYS = env.int("BC_INVITATION_DAYS", default=7)
# The client's address (core.client_ip, allauth's rate limits, lock-outs, the audit trail):
# the number of proxies of ours in front of the portal (nginx: 1). With 0 (the default)
# X-Forwarded-For is ignored, so a forged header never chooses the address.
ALLAUTH_TRUSTED_PROXY_COUNT = env.int("BC_TRUSTED_PROXY_COUNT", default=0)
ACCOUNT_RATE_LIMITS = {
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "20/m/ip",
    "reset_password": "20/m/ip,5/m/key",
}
# Every log-in lock-out (login_failed above) is audited: accounts.adapter.AccountAdapter.
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
# Sign-up does the same work for a new and an existing e-mail (no timing tells them apart).
ACCOUNT_FORMS = {"signup": "accounts.auth_forms.SignupForm"}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Billing Centre"

LANGUAGE_CODE = "ko"
LANGUAGES = [("ko", _("Korean")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Seoul"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
# collectstatic's folder. Benchmarks and the rehearsal collect into their own (DJANGO_STATIC_ROOT):
# WhiteNoise indexes this folder whenever a handler starts, and the test client starts one per test.
STATIC_ROOT = Path(env.str("DJANGO_STATIC_ROOT", default=str(BASE_DIR / "var" / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]


def s3_storage(
    *,
    bucket: str,
    endpoint_url: str | None = None,
    region: str | None = None,
    access_key: str | None = None,
    secret_key: str | None = None,
    addressing_style: str | None = None,
) -> dict:
    """``STORAGES["default"]`` on S3-compatible object storage (AWS S3, MinIO, Ceph, moto in the
    tests: tests/storage_server.py), through django-storages. Objects are private (no ACL sent:
    the bucket's policy decides, and nothing is public); a download is either streamed by the
    portal or redirected to a signed URL valid ``BC_STORAGE_URL_EXPIRE`` seconds."""
    from botocore.config import Config

    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": endpoint_url or None,
            "region_name": region or None,
            "access_key": access_key or None,
            "secret_key": secret_key or None,
            "default_acl": None,
            "querystring_auth": True,
            "querystring_expire": BC_STORAGE_URL_EXPIRE,
            # Names never collide: a name taken gets a random suffix (an export rebuilt, two
            # requests rendering the same PDF) instead of replacing the other's file.
            "file_overwrite": False,
            # A read larger than this spills from memory to a temporary file (5,000-PDF exports).
            "max_memory_size": 8 * 1024 * 1024,
            "client_config": Config(
                signature_version="s3v4",
                # Path style for S3-compatible servers on an address (MinIO, moto); "virtual" on AWS.
                s3={"addressing_style": addressing_style or ("path" if endpoint_url else "auto")},
                # An unreachable storage fails the request in seconds (a clear 503 page, a retried
                # job), not after boto3's default minute-long connect timeout.
                connect_timeout=5,
                read_timeout=30,
                retries={"mode": "standard", "max_attempts": 3},
            ),
        },
    }


# Stored files (invoice PDFs, export ZIPs, dispute attachments) go through Django's storage API
# (docs/operations.md, "Files"): a local folder (MEDIA_ROOT) by default, S3-compatible object
# storage with BC_STORAGE=s3, so every web host and worker sees the same files.
BC_STORAGE = env.str("BC_STORAGE", default="local")
# Downloads: "stream" (the portal reads the file and sends it; any backend) or "redirect" (S3
# only: after the same checks, a 302 to a signed URL valid BC_STORAGE_URL_EXPIRE seconds).
BC_STORAGE_DOWNLOADS = env.str("BC_STORAGE_DOWNLOADS", default="stream")
BC_STORAGE_URL_EXPIRE = env.int("BC_STORAGE_URL_EXPIRE", default=60)
# Export ZIPs are deleted this many days after they were built (invoices.export_files_purge).
BC_EXPORT_RETENTION_DAYS = env.int("BC_EXPORT_RETENTION_DAYS", default=7)
if BC_STORAGE not in ("local", "s3"):
    raise ImproperlyConfigured("BC_STORAGE must be local or s3.")
if BC_STORAGE_DOWNLOADS not in ("stream", "redirect"):
    raise ImproperlyConfigured("BC_STORAGE_DOWNLOADS must be stream or redirect.")
if BC_STORAGE_DOWNLOADS == "redirect" and BC_STORAGE != "s3":
    raise ImproperlyConfigured("BC_STORAGE_DOWNLOADS=redirect needs BC_STORAGE=s3 (signed URLs).")
if BC_STORAGE == "s3":
    if not env.str("AWS_STORAGE_BUCKET_NAME", default=""):
        raise ImproperlyConfigured("AWS_STORAGE_BUCKET_NAME must be set when BC_STORAGE=s3 (see .env.example).")
    _default_storage = s3_storage(
        bucket=env.str("AWS_STORAGE_BUCKET_NAME"),
        endpoint_url=env.str("AWS_S3_ENDPOINT_URL", default=""),
        region=env.str("AWS_S3_REGION_NAME", default=""),
        # Unset: boto3's own chain (an instance or pod role, ~/.aws) supplies the credentials.
        access_key=env.str("AWS_ACCESS_KEY_ID", default=""),
        secret_key=env.str("AWS_SECRET_ACCESS_KEY", default=""),
        addressing_style=env.str("AWS_S3_ADDRESSING_STYLE", default=""),
    )
else:
    _default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
STORAGES = {
    "default": _default_storage,
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
# Private files (stored PDFs, exports, attachments) live outside the web root
# and are served only through views that check scope.
MEDIA_ROOT = Path(env.str("DJANGO_MEDIA_ROOT", default=str(BASE_DIR / "var" / "media")))

# Cache: Redis when configured (shared by workers, used by rate limits),
# otherwise process-local memory.
REDIS_URL = env.str("REDIS_URL", default="")


def redis_caches(url: str) -> dict:
    """The cache configuration on the Redis at ``url`` (also used by the fault tests).

    ``default`` is ``core.cache.FailoverCache``: Redis (the ``redis`` alias) while it
    answers, the database (the ``database`` alias, a DatabaseCache on the table of migration
    billing_centre 0001) while it cannot be reached. Pages keep working during a Redis outage, and
    the rate limits and lock-outs kept in the cache keep counting instead of failing open.
    """
    prefix = env.str("DJANGO_CACHE_PREFIX", default="bc")
    return {
        "default": {
            "BACKEND": "core.cache.FailoverCache",
            "OPTIONS": {
                "PRIMARY": "redis",
                "FALLBACK": "database",
                # After a failure, Redis is tried again (per thread) after this many seconds.
                "RETRY_SECONDS": env.float("DJANGO_CACHE_RETRY_SECONDS", default=5.0),
                # One-time security markers kept in the database only (core/cache.py).
                "DATABASE_ONLY_PREFIXES": ["allauth.mfa.totp.used"],
            },
        },
        "redis": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": prefix,
            "OPTIONS": {
                # Errors are raised to FailoverCache, which answers from the database instead.
                "IGNORE_EXCEPTIONS": False,
                "SOCKET_CONNECT_TIMEOUT": 1,
                "SOCKET_TIMEOUT": 1,
            },
        },
        "database": {
            "BACKEND": "core.cache.DatabaseCache",
            "LOCATION": "bc_cache_fallback",
            "KEY_PREFIX": prefix,
            # Rate-limit counters must not be culled during an outage: a generous ceiling.
            "OPTIONS": {"MAX_ENTRIES": 200_000, "CULL_FREQUENCY": 4},
        },
    }


if REDIS_URL:
    CACHES = redis_caches(REDIS_URL)
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Celery: Redis when REDIS_URL is set; otherwise tasks run eagerly in-process.
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or "cache+memory://"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A task whose worker process died (OOM kill, SIGKILL) is put back on its queue, not acknowledged:
# with acks_late that makes every task run at least once, so each one is written to be safe to run
# twice (exports claim their job under a lease, payments use idempotency keys). docs/operations.md.
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# Time limits: the soft one raises SoftTimeLimitExceeded inside the task (it cleans up and gives
# the job back), the hard one kills the process. Defaults for every task, longer where needed.
CELERY_TASK_SOFT_TIME_LIMIT = 300
CELERY_TASK_TIME_LIMIT = 360
CELERY_TASK_ANNOTATIONS = {
    # Up to 5,000 PDFs in one ZIP (a few minutes rendered, more with cold fonts); a build cut short
    # is rebuilt from scratch by another worker, so the limit only bounds a stuck build.
    "invoices.export_job_run": {"soft_time_limit": 3300, "time_limit": 3600},
    # The daily AutoPay run charges every due invoice through the gateway, one call each.
    "payments.autopay_run": {"soft_time_limit": 3300, "time_limit": 3600},
}
# Redis redelivers a message not acknowledged within this time to another worker: it must exceed
# the longest hard time limit above, or a long task would be started a second time while it runs.
# socket_connect_timeout: a broker host that does not answer at all (no "connection refused") makes
# a web request that queues a task (core.queue) wait at most this long per try, not the
# operating system's connect timeout of minutes (kombu's default is none).
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 7200, "socket_connect_timeout": 2}
CELERY_RESULT_EXPIRES = 24 * 3600
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A broker connection lost mid-task does not cancel the task: its state is in the database, and
# a redelivered copy finds the job finished or claimed (see exports' lease).
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
# WeasyPrint keeps memory after a render: a pool process is replaced after 100 tasks or once it
# holds more than 600 MB (checked after each task), so memory never grows without bound.
CELERY_WORKER_MAX_TASKS_PER_CHILD = 100
CELERY_WORKER_MAX_MEMORY_PER_CHILD = 600_000  # KiB
# Workers log through settings.LOGGING (the setup_logging signal, billing_centre/observability/celery.py),
# in the same JSON format as the web, never through a root logger of Celery's own.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Queues, so a big export never delays AutoPay: "payments" (AutoPay, reconciliation), "documents"
# (exports, PDFs), "mail" (e-mails), "celery" (the rest). docker-compose.yml runs a worker for
# "payments" and one for the others; `make worker` consumes all of them.
CELERY_TASK_DEFAULT_QUEUE = "celery"
# Each queue has its own routing key: without one, Celery binds every queue with the default key
# ("celery") and a message sent to one queue would be copied into all of them.
CELERY_TASK_QUEUES = [Queue(name, routing_key=name) for name in ("payments", "documents", "mail", "celery")]
CELERY_TASK_ROUTES = {
    "core.email_send": {"queue": "mail"},
    "core.emails_requeue": {"queue": "mail"},
    "payments.autopay_notice_send": {"queue": "mail"},
    "payments.autopay_run": {"queue": "payments"},
    "payments.autopay_*": {"queue": "payments"},
    "payments.payment_reconcile": {"queue": "payments"},
    "invoices.export_job_run": {"queue": "documents"},
    "*_send": {"queue": "mail"},
    "*.send_*": {"queue": "mail"},
    "*.mail_*": {"queue": "mail"},
}
# Bulk exports (invoices/services.py): a build holds its job under a lease renewed with every file
# written; a job whose lease expired (its worker died) is rebuilt by another worker. A job still
# waiting this long after it was queued is queued again by the sweep (Redis was down, or lost it).
EXPORT_JOB_LEASE_SECONDS = env.int("EXPORT_JOB_LEASE_SECONDS", default=120)
EXPORT_JOB_REQUEUE_AFTER_SECONDS = env.int("EXPORT_JOB_REQUEUE_AFTER_SECONDS", default=120)
# Periodic jobs run by Celery beat; crontab times are in CELERY_TIMEZONE (Asia/Seoul).
# Each job is also a management command (autopay_run, assess_fees, send_expiry_reminders,
# reconcile_payments) for the embedded default without a worker.
# Beat keeps its state (each entry's last run) in the database, not in a file of its container:
# a beat restarted after 07:00 still sends that day's AutoPay run. CELERY_BEAT_SCHEDULE below stays
# the source of truth: beat writes it into the database at each start (django-celery-beat).
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    # Daily jobs that have not succeeded by their deadline (JOB_DEADLINES) are reported to staff;
    # runs whose worker died (lease expired) are marked abandoned.
    "accounts-jobs-watch": {
        "task": "accounts.jobs_watch",
        "schedule": crontab(minute="*/15"),
    },
    # Bulk exports whose message never reached a worker, or whose worker died: queued again.
    "invoices-export-jobs-sweep": {
        "task": "invoices.export_jobs_sweep",
        "schedule": 60.0,
    },
    # Outbox e-mails (core.mail) that never reached the broker or the mail server: queued again.
    "core-emails-requeue": {
        "task": "core.emails_requeue",
        "schedule": 300.0,
    },
    "payments-autopay-notices-requeue": {
        "task": "payments.autopay_notices_requeue",
        "schedule": 300.0,
    },
    # Receipts of succeeded payments that never reached the broker (Redis down at the commit) or
    # the mail server: queued again; each receipt is sent once
    # (payments.services.receipt_delivery.payment_receipt_deliver).
    "payments-receipts-requeue": {
        "task": "payments.payment_receipts_requeue",
        "schedule": 300.0,
    },
    # Payments left processing (a timeout, a crash) are settled by asking the gateway.
    "payments-reconcile": {
        "task": "payments.payment_reconcile",
        "schedule": 900.0,
        "kwargs": {"older_than_seconds": 60},
    },
    # AutoPay and scheduled one-time payments: every morning in Korea.
    "payments-autopay-run": {
        "task": "payments.autopay_run",
        "schedule": crontab(hour=7, minute=0),
    },
    # Print fees of invoices issued on paper, late fees of invoices past due.
    "invoices-assess-fees": {
        "task": "invoices.fees_assess",
        "schedule": crontab(hour=5, minute=30),
    },
    # Cards used by AutoPay that expire within 30 days: the payers are e-mailed once.
    "payments-expiry-reminders": {
        "task": "payments.card_expiry_reminders_send",
        "schedule": crontab(hour=9, minute=0),
    },
    # Retention (docs/operations.md, "Retention"), at night in Korea: expired sessions
    # (clearsessions), sent outbox e-mails, old job runs/alerts and enrolment attempts, processed
    # webhook events. Each is safe to run any number of times; a missed night is caught up next.
    "core-sessions-clear": {
        "task": "core.sessions_clear",
        "schedule": crontab(hour=3, minute=10),
    },
    "core-emails-purge": {
        "task": "core.emails_purge",
        "schedule": crontab(hour=3, minute=20),
    },
    "accounts-records-purge": {
        "task": "accounts.records_purge",
        "schedule": crontab(hour=3, minute=30),
    },
    "payments-webhook-events-purge": {
        "task": "payments.webhook_events_purge",
        "schedule": crontab(hour=3, minute=40),
    },
    # Export ZIPs older than BC_EXPORT_RETENTION_DAYS: deleted from the file storage, jobs expired.
    "invoices-export-files-purge": {
        "task": "invoices.export_files_purge",
        "schedule": crontab(hour=3, minute=50),
    },
}
# The watch (accounts.jobs_watch, every 15 minutes) alerts staff once a day, in admin (Job alerts)
# and by e-mail, about a daily job (JobRun.job) without a successful run today by its deadline
# (HH:MM, Asia/Seoul), and about a frequent job without a success within the given seconds.
JOB_DEADLINES = {"fees_assess": "07:30", "autopay_run": "09:00", "card_expiry_reminders": "11:00"}
JOB_MAX_SILENCE = {"payment_reconcile": 3600}
# The Celery task the watch sends again when a run of the job was abandoned (its worker died):
# the new run takes over the work left half-done, the same day.
JOB_RESUME_TASKS = {
    "fees_assess": "invoices.fees_assess",
    "autopay_run": "payments.autopay_run",
    "card_expiry_reminders": "payments.card_expiry_reminders_send",
}
# A job run holds a lease it renews while it works (accounts.jobs.job_run); a run whose lease
# expired had its worker die: it is marked abandoned and a later run takes its unfinished work over.
JOB_LEASE_SECONDS = env.int("JOB_LEASE_SECONDS", default=600)
# Retention in days of rows that only grow (0: kept forever); docs/operations.md, "Retention".
# Invoices, payments and the audit log are never purged (tax and payment records).
# Outbox e-mails once sent (core.OutgoingEmail; unsent ones are always kept).
BC_EMAIL_RETENTION_DAYS = env.int("BC_EMAIL_RETENTION_DAYS", default=30)
# Finished job runs and job alerts (accounts.JobRun, JobAlert): long enough to compare a season.
BC_JOB_RUN_RETENTION_DAYS = env.int("BC_JOB_RUN_RETENTION_DAYS", default=180)
# Enrolment attempts (accounts.EnrolmentAttempt): the lock-out needs 15 minutes; a year as evidence.
BC_ENROLMENT_ATTEMPT_RETENTION_DAYS = env.int("BC_ENROLMENT_ATTEMPT_RETENTION_DAYS", default=365)
# Processed gateway webhook events without an anomaly (payments.WebhookEvent): well past the
# gateway's redelivery period (Stripe: 3 days), so a redelivered event is still recognised.
BC_WEBHOOK_EVENT_RETENTION_DAYS = env.int("BC_WEBHOOK_EVENT_RETENTION_DAYS", default=90)

# R13-R16: the invoice print fee of paper invoices, per country of the account or plan:
# the amount in the country's currency and the first invoice date it applies to.
PRINT_FEES = {
    "KR": {"amount": "13000", "currency": "KRW", "effective": "2024-12-29"},
    "US": {"amount": "5.00", "currency": "USD", "effective": "2025-03-31"},
}
# R23: the late fee, once per invoice: ``rate`` of the balance past due (at least ``minimum`` in
# ``currency``), posted ``days_after_due`` days after the due date.
LATE_FEES = {
    "KR": {"rate": "0.02", "minimum": "5000", "currency": "KRW", "days_after_due": 14},
    "US": {"rate": "0.015", "minimum": "5.00", "currency": "USD", "days_after_due": 14},
}

# E-mail: console by default; EMAIL_URL (smtp://user:pass@host:587) for real mail.
if env.str("EMAIL_URL", default=""):
    vars().update(env.email_url("EMAIL_URL"))
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
# Seconds an SMTP connection may block (a receipt is sent under its payment's row lock).
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Billing Centre <billing@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Payments gateway: simulated unless Stripe is configured.
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
STRIPE_PUBLISHABLE_KEY = env.str("STRIPE_PUBLISHABLE_KEY", default="")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
PAYMENT_GATEWAY = "stripe" if STRIPE_SECRET_KEY else "simulated"
# The offline gateway answers each charge this many seconds late (0: at once). Only for tests and
# demos of a slow gateway: the fault tests stop a worker in the middle of an AutoPay batch with it.
SIMULATED_GATEWAY_LATENCY = env.float("SIMULATED_GATEWAY_LATENCY", default=0.0)
# Payment types offered and accepted per account country (R8); "default" for other countries.
# Values are payments.models.MethodKind values. US: card, ACH debit (bank_debit), PayPal (online_service).
PAYMENT_TYPES_BY_COUNTRY = {
    "KR": ["credit_card", "debit_card", "bank_debit", "online_service"],
    "US": ["credit_card", "debit_card", "bank_debit", "online_service"],
    "default": ["credit_card", "debit_card"],
}
# The online payment services offered per country (the wallet's "online payment service" type).
ONLINE_PAYMENT_SERVICES = {"KR": ["KakaoPay", "NaverPay", "Toss"], "US": ["PayPal"], "default": []}

# Product facts: the billing support line for customers without an invoice (R21-R24).
BILLING_SUPPORT_PHONE = "080-687-6886"
# The portal's public address, for links in e-mails sent by jobs (no request to build them from).
# Empty (a blank line copied from .env.example) means the development default too.
SITE_URL = env.str("SITE_URL", default="") or "http://127.0.0.1:8000"
# In production it must be https (links to log in and pay must not go out over plain http), unless
# BC_SITE_URL_ALLOW_HTTP=1 says a site served over http is meant (a rehearsal on 127.0.0.1).
if not DEBUG:
    from urllib.parse import urlsplit

    _site = urlsplit(SITE_URL)
    if _site.scheme not in ("http", "https") or not _site.netloc:
        raise ImproperlyConfigured(
            f"SITE_URL must be an absolute address such as https://billing.example.com, not {SITE_URL!r}."
        )
    if _site.scheme != "https" and not env.bool("BC_SITE_URL_ALLOW_HTTP", default=False):
        raise ImproperlyConfigured(
            "SITE_URL must start with https:// when DJANGO_DEBUG=0 (links in e-mails); "
            "set BC_SITE_URL_ALLOW_HTTP=1 only if the site is served over plain http on purpose."
        )
# Disputes: a decision granting more credit than this (per currency) needs the
# permission disputes.decide_large_dispute (a supervisor). Unlisted currencies: no limit.
DISPUTE_SUPERVISOR_THRESHOLD = {"KRW": 1_000_000, "JPY": 100_000, "USD": 1000, "EUR": 1000}

# Production hardening (check --deploy is clean with DJANGO_DEBUG=0).
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

# Content-Security-Policy (django-csp), in every environment so tests and development see what
# production enforces: no inline script or style anywhere ('unsafe-inline' is never allowed; JS
# and CSS are static files), nothing from outside except Stripe.js when Stripe is configured.
# img-src allows data: for the TOTP QR code of the MFA set-up page. The Django admin runs under
# the same policy (Django 5.2's admin has no inline scripts or style attributes).
_CSP_STRIPE = ["https://js.stripe.com"] if STRIPE_SECRET_KEY else []
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'", *_CSP_STRIPE],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'", *(["https://api.stripe.com"] if STRIPE_SECRET_KEY else [])],
        "frame-src": _CSP_STRIPE or ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    },
}
# The health probes answer over plain http (load balancers probe the node directly); they are
# answered before the redirect anyway (billing_centre.health.HealthProbeMiddleware): this keeps
# them exempt should the middleware order ever change.
SECURE_REDIRECT_EXEMPT = [r"^healthz(/live|/ready)?$"]
# Prometheus scrapes /metrics over plain http inside the private network (closed to the public:
# a token or an allowed address, billing_centre/observability/metrics.py).
SECURE_REDIRECT_EXEMPT += [r"^metrics$"]
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# Logs: one format for web, Celery and gunicorn (billing_centre/observability/logs.py): JSON lines
# with time, level, logger, message, request_id, user_id, company_id, client_ip (and the request
# line's duration_ms), or text for a person (DJANGO_LOG_FORMAT=text, the default with DEBUG on).
from billing_centre.observability.logs import logging_config  # noqa: E402

LOGGING = logging_config(
    fmt=env.str("DJANGO_LOG_FORMAT", default="text" if DEBUG else "json"),
    level=env.str("DJANGO_LOG_LEVEL", default="INFO"),
)

# Metrics at /metrics (Prometheus), closed to the public: a scraper sends
# "Authorization: Bearer <BC_METRICS_TOKEN>" or connects from an address (or network) in
# BC_METRICS_ALLOWED_IPS (the socket's address, never X-Forwarded-For). Neither set: always 404.
METRICS_TOKEN = env.str("BC_METRICS_TOKEN", default="")
METRICS_ALLOWED_IPS = env.list("BC_METRICS_ALLOWED_IPS", default=[])

# Error reports to Sentry, only when SENTRY_DSN is set; card fields and secrets are scrubbed from
# every event before it leaves (billing_centre/observability/sentry.py).
SENTRY_DSN = env.str("SENTRY_DSN", default="")
if SENTRY_DSN:
    from billing_centre.observability.sentry import sentry_init  # noqa: E402

    sentry_init(
        dsn=SENTRY_DSN,
        environment=env.str("SENTRY_ENVIRONMENT", default="production" if not DEBUG else "development"),
        release=env.str("SENTRY_RELEASE", default=""),
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
    )
