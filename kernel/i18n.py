"""Bilingual text declared at the place it is used.

Register declarations (labels, states, messages of a rule) are written once as T("中文", "English"); which
side is shown is decided when it is rendered, from the request's locale that Flask-Babel selects. Chinese
is the default and the fallback.
"""
from __future__ import annotations

from flask import g, has_request_context
from flask_babel import get_locale
from markupsafe import escape


def is_english() -> bool:
    if not has_request_context():
        return False
    if "is_english" not in g:  # asked once per request: a million-row export would ask a million times
        loc = get_locale()
        g.is_english = loc is not None and loc.language == "en"
    return bool(g.is_english)


class T:
    """A label in both languages. Equal only to another T with the same two texts (and hashed alike)."""

    __slots__ = ("zh", "en")

    def __init__(self, zh: str, en: str):
        self.zh, self.en = zh, en

    def __str__(self) -> str:
        return self.en if is_english() else self.zh

    def __html__(self) -> str:
        return str(escape(str(self)))

    def __repr__(self) -> str:
        return f"T({self.zh!r}, {self.en!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, T):
            return (self.zh, self.en) == (other.zh, other.en)
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.zh, self.en))

    def __len__(self) -> int:
        return len(str(self))

    def __add__(self, other: object) -> str:
        return str(self) + str(other)

    def __radd__(self, other: object) -> str:
        return str(other) + str(self)

    def format(self, *args: object, **kwargs: object) -> str:
        return str(self).format(*args, **kwargs)

    @classmethod
    def of(cls, value: T | str) -> T:
        return value if isinstance(value, T) else cls(str(value), str(value))
