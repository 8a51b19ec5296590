"""The periodic report a centre sends upward (by field: carried over, received, resolved early, on
time or late, ended without a result, in progress at the end within the deadline or overdue), from
the kept days and the dossiers' indexed times.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from ... import sql
from ...models import Centre, Procedure, ProcedureVersion, utcnow
from ..errors import NotFound, shown
from .read import on_the_spot
from .scope import bounds, centres_for, covers, period, scope_clause

REPORT_COLUMNS = ("field", "carried_over", "received_online", "received_other", "resolved", "early", "on_time",
                  "late", "without_deadline", "ended", "pending", "pending_in_time", "pending_overdue")
REPORT_HEADINGS = ("Lĩnh vực", "Kỳ trước chuyển qua", "Mới tiếp nhận trực tuyến", "Mới tiếp nhận trực tiếp, bưu chính",
                   "Đã giải quyết", "Trước hạn", "Đúng hạn", "Quá hạn", "Không quy định thời hạn",
                   "Dừng, không tiếp nhận, rút", "Đang giải quyết", "Trong hạn", "Quá hạn (đang giải quyết)")


def field_label(metadata: dict) -> str:
    """A procedure's field (lĩnh vực) as the report names it: the Vietnamese in "civil status (hộ
    tịch)", capitalised; "Khác" when the record names none."""
    text = str((metadata or {}).get("field") or "").strip()
    if "(" in text and text.endswith(")"):
        text = text[text.rindex("(") + 1:-1].strip()
    return text[:1].upper() + text[1:] if text else "Khác"


def _pending_at(centre_ids, end: date, at: datetime) -> dict:
    """procedure -> dossiers in progress at the start of day `end` (or now, `at`, if that is
    earlier): received before it, with neither a result nor an ending by then. Counted as received
    minus resolved (the kept days before it) minus ended without a result (the dossiers' index)."""
    kept, params = scope_clause(centre_ids)
    out = {procedure_id: int(received or 0) - int(resolved or 0) for procedure_id, received, resolved in sql.run(
        f'SELECT "procedure_id", SUM("received"), SUM("resolved") FROM "dayfigure" WHERE {kept} AND "day" < ? '
        'GROUP BY "procedure_id"', params + [end])}
    scope, params = scope_clause(centre_ids, None, "d.")
    for procedure_id, ended in sql.run(  # through the (centre, ended_at) index, the few that ended
            'SELECT d."procedure_id", SUM(CASE WHEN d."resolved_at" IS NULL THEN 1 ELSE 0 END) FROM "dossier" d '
            f'WHERE {scope} AND d."ended_at" < ? GROUP BY d."procedure_id"', params + [at]):
        out[procedure_id] = out.get(procedure_id, 0) - int(ended or 0)
    for procedure_id, taken_over in sql.run(  # the old system's open dossiers, in progress from the switch-over
            'SELECT d."procedure_id", COUNT(*) FROM "dossier" d WHERE d."switch_over_at" <= ? '
            f'AND d."received_at" < d."switch_over_at" AND {scope} GROUP BY d."procedure_id"', [at] + params):
        out[procedure_id] = out.get(procedure_id, 0) + int(taken_over or 0)
    return out


def _overdue_at(centre_ids, at: datetime) -> dict:
    """procedure -> of the dossiers in progress at `at`, those past their promised instant (as it
    stands now) and not waiting on the citizen then. Read through the (centre, resolved_at) index:
    the dossiers without a result, and those whose result came after `at`."""
    scope, params = scope_clause(centre_ids, None, "d.")
    out = {}
    for condition, extra in (('d."resolved_at" >= ?', [at]), ('d."resolved_at" IS NULL', [])):
        for procedure_id, overdue in sql.run(  # the other conditions in the sum: the planner keeps to the index
                'SELECT d."procedure_id", SUM(CASE WHEN d."received_at" < ? AND d."due_at" < ? '
                'AND (d."ended_at" IS NULL OR d."ended_at" >= ?) AND NOT (d."paused_at" IS NOT NULL AND d."paused_at" < ?) '
                'AND (d."switch_over_at" IS NULL OR d."switch_over_at" <= ?) '
                f'THEN 1 ELSE 0 END) FROM "dossier" d WHERE {scope} AND {condition} GROUP BY d."procedure_id"',
                [at, at, at, at, at] + params + extra):
            out[procedure_id] = out.get(procedure_id, 0) + int(overdue or 0)
    return out


def periodic_report(centre_ids: list[int], start: date, end: date, now: datetime | None = None) -> dict:
    """The report of the period by field: dossiers carried over from before it, received (online or
    not), resolved (early, on time, late), ended without a result, and in progress at its end
    (within the deadline or overdue). Each row adds up: carried over + received - resolved - ended
    = in progress at the end."""
    now = now or utcnow()
    lo, hi = bounds(start, end)
    rows = _Rows(_fields(centre_ids))
    _add_kept_days(rows, centre_ids, start, end)
    _add_ended(rows, centre_ids, lo, hi)
    for procedure_id, pending in _pending_at(centre_ids, start, min(lo, now)).items():
        if pending:
            rows.of(procedure_id)["carried_over"] += pending
    overdue = _overdue_at(centre_ids, min(hi, now))
    for procedure_id, pending in _pending_at(centre_ids, end, min(hi, now)).items():
        if pending or overdue.get(procedure_id):
            r = rows.of(procedure_id)
            r["pending"] += pending
            r["pending_overdue"] += overdue.get(procedure_id, 0)
            r["pending_in_time"] += pending - overdue.get(procedure_id, 0)
    lines = sorted(rows.by_field.values(), key=lambda r: r["field"])
    total = {c: sum(r[c] for r in lines) for c in REPORT_COLUMNS[1:]} | {"field": "Tổng cộng"}
    return {"from": start.isoformat(), "to": (end - timedelta(days=1)).isoformat(), "rows": lines, "total": total,
            "on_the_spot": on_the_spot(centre_ids, start, end)}


def _fields(centre_ids) -> dict:
    """procedure -> its field as the report names it, from its latest version's record."""
    versions = (ProcedureVersion.select(ProcedureVersion.procedure, ProcedureVersion.metadata)
                .join(Procedure, on=((ProcedureVersion.procedure == Procedure.id)
                                     & (ProcedureVersion.version == Procedure.latest_version)))
                .where(Procedure.centre.in_(centre_ids)))
    return {v.procedure_id: field_label(v.metadata) for v in versions}


class _Rows:
    """The report's rows being added up, one per field (procedures without one under "Khác")."""

    def __init__(self, field_of: dict):
        self.field_of, self.by_field = field_of, {}

    def of(self, procedure_id) -> dict:
        field_name = self.field_of.get(procedure_id, "Khác")
        return self.by_field.setdefault(field_name, dict.fromkeys(REPORT_COLUMNS[1:], 0) | {"field": field_name})


def _add_kept_days(rows: _Rows, centre_ids, start: date, end: date) -> None:
    """Received (online or not) and resolved (early, on time, late, without a deadline) in the period,
    from the kept days."""
    kept, kept_params = scope_clause(centre_ids)
    for procedure_id, received, online, resolved, early, on_time, late, without_deadline in sql.run(
            'SELECT "procedure_id", SUM("received"), SUM("online"), SUM("resolved"), SUM("early"), SUM("on_time"), '
            f'SUM("late"), SUM("without_deadline") FROM "dayfigure" WHERE {kept} AND "day" >= ? AND "day" < ? '
            'GROUP BY "procedure_id"', kept_params + [start, end]):
        r = rows.of(procedure_id)
        r["received_online"] += int(online)
        r["received_other"] += int(received) - int(online)
        r["resolved"] += int(resolved)
        r["early"] += int(early)
        r["on_time"] += int(on_time) - int(early)
        r["late"] += int(late)
        r["without_deadline"] += int(without_deadline)


def _add_ended(rows: _Rows, centre_ids, lo: datetime, hi: datetime) -> None:
    """Ended without a result in the period, through the (centre, ended_at) index."""
    scope, params = scope_clause(centre_ids, None, "d.")
    for procedure_id, ended in sql.run(
            'SELECT d."procedure_id", SUM(CASE WHEN d."resolved_at" IS NULL THEN 1 ELSE 0 END) FROM "dossier" d '
            f'WHERE {scope} AND d."ended_at" >= ? AND d."ended_at" < ? GROUP BY d."procedure_id"', params + [lo, hi]):
        if ended:
            rows.of(procedure_id)["ended"] += int(ended)


def report_for(actor, code: str | None, start: date | None, end: date | None, today: date) -> dict:
    """The periodic report of a centre (with the centres under it) for a signed-in actor whose
    scope covers it; by default last month."""
    ids = centres_for(code or Centre.get_by_id(actor.centre_id).code)
    if not covers(actor, ids):
        raise NotFound(f"no centre {shown(code)}")
    if start is None and end is None:
        end = today.replace(day=1) - timedelta(days=1)
        start = end.replace(day=1)
    start, end = period(start, end, today)
    centre = Centre.get(Centre.id == ids[0])
    return periodic_report(ids, start, end) | {"centre": centre.code, "name": centre.name}
