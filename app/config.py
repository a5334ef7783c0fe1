import os
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY", "dev-only-not-secret")
    SQLALCHEMY_DATABASE_URI = os.environ.get(
        "DATABASE_URL", f"sqlite:///{ROOT / 'instance' / 'frontdesk.db'}"
    )
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
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
    LOGIN_FAILURE_LIMIT = "5 per 15 minutes"
    PASSWORD_HASH_METHOD = "scrypt"
    FLASK_ADMIN_SWATCH = "default"
    LIST_COUNT_CAP = 10_000  # lists count at most this many rows and say "more than N"


class TestConfig(Config):
    TESTING = True
    SECRET_KEY = "test"
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1"  # hashing cost is not what the tests measure
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL", "sqlite://")
