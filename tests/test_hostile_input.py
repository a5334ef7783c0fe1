"""Odd and hostile requests on every register end in a page or a 4xx, never a 500."""
import pytest

from tests.test_permission_matrix import REGISTERS

PROBES = [
    "/?page=-1", "/?page=abc", "/?page=99999999", "/?sort=999", "/?sort=x&desc=1", "/?page_size=100000",
    "/?search=%25%27%22%3C%3E%5C", "/?search=" + "9" * 600, "/?search=_%25", "/?flt0_999=x", "/?flt0_0=",
    "/?overdue=2", "/details/?id=abc", "/details/?id=-1", "/details/?id=99999999", "/details/",
    "/edit/?id=abc", "/edit/?id=99999999", "/export/pdf/", "/export/csv/?search=%00", "/ajax/lookup/?name=nope&query=x",
    "/daily/?date=2026-13-45", "/print/?id=abc",
]


@pytest.mark.parametrize("register", REGISTERS)
def test_no_500_on_odd_urls(app, world, client_as, register):
    c = client_as("manager")  # the widest reading role at A
    it = client_as("it")
    for who in (c, it):
        for probe in PROBES:
            r = who.get(f"/admin/{register}{probe}")
            assert r.status_code < 500, f"{register}{probe}: {r.status_code}"
        for path, data in [("/transition/nope/", {"id": "1"}), ("/transition/nope/", {}),
                           ("/action/", {"action": "nope"}),
                           ("/action/", {"action": "delete", "rowid": ["abc", "-1", "1e9"]}),
                           ("/delete/", {"id": "abc"}),
                           ("/ajax/update/", {"list_form_pk": "abc"}), ("/new/", {"x" * 50: "y" * 100000}),
                           ("/new/", {"name": ["ok", "a\x00b"]})]:
            r = who.post(f"/admin/{register}{path}", data)
            assert r.status_code < 500, f"{register}{path}: {r.status_code}"
