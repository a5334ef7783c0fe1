"""Property-based tests (Hypothesis) where the input space is the point: the ID check digit, phone forms,
deadline arithmetic, numbering under many dates, scoping over random role/property assignments."""
import string
from datetime import date, datetime, timedelta
from types import SimpleNamespace

import pytest
from flask import g
from flask_login import login_user
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from wtforms.validators import ValidationError

from kernel import scoping, validators
from kernel.clock import start_of, today, travel, travel_to
from kernel.db import db
from kernel.deadlines import Deadline, describe_minutes, due_at, join_minutes, split_minutes
from kernel.i18n import T
from kernel.identity import Membership, Role, StaffUser
from kernel.numbering import next_value
from models.desk import RepairOrder
from tests.factories import make

# the small world (tests/conftest.py) only for a test that names it: these stay fast under `make mutate`
WORLD_WHEN_NAMED = True


# derandomized: the same examples every run, so a mutation run (`make mutate`) is repeatable
BASE = settings(derandomize=True, database=None, deadline=None, max_examples=60)
FIXTURE_OK = settings(BASE, suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=30)
digits17 = st.text(alphabet=string.digits, min_size=17, max_size=17)


def reference_check(body: str) -> str:
    """GB 11643 written apart from kernel.validators: weights 2^(17-i) mod 11, check (12 - sum) mod 11."""
    c = (12 - sum(int(d) * pow(2, 17 - i, 11) for i, d in enumerate(body)) % 11) % 11
    return "X" if c == 10 else str(c)


@BASE
@given(digits17)
def test_check_digit_matches_the_standard(body):
    assert validators.check_character(body) == reference_check(body)
    number = body + reference_check(body)
    assert validators.id_number_ok(number) and validators.id_number_ok(number.lower())
    wrong = next(c for c in "0123456789X" if c != reference_check(body))
    assert not validators.id_number_ok(body + wrong)


@BASE
@given(digits17, st.integers(0, 16), st.integers(1, 9))
def test_one_changed_digit_is_always_caught(body, pos, delta):
    number = body + reference_check(body)
    changed = number[:pos] + str((int(number[pos]) + delta) % 10) + number[pos + 1:]
    assert not validators.id_number_ok(changed)


@BASE
@given(st.text(max_size=20))
def test_masks_never_show_the_middle(value):
    masked = validators.mask_id(value)
    if not value:
        assert masked == ""
        return
    assert masked.startswith(value[:3]) and masked.endswith(value[-4:])
    assert masked.count("*") == max(len(value) - 7, 0) + value[:3].count("*") + value[-4:].count("*")
    four = validators.last_four(value)
    assert four.endswith(value[-4:]) and len(four) == len(value)
    assert four[:-4] == "*" * max(len(value) - 4, 0)


def phone_ok(v):
    try:
        validators.phone(None, SimpleNamespace(data=v))
        return True
    except ValidationError:
        return False


@BASE
@given(st.sampled_from("3456789"), st.text(alphabet=string.digits, min_size=9, max_size=9))
def test_every_mobile_form(second, rest):
    number = "1" + second + rest
    assert phone_ok(number) and phone_ok(f" {number} ")
    validators.mobile(None, SimpleNamespace(data=number))
    assert not phone_ok(number + "0")  # 12 digits
    assert not phone_ok(number[:-1]) or validators.LANDLINE.match(number[:-1])  # 10 digits is no mobile


@BASE
@given(st.sampled_from(["010", "021", "0755", "0571"]), st.sampled_from("23456789"),
       st.text(alphabet=string.digits, min_size=6, max_size=7), st.sampled_from(["-", ""]),
       st.sampled_from(["", "-1", "-1234"]))
def test_every_landline_form(area, first, rest, dash, ext):
    assert phone_ok(f"{area}{dash}{first}{rest}{ext}")
    assert phone_ok(f"{first}{rest}")
    assert not phone_ok(f"{area}-0{rest}")  # a local number never starts with 0 or 1
    assert not phone_ok(f"{area}{dash}{first}{rest}-12345")


@BASE
@given(st.integers(0, 366 * 24 * 60), st.booleans())
def test_minutes_split_and_join_round_trip(minutes, same_day):
    amount, unit = split_minutes(minutes, same_day)
    assert join_minutes(amount, unit) == minutes
    assert describe_minutes(minutes, same_day)
    if unit == "days":
        assert minutes % 1440 == 0
    elif unit == "hours":
        assert minutes % 60 == 0 and minutes % 1440
    elif unit == "minutes":
        assert minutes % 60 or minutes == 0


@FIXTURE_OK
@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 12, 31)),
       st.integers(0, 3 * 24 * 60), st.booleans())
def test_due_is_never_before_start_and_same_day_is_after_midnight(app, started, minutes, same_day):
    started = started.replace(microsecond=0)
    d = Deadline("prop.test", T("x", "x"), "s", "d", minutes=minutes, same_day=same_day)
    with app.app_context():
        due = due_at(d, started)
    if same_day:
        assert due == start_of(started.date()) + timedelta(days=1, minutes=minutes)
        assert due > started
    else:
        assert due == started + timedelta(minutes=minutes)


@FIXTURE_OK
@given(st.lists(st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31)), min_size=1, max_size=6))
def test_numbers_count_per_day_from_one(app, world, days):
    with app.app_context():
        conn = db.session.connection()
        seen = {}
        for day in days:
            seen[day] = seen.get(day, 0) + 1
            assert next_value(conn, world.a, "HY", day) == seen[day]
        db.session.rollback()


@settings(FIXTURE_OK, max_examples=8)
@given(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31)))
def test_a_record_number_names_its_property_and_day(app, world, when):
    with app.app_context():
        travel_to(when)
        o = make(RepairOrder, world.b)
        assert o.number == f"B-BX-{today():%Y%m%d}-0001"
        db.session.rollback()
        travel(timedelta(0))


ROLE_CODES = ["clerk", "cs_admin", "supervisor", "manager", "guard", "regional", "it"]


@settings(FIXTURE_OK, max_examples=25)
@given(st.lists(st.tuples(st.sampled_from(["a", "b"]), st.sampled_from(ROLE_CODES)), max_size=5, unique=True),
       st.sampled_from(["a", "b", "all", None, "x"]))
def test_roles_never_leak_across_properties(app, world, assignments, chosen):
    with app.test_request_context("/"):
        roles = {r.code: r for r in db.session.scalars(select(Role))}
        wide = {code for code, r in roles.items() if r.company_wide}
        pid = {"a": world.a, "b": world.b}
        u = StaffUser(username="prop_user", full_name="p", password_hash="x")
        db.session.add(u)
        db.session.flush()
        for prop, code in assignments:
            db.session.add(Membership(user_id=u.id, property_id=pid[prop], role_id=roles[code].id))
        db.session.flush()
        login_user(u)
        expected = {p: {c for q, c in assignments if q == p} for p in ("a", "b")}
        assert scoping.user_property_ids() == sorted({pid[p] for p, _ in assignments})
        assert scoping.roles_at(world.a) == expected["a"] and scoping.roles_at(world.b) == expected["b"]
        assert scoping.roles_at(None) == {c for _, c in assignments if c in wide}
        assert scoping.is_company_wide() == any(c in wide for _, c in assignments)
        value = {"a": world.a, "b": world.b, "all": "all", None: None, "x": 999}[chosen]
        accepted = scoping.choose_property(value)
        holds = (value in scoping.user_property_ids()) or (value == "all" and scoping.is_company_wide())
        assert accepted == holds
        g.pop("property_id", None)
        g.pop("roles", None)
        current = scoping.current_property_id()
        ids = scoping.user_property_ids()
        if accepted:
            assert current == (None if value == "all" else value)
        else:
            assert current == (ids[0] if ids else -1)
        assert scoping.current_roles() == scoping.roles_at(current)
        row = SimpleNamespace(property_id=world.b)
        assert scoping.in_scope(row) == (current is None or current == world.b)
        assert scoping.in_scope(row, world.b) and not scoping.in_scope(row, world.a)
        sql = str(scoping.scope(select(RepairOrder.id), RepairOrder))
        assert ("property_id" in sql) == (current is not None)
        db.session.rollback()
        g.pop("memberships", None)
        g.pop("property_id", None)
        g.pop("roles", None)


def test_scope_without_property_and_with_a_scope_clause(app, world):
    with app.test_request_context("/"):
        u = db.session.get(StaffUser, world.users["clerk"])
        login_user(u)
        assert scoping.current_property_id() == world.a
        assert scoping.current_property_id() == world.a  # cached on g
        plain = select(Role.id)
        assert scoping.scope(plain, Role) is plain  # no property column: unchanged
        assert "membership" in str(scoping.scope(select(StaffUser.id), StaffUser))
        other = db.session.get(StaffUser, world.users["clerk_b"])
        assert scoping.in_scope(u) and not scoping.in_scope(other)
        assert scoping.in_scope(SimpleNamespace()) is True
        assert scoping.choose_property(str(world.a)) is False  # a string id is no choice
        assert scoping.choose_property(world.b) is False


def test_anonymous_has_no_roles_and_no_property(app, world):
    with app.test_request_context("/"):
        assert scoping.user_property_ids() == [] and scoping.current_roles() == frozenset()
        assert scoping.current_property_id() == -1


@pytest.mark.parametrize("value, ok", [
    ("13800138000", True), ("19912345678", True), ("12800138000", False), ("138001380001", False),
    ("0755-88886666", True), ("075588886666", True), ("88886666", True), ("8888666", True), ("0755-8888666", True),
    ("010-62345678-8001", True), ("0755-18886666", False), ("1380013800", False), ("+8613800138000", False),
    ("138 0013 8000", False), ("", True),
])
def test_phone_table(value, ok):
    assert phone_ok(value) is ok


@pytest.mark.parametrize("value, ok", [
    ("11010519491231002X", True), ("11010519491231002x", True), ("110105194912310021", False),
    ("11010519491231002", False), ("11010519491231002XX", False), ("440304199001010011", True),
    ("44030419900101001x", False), (" 11010519491231002X ", False),
])
def test_id_number_table(value, ok):
    assert validators.id_number_ok(value) is ok
