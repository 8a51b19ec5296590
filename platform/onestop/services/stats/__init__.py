"""Statistics of the dossiers, one job per module:

* `definition` — what each figure of docs/statistics.md counts, counted from the dossiers' rows
  themselves (`figures_from_rows`, the definition the kept figures are checked against);
* `buckets` — the hours of a step as a histogram, so that the 9-in-10 figure adds up over days;
* `counters` — the kept figures by day (and the steps by month), counted inside the transaction of
  the event that makes them, written at its end in the lock order (docs/architecture.md);
* `recount` — the kept figures recounted from the dossiers (a migration, a repair);
* `read` — the figures of a period added up from the kept rows, the API's report, the scorecard,
  the monthly series and the national roll-up;
* `public` — the public dashboard and its open data rows;
* `periodic` — the periodic report a centre sends upward;
* `decision766` — the index of Decision 766/QĐ-TTg;
* `queue` — the counter floor's queue: waits, times at the counter, tickets per hour;
* `scope` — the period, the centres and the procedure a figure is counted over.

A period is [start, end) of local dates (Vietnam's time); figures are for a set of centres, and
optionally one procedure. The names other layers use are re-exported here, so that
`from onestop.services import stats` then `stats.figures(...)` reads as before.
"""

from .buckets import Tally, bound, bucket
from .counters import FIGURE_TABLES, centre_of, count, count_rating, count_steps, fold, fold_now_and_then
from .decision766 import INDEX_GROUPS, index
from .definition import COUNTS, LEVELS, RATED, Figures, figures_from_rows, resolution
from .periodic import REPORT_COLUMNS, REPORT_HEADINGS, field_label, periodic_report, report_for
from .public import CSV_COLUMNS, Dashboard, csv_rows, dashboard
from .queue import queue_figures, queue_report
from .read import (
    _months_and_days,  # noqa: F401 (how a period is split; its test reads it here)
    by_province,
    figures,
    monthly,
    on_the_spot,
    report,
    scorecard,
)
from .recount import rebuild, roll_up_months
from .scope import MAX_DAYS, centres_for, local_day, period, procedure_ids

__all__ = [
    "COUNTS", "CSV_COLUMNS", "FIGURE_TABLES", "INDEX_GROUPS", "LEVELS", "MAX_DAYS", "RATED", "REPORT_COLUMNS",
    "REPORT_HEADINGS", "Dashboard", "Figures", "Tally", "bound", "bucket", "by_province",
    "centre_of", "centres_for", "count", "count_rating", "count_steps", "csv_rows", "dashboard", "field_label", "figures",
    "figures_from_rows", "fold", "fold_now_and_then", "index", "local_day", "monthly", "on_the_spot", "period", "periodic_report", "procedure_ids", "queue_figures", "queue_report", "rebuild",
    "report", "report_for", "resolution", "roll_up_months", "scorecard",
]
