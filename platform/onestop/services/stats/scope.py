"""What a figure is counted over: the period asked for (local dates, Vietnam's time), the centres
(a centre and those under it) and optionally a procedure, and the SQL conditions that select them."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from ...models import Centre, Procedure
from ...status import ENDED, WITH_RESULT
from ...workdays import to_local, to_utc
from ..centres import scope_ids
from ..errors import Invalid, NotFound, shown

MAX_DAYS = 3 * 366 + 1

# In progress: neither a result nor an ending yet (an incident's dossier too); the state index finds them.
PENDING = ('d."state" IN (\'active\', \'error\') AND d."status" NOT IN ('
           + ", ".join(f"'{s.value}'" for s in WITH_RESULT + ENDED) + ")")


def period(start: date | None, end: date | None, today: date) -> tuple[date, date]:
    """The period asked for (inclusive dates), as [start, end); default: this month so far."""
    start = start or today.replace(day=1)
    end = (end or today) + timedelta(days=1)
    if end <= start or (end - start).days > MAX_DAYS:
        raise Invalid(f"the period runs from a date to a later one, at most {MAX_DAYS} days")
    return start, end


def next_month(day: date) -> date:
    """The first day of the month after `day`'s."""
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """[start, end) of local dates as instants in UTC, as the dossiers' times are stored."""
    return to_utc(datetime.combine(start, time())), to_utc(datetime.combine(end, time()))


def local_day(utc: datetime) -> date:
    """The local (Vietnam) date of an instant stored in UTC: the day a figure counts on."""
    return to_local(utc).date()


def centres_for(code: str | None) -> list[int]:
    """A centre and the centres under it (a province and its communes; the nation and everything)."""
    centre = Centre.get_or_none(Centre.code == (code or "default"))
    if centre is None:
        raise NotFound(f"no centre {shown(code)}")
    ids, frontier = [centre.id], [centre.id]
    while frontier:
        frontier = [c for (c,) in Centre.select(Centre.id).where(Centre.parent.in_(frontier)).tuples()]
        ids += frontier
    return ids


def procedure_ids(centre_ids, code: str | None) -> list[int] | None:
    """The ids of the procedure `code` in those centres; None (every procedure) without a code."""
    if not code:
        return None
    found = [p for (p,) in Procedure.select(Procedure.id).where(
        Procedure.centre.in_(centre_ids) & (Procedure.code == code)).tuples()]
    if not found:
        raise NotFound(f"no procedure {shown(code)}")
    return found


def covers(actor, centre_ids) -> bool:
    """Whether the actor's scope holds every one of those centres."""
    scope = scope_ids(actor)
    return scope is None or set(centre_ids) <= scope


def in_clause(column, values) -> tuple[str, list]:
    """`column IN (?, ...)` and its parameters."""
    return f'{column} IN ({",".join("?" * len(values))})', list(values)


def scope_clause(centre_ids, procedures=None, prefix="") -> tuple[str, list]:
    """The SQL condition (and its parameters) of rows of those centres and procedures. Dossiers
    (prefix "d.") count at the centre that received them, even once a merger handed them over."""
    scope, params = in_clause(f'{prefix}"centre_id"', centre_ids)
    if prefix == "d.":
        received, more = in_clause('d."received_by_id"', centre_ids)
        scope, params = f'((d."received_by_id" IS NULL AND {scope}) OR {received})', params + more
    if procedures is not None:
        clause, more = in_clause(f'{prefix}"procedure_id"', procedures)
        scope, params = f"{scope} AND {clause}", params + more
    return scope, params


def quoted(names) -> str:
    """Column names, quoted and comma-separated."""
    return ", ".join(f'"{n}"' for n in names)
