"""Bilingual text declared at the place it is used.

Register declarations (labels, states, messages of a rule) are written once as T("中文", "English"); which
side is shown is decided when it is rendered, from the request's locale that Flask-Babel selects. Chinese
is the default and the fallback.
"""
from __future__ import annotations

from collections.abc import Callable

from flask.globals import _cv_request
from flask_babel import get_locale
from markupsafe import escape


def is_english() -> bool:
    # asked for every label shown (60 times a list page, a million times an export): the answer is kept on the
    # request's own context, read without Flask's proxies (three lookups a call through `g`)
    request_context = _cv_request.get(None)
    if request_context is None:
        return False
    try:
        return request_context.fd_is_english
    except AttributeError:
        loc = get_locale()
        request_context.fd_is_english = english = loc is not None and loc.language == "en"
        return english


_translations: dict[tuple, str] = {}


def kept_translation(translate: Callable[[str], str], text: str) -> str:
    """`translate(text)` (a catalogue's gettext, no values), kept per language: the catalogues do not change while
    the process runs, and asking one walks Flask-Babel's contexts (a dozen calls) every time. `text` is a literal
    of the code, so the store is bounded."""
    key = (translate, text, is_english())
    try:
        return _translations[key]
    except KeyError:
        _translations[key] = translated = translate(text)
        return translated


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
