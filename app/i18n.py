"""Bilingual text declared at the place it is used.

Every label, state and message is written once as T("中文", "English"); which side is shown is
decided when it is rendered, from the request's locale. Chinese is the default and the fallback.
"""
from flask import g, has_request_context
from flask_babel import get_locale
from markupsafe import escape


def is_english() -> bool:
    if not has_request_context():
        return False
    if "is_english" not in g:  # asked once per label: a million-row export would ask a million times
        loc = get_locale()
        g.is_english = loc is not None and loc.language == "en"
    return g.is_english


class T:
    __slots__ = ("zh", "en")

    def __init__(self, zh: str, en: str):
        self.zh, self.en = zh, en

    def __str__(self) -> str:
        return self.en if is_english() else self.zh

    def __html__(self) -> str:
        return str(escape(str(self)))

    def __repr__(self) -> str:
        return f"T({self.zh!r}, {self.en!r})"

    def __eq__(self, other) -> bool:
        if isinstance(other, T):
            return (self.zh, self.en) == (other.zh, other.en)
        return str(self) == other

    def __hash__(self) -> int:
        return hash((self.zh, self.en))

    def __len__(self) -> int:
        return len(str(self))

    def __add__(self, other):
        return str(self) + str(other)

    def __radd__(self, other):
        return str(other) + str(self)

    def format(self, *args, **kwargs) -> str:
        return str(self).format(*args, **kwargs)


def label_of(obj, default: str = "") -> str:
    """The label a model column or class declares, as text for this request."""
    info = getattr(obj, "info", None) or {}
    return str(info.get("label", default))
