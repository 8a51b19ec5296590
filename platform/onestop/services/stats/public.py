"""The public dashboard of a centre (this month, this year, the last twelve months and the Decision
766 index) and its monthly series as open data rows (the CSV, spreadsheet and JSON downloads)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from ...models import Centre
from .decision766 import index
from .definition import Figures
from .read import figures, monthly, on_the_spot
from .scope import centres_for


@dataclass
class Dashboard:
    centre: Centre
    month: Figures
    year: Figures
    series: list  # [(first day of the month, Figures)], the last twelve months
    index: list = field(default_factory=list)  # Decision 766 groups, this month
    on_the_spot: dict = field(default_factory=dict)  # sittings decided on the spot, this month


def dashboard(code: str | None, today: date) -> Dashboard:
    """The public dashboard of a centre (with the centres under it): this month, this year, and the
    last twelve months."""
    ids = centres_for(code)
    centre = Centre.get(Centre.code == (code or "default"))
    tomorrow = today + timedelta(days=1)
    month = figures(ids, today.replace(day=1), tomorrow)
    year = figures(ids, date(today.year, 1, 1), tomorrow, live=False)
    year.pending_now, year.overdue_now = month.pending_now, month.overdue_now
    return Dashboard(centre, month, year, monthly(ids, 12, today),
                     index(ids, today.replace(day=1), tomorrow, month),
                     on_the_spot(ids, today.replace(day=1), tomorrow))


CSV_COLUMNS = ("month", "received", "online", "resolved", "early", "on_time", "late", "without_deadline",
               "on_time_rate", "returned", "not_accepted", "supplemented", "satisfaction_rate")


def csv_rows(board: Dashboard) -> list[list]:
    """The dashboard's monthly series as open data rows (the CSV and JSON downloads)."""
    rows = []
    for first, f in board.series:
        data = f.as_dict(public=True)
        rows.append([first.strftime("%Y-%m")] + [data[c] for c in CSV_COLUMNS[1:]])
    return rows
