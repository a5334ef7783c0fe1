"""Field checks with Chinese-first messages; referenced by name from a column's `info` (validators=[...])."""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, Date, DateTime, Integer, Numeric
from wtforms.validators import StopValidation, ValidationError

from kernel.i18n import T

_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
_CHECK = "10X98765432"
MOBILE = re.compile(r"^1[3-9]\d{9}$")
LANDLINE = re.compile(r"^(0\d{2,3}-?)?[2-9]\d{6,7}(-\d{1,4})?$")


def id_number_ok(value: str) -> bool:
    """GB 11643-1999: 17 digits and an ISO 7064 MOD 11-2 check character."""
    if not re.fullmatch(r"\d{17}[\dXx]", value or ""):
        return False
    return check_character(value[:17]) == value[17].upper()


def check_character(body: str) -> str:
    """The 18th character of an ID number whose first 17 digits are `body`."""
    return _CHECK[sum(int(d) * w for d, w in zip(body, _WEIGHTS, strict=False)) % 11]


def mask_id(value: str | None) -> str:
    if not value:
        return ""
    return value[:3] + "*" * max(len(value) - 7, 0) + value[-4:]


def last_four(value: str | None) -> str:
    """The form on a guard's printed copy: only the last four characters (issue #20)."""
    if not value:
        return ""
    return "*" * max(len(value) - 4, 0) + value[-4:]


def id_number(form: Any, field: Any) -> None:
    if field.data and not id_number_ok(field.data.strip()):
        raise ValidationError(
            str(T("身份证号码无效（18位，校验位不符）", "Invalid ID number (18 characters, check digit)"))
        )


def mobile(form: Any, field: Any) -> None:
    if field.data and not MOBILE.match(field.data.strip()):
        raise ValidationError(str(T("手机号码应为11位，以13-19开头", "A mobile number has 11 digits starting 13-19")))


def phone(form: Any, field: Any) -> None:
    v = (field.data or "").strip()
    if v and not (MOBILE.match(v) or LANDLINE.match(v)):
        raise ValidationError(str(T("电话应为手机号或固定电话（如 0755-88886666）",
                                    "Enter a mobile or landline number (e.g. 0755-88886666)")))


_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
EMAIL = re.compile(rf"^[A-Za-z0-9._%+-]+@{_LABEL}(?:\.{_LABEL})+$")


def email_ok(value: str | None) -> bool:
    """One plain address (name@host.domain): no display name, no list, no spaces, no header characters."""
    v = (value or "").strip()
    return len(v) <= 200 and bool(EMAIL.match(v))


def email(form: Any, field: Any) -> None:
    if field.data and not email_ok(field.data):
        raise ValidationError(str(T("电子邮箱格式不正确（例如 isp@example.com），只填一个地址",
                                    "Invalid e-mail address (e.g. isp@example.com); one address only")))


def mask_phone(value: str | None) -> str:
    """A phone number in a log line: the last four digits only."""
    v = value or ""
    return "*" * max(len(v) - 4, 0) + v[-4:]


def required(form: Any, field: Any) -> None:
    """A value the form must carry even though the column may later be erased (retention)."""
    if field.data in (None, "") or (isinstance(field.data, str) and not field.data.strip()):
        raise ValidationError(str(T("必填", "Required")))


def non_negative(form: Any, field: Any) -> None:
    if field.data is not None and Decimal(str(field.data)) < 0:
        raise ValidationError(str(T("不能为负数", "Must not be negative")))


def positive(form: Any, field: Any) -> None:
    if field.data is not None and Decimal(str(field.data)) <= 0:
        raise ValidationError(str(T("必须大于零", "Must be greater than zero")))


BY_NAME = {"id_number": id_number, "mobile": mobile, "phone": phone, "required": required, "email": email,
           "non_negative": non_negative, "positive": positive}


# Dates and times a desk record may carry: a typo like 0026 or 20266 is refused, and arithmetic never overflows.
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2100, 12, 31)


def business_day(value: str | None) -> date | None:
    """A date from a URL or form argument within the business range, or None when absent or out of range."""
    try:
        day = date.fromisoformat((value or "").strip())
    except ValueError:
        return None
    return day if FIRST_DAY <= day <= LAST_DAY else None

INT_MIN, INT_MAX = -(2**31), 2**31 - 1  # PostgreSQL integer; SQLite would take more, the desk never needs it


class Within:
    """The bounds a column's type allows (or its `bounds=` hint narrows), checked before any other validator.

    Declared once, for every form of every register: money finite and within its precision, integers within
    the column, dates and times within the business range. NaN and Infinity stop the chain here, so no
    later comparison can raise.
    """

    def __init__(self, low: Any, high: Any, message: T):
        self.low, self.high, self.message = low, high, message

    def __call__(self, form: Any, field: Any) -> None:
        value = field.data
        if value is None or value == "":
            return
        if isinstance(value, Decimal) and not value.is_finite():
            raise StopValidation(str(T("请输入有效的数字", "Enter a valid number")))
        day = value.date() if hasattr(value, "date") and callable(value.date) else value
        compare = day if isinstance(self.low, date) else value
        if (self.low is not None and compare < self.low) or (self.high is not None and compare > self.high):
            raise StopValidation(str(self.message))


def bounds_for(column: Column) -> Within | None:
    """The `Within` validator of a column, from its type and an optional `bounds=(low, high)` hint."""
    low, high = column.info.get("bounds", (None, None))
    t = column.type
    if isinstance(t, Integer):
        low, high = (
            max(low if low is not None else INT_MIN, INT_MIN),
            min(high if high is not None else INT_MAX, INT_MAX),
        )
    elif isinstance(t, Numeric) and t.precision:
        limit = Decimal(10) ** (t.precision - (t.scale or 0)) - Decimal(1).scaleb(-(t.scale or 0))
        low, high = max(low if low is not None else -limit, -limit), min(high if high is not None else limit, limit)
    elif isinstance(t, (Date, DateTime)):
        low, high = FIRST_DAY, LAST_DAY
    else:
        return None
    return Within(low, high, T(f"应在 {low} 至 {high} 之间", f"Must be between {low} and {high}"))
