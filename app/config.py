import os
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY", "dev-only-not-secret")
    SQLALCHEMY_DATABASE_URI = os.environ.get(
        "DATABASE_URL", f"sqlite:///{ROOT / 'instance' / 'frontdesk.db'}"
    )
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True, "hide_parameters": True}  # no phone numbers in error logs
    BABEL_DEFAULT_LOCALE = "zh_Hans_CN"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    LANGUAGES = ("zh_Hans_CN", "en")
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = os.environ.get("SESSION_COOKIE_SECURE", "0") == "1"
    REMEMBER_COOKIE_HTTPONLY = True
    PERMANENT_SESSION_LIFETIME = timedelta(hours=12)
    WTF_CSRF_TIME_LIMIT = None  # a desk form may stay open through a whole shift
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_HEADERS_ENABLED = False
    LOGIN_FAILURE_LIMIT = "5 per 15 minutes"
    PASSWORD_HASH_METHOD = "scrypt"
    FLASK_ADMIN_SWATCH = "default"
    LIST_COUNT_CAP = 10_000  # lists count at most this many rows and say "more than N"
    # running it (README "Production"): files, probes, metrics, backups
    ATTACHMENTS_DIR = os.environ.get("ATTACHMENTS_DIR", str(ROOT / "instance" / "attachments"))
    READY_MIN_FREE_MB = int(os.environ.get("READY_MIN_FREE_MB", "500"))  # /readyz fails below this on ATTACHMENTS_DIR
    METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")  # bearer token for /metrics; empty: IT users only
    LOG_REQUESTS = os.environ.get("LOG_REQUESTS", "1") == "1"  # one JSON line per request on stderr
    PG_BIN_DIR = os.environ.get("PG_BIN_DIR", "")  # where pg_dump/pg_restore live if not on PATH


class TestConfig(Config):
    TESTING = True
    SECRET_KEY = "test"
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1"  # hashing cost is not what the tests measure
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL", "sqlite://")
