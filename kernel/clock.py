"""One clock for the whole app: naive local time of the desk (Asia/Shanghai by default).

The server owns every time a rule depends on; tests move this clock with `travel()`, never the system's.
"""
import os
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

ZONE = ZoneInfo(os.environ.get("FRONTDESK_TZ", "Asia/Shanghai"))
_offset: timedelta = timedelta(0)  # tests move the clock; never set in production


def now() -> datetime:
    return (datetime.now(ZONE) + _offset).replace(tzinfo=None, microsecond=0)


def today() -> date:
    return now().date()


def start_of(day: date) -> datetime:
    return datetime.combine(day, time.min)


def travel(delta: timedelta) -> None:
    global _offset
    _offset = delta


def travel_to(moment: datetime) -> None:
    """Move the clock so that now() reads `moment`, wherever an earlier travel() left it.

    `travel(moment - now())` is wrong after a first travel: now() already carries the old offset, which the new
    one replaces rather than adds to, so the clock lands off by the old offset (a test failed only at night).
    """
    global _offset
    _offset = moment - datetime.now(ZONE).replace(tzinfo=None, microsecond=0)


def offset() -> timedelta:
    return _offset
