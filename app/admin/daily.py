"""The printable day sheet a register may declare: its records of one day, e.g. the telecom sheet faxed daily."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import abort, request
from werkzeug.wrappers import Response

from app.admin.access import endpoint
from kernel.clock import start_of, today
from kernel.validators import business_day


@dataclass(frozen=True)
class DailySheet:
    date_column: str
    columns: tuple[str, ...]


class DailySheets:
    daily: DailySheet | None = None

    @endpoint("/daily/", "list")
    def daily_view(self) -> Response:
        if self.daily is None:
            abort(404)
        raw = request.args.get("date")
        day = business_day(raw) if raw else today()
        if day is None:
            abort(400)
        col = getattr(self.model, self.daily.date_column)
        start = start_of(day)
        query = self.get_query().filter(col >= start, col < start + timedelta(days=1))
        if "void" in (getattr(self.model, "states", None) or {}):
            query = query.filter(self.model.state != "void")  # 作废 is not on the day's sheet nor in its count
        rows = query.order_by(col).all()
        columns = [(c, self.column_labels.get(c, c)) for c in self.daily.columns]
        return self.render("admin/daily_sheet.html", rows=rows, day=day, columns=columns,
                           value=lambda obj, c: self._value({}, None, obj, c))
