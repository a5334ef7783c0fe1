import os
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class Config:
    # No default: the factory reads instance/secret_key (made once per install) when SECRET_KEY is not set.
    SECRET_KEY = os.environ.get("SECRET_KEY")
    SECRET_KEY_FILE = os.environ.get("SECRET_KEY_FILE", str(ROOT / "instance" / "secret_key"))
    TRUSTED_PROXIES = int(os.environ.get("TRUSTED_PROXIES", "0"))  # reverse proxies in front (X-Forwarded-*)
    SQLALCHEMY_DATABASE_URI = os.environ.get(
        "DATABASE_URL", f"sqlite:///{ROOT / 'instance' / 'frontdesk.db'}"
    )
    SQLALCHEMY_ENGINE_OPTIONS = {"hide_parameters": True}  # no phone numbers in error logs
    # a pooled connection idle this long is tested before use (kernel.db.ping_when_idle, in place of pool_pre_ping)
    DB_PING_IDLE_SECONDS = float(os.environ.get("DB_PING_IDLE_SECONDS", "1"))
    BABEL_DEFAULT_LOCALE = "zh_Hans_CN"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    LANGUAGES = ("zh_Hans_CN", "en")
    # The app's own messages are written in Chinese (the msgid) and translated in app/translations/en/.../frontdesk.po
    BABEL_DOMAIN = "frontdesk"
    BABEL_TRANSLATION_DIRECTORIES = str(ROOT / "app" / "translations")
    FRONTDESK_TEST_CLOCK = os.environ.get("FRONTDESK_TEST_CLOCK", "0") == "1"  # /_test/clock; never in production
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = os.environ.get("SESSION_COOKIE_SECURE", "0") == "1"
    REMEMBER_COOKIE_HTTPONLY = True
    PERMANENT_SESSION_LIFETIME = timedelta(hours=12)
    WTF_CSRF_TIME_LIMIT = None  # a desk form may stay open through a whole shift
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_HEADERS_ENABLED = False
    # Login throttling, OWASP "device cookies": a browser that logged in before as that user keeps its own
    # allowance, so failures from elsewhere cannot lock the real user out; unknown browsers are limited per
    # account+address, per account and per address. Counts live in RATELIMIT_STORAGE_URI (Redis in production).
    LOGIN_FAILURE_LIMIT = "5 per 15 minutes"          # per account + address, unknown browser
    LOGIN_ACCOUNT_LIMIT = "20 per 15 minutes"         # per account, all unknown browsers together
    LOGIN_ADDRESS_LIMIT = "50 per 15 minutes"         # per address, all accounts (password spraying)
    LOGIN_DEVICE_LIMIT = "10 per 15 minutes"          # per known browser of that account
    DEVICE_COOKIE_DAYS = 365
    PASSWORD_HASH_METHOD = "scrypt"
    FLASK_ADMIN_SWATCH = "default"
    LIST_COUNT_CAP = 10_000  # lists count at most this many rows and say "more than N"
    # Personal data (kernel/pii.py): Fernet keys, newest first (comma-separated), and the blind index's HMAC key.
    # Unset, a random pair is made once in PII_KEY_FILE (development and the demo; back it up like the database).
    PII_KEYS = [k.strip() for k in os.environ.get("FRONTDESK_PII_KEYS", "").split(",") if k.strip()]
    PII_INDEX_KEY = os.environ.get("FRONTDESK_PII_INDEX_KEY", "")
    PII_KEY_FILE = os.environ.get("FRONTDESK_PII_KEY_FILE", str(ROOT / "instance" / "pii_keys.json"))
    PII_REVEAL_LIMIT = os.environ.get("PII_REVEAL_LIMIT", "10 per hour")  # per user: the desk's audited reveals
    # running it (README "Production"): files, probes, metrics, backups
    ATTACHMENTS_DIR = os.environ.get("ATTACHMENTS_DIR", str(ROOT / "instance" / "attachments"))
    # empty: files under ATTACHMENTS_DIR; or s3://bucket/prefix?endpoint=https://...&region=... (boto3)
    ATTACHMENT_STORAGE = os.environ.get("ATTACHMENT_STORAGE", "")
    ATTACHMENT_MAX_BYTES = int(os.environ.get("ATTACHMENT_MAX_BYTES", str(10 * 1024 * 1024)))  # per file
    # spreadsheets uploaded for an import, kept by their sha256 between the preview and the confirm (kernel/imports.py)
    IMPORTS_DIR = os.environ.get("IMPORTS_DIR", str(ROOT / "instance" / "imports"))
    MAX_CONTENT_LENGTH = int(os.environ.get("MAX_CONTENT_LENGTH", str(64 * 1024 * 1024)))  # one request, all files
    READY_MIN_FREE_MB = int(os.environ.get("READY_MIN_FREE_MB", "500"))  # /readyz fails below this on ATTACHMENTS_DIR
    METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")  # bearer token for /metrics; empty: IT users only
    LOG_REQUESTS = os.environ.get("LOG_REQUESTS", "1") == "1"  # one JSON line per request on stderr
    PG_BIN_DIR = os.environ.get("PG_BIN_DIR", "")  # where pg_dump/pg_restore live if not on PATH

    # notifications (kernel/notify.py, kernel/delivery.py; README "Notifications")
    MAIL_URL = os.environ.get("MAIL_URL", "")  # smtp://user:password@host:port?tls=1 or smtps://; empty: mails fail
    MAIL_FROM = os.environ.get("MAIL_FROM", "frontdesk@localhost")
    SMS_ADAPTER = os.environ.get("SMS_ADAPTER", "")      # "module:Class"; empty: the logging adapter
    WECOM_ADAPTER = os.environ.get("WECOM_ADAPTER", "")
    OUTBOX_MAX_ATTEMPTS = int(os.environ.get("OUTBOX_MAX_ATTEMPTS", "8"))  # then failed, shown to IT
    OUTBOX_BATCH = int(os.environ.get("OUTBOX_BATCH", "100"))
    OUTBOX_LEASE_SECONDS = int(os.environ.get("OUTBOX_LEASE_SECONDS", "120"))
    OUTBOX_STALE_SECONDS = int(os.environ.get("OUTBOX_STALE_SECONDS", "600"))  # /readyz fails past this
    TELECOM_SHEET_AT = os.environ.get("TELECOM_SHEET_AT", "17:00")  # the telecom daily sheet goes after this


class TestConfig(Config):
    TESTING = True
    SECRET_KEY = "test"
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1"  # hashing cost is not what the tests measure
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL", "sqlite://")
    PII_KEYS = ["8Cws5cMEvU9hSSjkj1jJCNf_Ltqqu8SVm5RD36PiEho="]  # test-only keys, never used elsewhere
    PII_INDEX_KEY = "test-only-blind-index-key"
