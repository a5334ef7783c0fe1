"""Every UI message outside the register declarations comes from the catalog, so a missing one shows here."""
import re
from pathlib import Path

from babel.messages.mofile import read_mo

from app.i18n_catalog import CATALOG, catalog, used

ROOT = Path(__file__).resolve().parent.parent


def test_every_message_the_code_asks_for_has_its_english_in_the_catalog():
    held = catalog()
    missing = {msgid: where for msgid, where in used().items() if not held.get(msgid)}
    assert not missing, "add to app/translations/en/LC_MESSAGES/frontdesk.po, then `make translations`:\n" + \
        "\n".join(f"  {where}: {msgid}" for msgid, where in sorted(missing.items(), key=lambda x: x[1]))


def test_the_compiled_catalog_matches_its_source():
    with open(str(CATALOG)[:-3] + ".mo", "rb") as f:
        compiled = {m.id: m.string for m in read_mo(f) if m.id}
    assert compiled == catalog(), "run `make translations` and commit the .mo"


def test_templates_ask_the_catalog_not_inline_pairs():
    """fd_t('中文', 'English') is kept for old templates only: the app's own templates use _('中文')."""
    templates = (ROOT / "app" / "templates").rglob("*.html")
    inline = [str(p.relative_to(ROOT)) for p in templates if "fd_t(" in p.read_text()]
    assert not inline


def test_a_message_is_english_in_english_and_chinese_by_default(app, client_as):
    c = client_as("guard")
    page = c.get("/admin/nope/").get_data(as_text=True)
    assert "页面不存在" in page and "返回工作台" in page
    c.get("/language/en")
    page = c.get("/admin/nope/").get_data(as_text=True)
    assert "Page not found" in page and "Back to the dashboard" in page
    card = page.split('id="fd-error"')[1].split("</div>\n</div>")[0]
    assert not re.search(r"[\u4e00-\u9fff]", card), card
