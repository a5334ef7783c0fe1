"""The app's message catalog: what the code and templates ask for, and what the English catalog holds.

Messages are written in Chinese (the msgid) with `gettext`/`lazy_gettext` in Python and `_()` in templates;
app/translations/en/LC_MESSAGES/frontdesk.po gives the English. Register declarations keep `T("中文", "English")`
next to the column they label. Either way Flask-Babel's locale (the session's choice, Chinese by default)
decides the language. `make translations` compiles the catalogs; tests/test_catalog.py fails on a gap.
"""
from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "app" / "translations" / "en" / "LC_MESSAGES" / "frontdesk.po"
KEYWORDS = {"_": None, "gettext": None, "_l": None, "lazy_gettext": None, "ngettext": (1, 2), "fd_t": (1,)}
METHODS = [("app/**.py", "python"), ("admin_views/**.py", "python"), ("app/templates/**.html", "jinja2")]


def used() -> dict[str, str]:
    """msgid -> the first place it is used, from the code and the templates."""
    found: dict[str, str] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
            str(ROOT), METHODS, keywords=KEYWORDS, comment_tags=(), strip_comment_tags=True):
        msgid = message if isinstance(message, str) else message[0]
        if msgid and any("\u3400" <= ch <= "\u9fff" for ch in msgid):  # Flask-Admin's English ids are its own
            found.setdefault(msgid, f"{filename}:{lineno}")
    return found


def catalog() -> dict[str, str]:
    with open(CATALOG, "rb") as f:
        return {m.id: m.string for m in read_po(f) if m.id}
