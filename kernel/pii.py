"""Personal data at rest: ID numbers encrypted, found by a keyed hash, masked wherever they are shown.

- Encryption: `cryptography`'s Fernet (AES-128-CBC + HMAC-SHA256) through MultiFernet, so keys rotate: the first
  key of `PII_KEYS` encrypts, every key decrypts. Rotation: add a new key *first*, restart, run
  `flask --app wsgi rotate-pii-key` (re-encrypts every value with the new key and re-computes the blind
  indexes), then remove the old key.
- Blind index: HMAC-SHA256 under `PII_INDEX_KEY` of the normalised number, in a column beside the ciphertext
  (`blind_index("id_number")`), so an exact search compares hashes; a prefix search is impossible by design.
- The audit log keeps the masked form (kernel.audit); nothing ever writes the number in plain text.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import String, event
from sqlalchemy.orm import Session, mapped_column
from sqlalchemy.types import TypeDecorator

from kernel.i18n import T
from kernel.register import blind_indexes, field

log = logging.getLogger(__name__)
TOKEN_PREFIX = "gAAAAA"  # every Fernet token starts so (version byte 0x80 and a 64-bit time)
UNREADABLE = "[无法解密]"
_keys: dict[str, Any] = {}


def configure(keys: list[str], index_key: str) -> None:
    """Keys from configuration: Fernet keys newest first, and the HMAC key of the blind index."""
    if not keys or not index_key:
        raise ValueError("PII_KEYS and PII_INDEX_KEY must be configured")
    _keys["fernet"] = MultiFernet([Fernet(k.encode() if isinstance(k, str) else k) for k in keys])
    _keys["index"] = index_key.encode() if isinstance(index_key, str) else index_key


def configured() -> bool:
    return "fernet" in _keys


def new_key() -> str:
    return Fernet.generate_key().decode()


def is_token(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(TOKEN_PREFIX)


def encrypt(value: str) -> str:
    return _keys["fernet"].encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    return _keys["fernet"].decrypt(token.encode()).decode()


def encrypt_bytes(data: bytes) -> bytes:
    """A file holding personal data at rest (an uploaded import waiting for its confirm)."""
    return _keys["fernet"].encrypt(data)


def decrypt_bytes(token: bytes) -> bytes:
    return _keys["fernet"].decrypt(token)


def rotate(token: str) -> str:
    """The same value encrypted under the first (newest) key."""
    return _keys["fernet"].rotate(token.encode()).decode()


def normalise(value: str) -> str:
    return value.strip().upper()


def blind(value: str | None) -> str | None:
    """The keyed hash an exact search compares (never reversible without the key, never a prefix)."""
    if not value:
        return None
    return hmac.new(_keys["index"], normalise(value).encode(), hashlib.sha256).hexdigest()


class Encrypted(TypeDecorator):
    """A text column stored as a Fernet token and read back as the plain value by the ORM and Core alike."""

    impl = String(255)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        if value is None or value == "":
            return None
        if is_token(value):
            return value  # already encrypted (a copy of another row's stored value)
        return encrypt(normalise(str(value)))

    def process_result_value(self, value: Any, dialect: Any) -> str | None:
        if value is None:
            return None
        if not is_token(value):
            return value  # written before the migration that encrypts them
        try:
            return decrypt(value)
        except InvalidToken:
            log.error("a personal-data value cannot be decrypted with the configured PII_KEYS")
            return UNREADABLE


def encrypted_field(label: T, **kw: Any) -> Any:
    """An ID number column: encrypted at rest, masked everywhere it is shown (pii=True)."""
    return field(label, Encrypted(), pii=True, **kw)


def blind_index(source: str) -> Any:
    return mapped_column(String(64), index=True, info={"label": T("检索码", "Search hash"), "blind_index_of": source})


_INDEXES: dict[type, dict[str, str]] = {}


def _fill_blind_indexes(session: Session, ctx: Any, instances: Any) -> None:
    for obj in list(session.new) + list(session.dirty):
        kind = type(obj)
        if kind not in _INDEXES:
            _INDEXES[kind] = blind_indexes(kind) if hasattr(kind, "__table__") else {}
        for column, index in _INDEXES[kind].items():
            value = blind(getattr(obj, column, None))
            if getattr(obj, index, None) != value:
                setattr(obj, index, value)


_installed = False


def install() -> None:
    global _installed
    if not _installed:
        event.listen(Session, "before_flush", _fill_blind_indexes)
        _installed = True
