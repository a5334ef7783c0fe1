"""Walk 7: every page reachable from every role's menu, in a real browser.

In Chinese no visible English word may appear outside an allow-list (numbers, record numbers, codes people
typed, "IT"); in English no Chinese may appear in the app's own words (labels, headings, buttons, menus;
data people typed, such as names and addresses, stays as typed). Any 4xx/5xx or console error fails.
"""
import re

import pytest

from seeds.demo import DEMO_USERS
from tests.browser import ARTIFACTS

ROLES = [u for u, _, _ in DEMO_USERS] + ["regional"]
ALLOWED_WORDS = {
    "IT",
    "QR",
    "CSV",
    "XLSX",
    "ID",
    "PDF",
    "KB",
    "MB",
}  # the language switch (#fd-lang) names the other language
# what people typed or the system numbered: record numbers, fee/deadline/shift codes, logins, receipts
DATA_CELLS = ("#fd-lang", "td.col-code", "td.col-username", "td.col-receipt_no", "td.col-tracking_no", "td.col-account",
              "td.col-address", "td.col-card_no", "td.col-fee_item", ".fd-data", "#fd-history td:nth-child(4)")
ASCII_DATA = re.compile(r"\b[A-Z0-9]+(?:-[A-Z0-9]+)+\b"     # record, receipt and unit numbers: A-FX-20261128-0001
                        r"|\b[A-Z]{1,4}\d{4,}\b"             # tracking numbers: SF1234567890
                        r"|\b[0-9a-f]{12,}\b|[\w.-]+\.(?:jpe?g|png|webp|pdf)\b"  # a file's hash and uploaded name
                        r"|\b\d[\d\-:./]*\b|[\w.+-]+@[\w.-]+|(?<!\w)/[\w/.?=&%-]+")  # numbers, e-mail, paths
ENGLISH_WORD = re.compile(r"[A-Za-z]{2,}")
CHINESE = re.compile(r"[\u3400-\u9fff\u3000-\u303f\uff00-\uffef]")
# in English mode, where text people typed is shown (cells, the user's name, the property's name, dropdown data,
# a chart's series named after a property)
ZH_DATA = ("#fd-lang", "td", ".navbar-text", "form.fd-prop", ".select2-container", "select", "option", ".fd-data",
           "#verdict", ".card-pass", "textarea", "input[type=text]", ".fd-chart .legend")

COLLECT = """(skip) => {
  const out = [];
  const shown = el => el.getClientRects().length && getComputedStyle(el).visibility !== 'hidden';
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const el = walker.currentNode.parentElement;
    if (!el || ['SCRIPT', 'STYLE', 'NOSCRIPT', 'TEMPLATE'].includes(el.tagName)) continue;
    if ((skip && el.closest(skip)) || !shown(el)) continue;
    const t = walker.currentNode.textContent.trim();
    if (t) out.push(t);
  }
  for (const el of document.querySelectorAll('[placeholder], [title], select, input[type=submit]')) {
    if ((skip && el.closest(skip)) || !shown(el)) continue;
    if (el.tagName === 'SELECT') {  // a select2 shows its own text; its hidden <select> is not seen
      const hidden = el.matches('[data-role^=select2], .select2-offscreen');
      if (!hidden && el.selectedOptions[0]) out.push(el.selectedOptions[0].text);
      continue;
    }
    for (const a of ['placeholder', 'title']) if (el.getAttribute(a)) out.push(el.getAttribute(a));
    if (el.type === 'submit' && el.value) out.push(el.value);
  }
  document.title && out.push(document.title);
  return out;
}"""


def english_words(texts):
    found = set()
    for t in texts:
        for w in ENGLISH_WORD.findall(ASCII_DATA.sub(" ", t)):
            if w not in ALLOWED_WORDS:
                found.add(w)
    return found


def chinese_bits(texts):
    return {t for t in texts if CHINESE.search(t)}


def menu_links(p):
    hrefs = p.page.eval_on_selector_all(".navbar a[href]", "els => els.map(e => e.getAttribute('href'))")
    return sorted({h for h in hrefs if h.startswith("/admin") or h.startswith("/verify")})


def first_reader(register, roles):
    """The first of `roles` that lists `register`: it alone opens that register's forms and details in a sweep."""
    from kernel import permissions
    for role in roles:
        held = {"manager", "regional"} if role == "regional" else {role}
        if permissions.allowed(held, register, "list"):
            return role
    return None


def more_links(p, seen_registers, roles):
    """From a list page: its create form and its first record's details, once per register over all sweeps."""
    register = p.page.url.split("/admin/", 1)[-1].split("/", 1)[0]
    if not register or register in seen_registers or first_reader(register, roles) != p.username:
        return []
    seen_registers.add(register)
    hrefs = p.page.eval_on_selector_all(
        "a[href*='/new/'], a[href*='/details/']", "els => els.map(e => e.getAttribute('href'))")
    out, kinds = [], set()
    for h in hrefs:
        kind = "new" if "/new/" in h else "details"
        if kind not in kinds and h.startswith(f"/admin/{register}/"):
            kinds.add(kind)
            out.append(h)
    return out


def note(username, language, pages):
    """The pages swept per role, kept beside the screenshots (CI prints the folder when a run fails)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with open(ARTIFACTS / "sweep-pages.txt", "a") as f:
        f.write(f"{username} {language} {len(pages)}\n")


def sweep(p, roles, english=False):
    """Open the dashboard, every menu page, and (once per register) a create form and a details page."""
    problems, pages, seen = [], [], set()
    # the dashboard, the pass check every role has (its panel is on the dashboard), then the menu
    queue = ["/admin/", "/verify/"] + [h for h in menu_links(p) if h not in ("/admin/", "/verify/")]
    while queue:
        path = queue.pop(0)
        response = p.go(path)
        pages.append(path)
        if response.status >= 400:
            problems.append(f"{path}: HTTP {response.status}")
        texts = p.page.evaluate(COLLECT, ", ".join(ZH_DATA if english else DATA_CELLS))
        bad = chinese_bits(texts) if english else english_words(texts)
        if bad:
            problems.append(f"{path}: {sorted(bad)[:12]}")
        if "/admin/" in path and path.count("/") == 3 and "?" not in path:
            queue += more_links(p, seen, roles)
    if problems:
        p.shot("problems")
    return pages, problems


@pytest.mark.parametrize("username", ROLES)
def test_every_menu_page_is_chinese(person, username, record_property):
    p = person(username)
    pages, problems = sweep(p, ROLES)
    record_property("pages_swept", len(pages))
    note(username, "zh-CN", pages)
    assert not problems, "\n".join(problems)
    p.check_clean()


ENGLISH_ROLES = ["supervisor", "it", "guard", "clerk"]


@pytest.mark.parametrize("username", ENGLISH_ROLES)
def test_every_menu_page_is_english_in_english(person, username):
    p = person(username, english=True)
    pages, problems = sweep(p, ENGLISH_ROLES, english=True)
    note(username, "en", pages)
    assert not problems, "\n".join(problems)
    p.check_clean()
