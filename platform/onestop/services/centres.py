"""Centres as data: the nation, its provinces and their communes, created from the national list of
administrative units (the `vietnam-provinces` package), listed, selected for a rollout, and the
scope each actor sees.

Codes: the nation is "VN", a province "P22", a commune or ward "W07090" (the unit's official
code), the embedded setup's one centre "default".
"""

from dataclasses import dataclass

from peewee import fn

from .. import sql
from ..db import write_transaction
from ..models import Centre, local_today, utcnow
from . import audit, codes, runtime
from .errors import Conflict, Invalid, NotFound, shown

NATION = "VN"
LEVELS = ("nation", "province", "commune", "district", "centre")
BATCH = 500


def province_code(number: int) -> str:
    return f"P{int(number):02d}"


def commune_code(number: int) -> str:
    return f"W{int(number):05d}"


@dataclass
class ImportReport:
    provinces: int = 0
    communes: int = 0
    existing: int = 0


def import_units(actor, provinces=None) -> ImportReport:
    """Create the nation's centre, the given provinces' centres (all when None) and every commune
    and ward of them, from the national list; existing centres are left as they are."""
    from vietnam_provinces import Province, Ward

    wanted = None if provinces is None else {int(p) for p in provinces}
    chosen = [p for p in Province.iter_all() if wanted is None or int(p.code) in wanted]
    if wanted is not None and len(chosen) != len(wanted):
        missing = sorted(wanted - {int(p.code) for p in chosen})
        raise Invalid(f"no province with code {missing[0]} in the national list (34 provinces since 1 July 2025)")
    report = ImportReport()
    existing = {c for (c,) in Centre.select(Centre.code).tuples()}
    now = utcnow()
    with write_transaction():
        nation = Centre.get_or_none(Centre.code == NATION) or Centre.create(
            code=NATION, name="Cổng Dịch vụ công quốc gia", level="nation", admin_code="VN")
        rows = [{"code": province_code(p.code), "name": f"Trung tâm Phục vụ hành chính công {p.name}",
                 "level": "province", "admin_code": f"{int(p.code):02d}", "parent": nation.id, "created_at": now}
                for p in chosen if province_code(p.code) not in existing]
        _insert(rows)
        report.provinces, report.existing = len(rows), len(chosen) - len(rows)
        parents = {c.admin_code: c.id for c in Centre.select(Centre.id, Centre.admin_code)
                   .where(Centre.level == "province")}
        rows = [{"code": commune_code(w.code), "name": f"Trung tâm Phục vụ hành chính công {w.name}",
                 "level": "commune", "admin_code": f"{int(w.code):05d}", "parent": parents[f"{int(p.code):02d}"],
                 "created_at": now}
                for p in chosen for w in Ward.iter_by_province(p.code) if commune_code(w.code) not in existing]
        _insert(rows)
        report.communes = len(rows)
        _codes.changed()  # a centre looked up before it existed is found from now on, in every process
        audit.record("centres.imported", actor, detail={"provinces": report.provinces, "communes": report.communes})
    return report


def _insert(rows):
    for i in range(0, len(rows), BATCH):
        Centre.insert_many(rows[i:i + BATCH]).execute()


def scope_ids(actor):
    """The ids of the centres an actor may see beyond its own: a province administrator sees its
    province and the communes under it, a system administrator every centre (None: no limit)."""
    if actor.has_role("system_admin"):
        return None
    if actor.has_role("province_admin"):
        return {actor.centre_id} | {c.id for c in Centre.under(actor.centre_id).select(Centre.id)}
    return {actor.centre_id}


def list_centres(actor, parent=None, level=None) -> list[Centre]:
    """The centres in the actor's scope, by code; optionally those under a parent (code) or of a level."""
    query = Centre.select().order_by(Centre.code)
    ids = scope_ids(actor)
    if ids is not None:
        query = query.where(Centre.id.in_(list(ids)))
    if parent:
        query = query.where(Centre.parent == get_centre(actor, parent).id)
    if level:
        if level not in LEVELS:
            raise Invalid(f"level must be one of: {', '.join(LEVELS)}")
        query = query.where(Centre.level == level)
    return list(query)


def get_centre(actor, code) -> Centre:
    """A centre by code, if the actor's scope holds it; NotFound otherwise (the same answer as a
    code that does not exist)."""
    centre = Centre.get_or_none(Centre.code == str(code))
    ids = scope_ids(actor)
    if centre is None or (ids is not None and centre.id not in ids):
        raise NotFound(f"no centre {shown(code)}")
    return centre


def by_code(code) -> Centre | None:
    """A centre by code, whatever its scope (the command line reaches every centre); None if none."""
    return Centre.get_or_none(Centre.code == str(code))


def select(selector: str) -> list[Centre]:
    """The centres a rollout selector names:

    - `nation` or `*`: every province and commune;
    - `province:22`: that province's own centre; `province:22/*`: its communes and wards;
    - `P22,W07090,...`: those centres by code.
    """
    selector = (selector or "").strip()
    if selector in ("nation", "*"):
        return list(Centre.select().where(Centre.level.in_(("province", "commune", "district"))).order_by(Centre.code))
    if selector.startswith("province:"):
        number, _, rest = selector.removeprefix("province:").partition("/")
        if not number.isdigit() or rest not in ("", "*"):
            raise Invalid(f"selector {shown(selector)}: write province:NN or province:NN/*")
        province = Centre.get_or_none(Centre.code == province_code(number))
        if province is None:
            raise NotFound(f"no centre for province {number}; import it first (onestop centres import --province {number})")
        return list(Centre.under(province.id).order_by(Centre.code)) if rest == "*" else [province]
    codes = [c.strip() for c in selector.split(",") if c.strip()]
    if not codes:
        raise Invalid("say which centres: nation, province:NN, province:NN/*, or codes separated by commas")
    found = {c.code: c for c in Centre.select().where(Centre.code.in_(codes))}
    missing = [c for c in codes if c not in found]
    if missing:
        raise NotFound(f"no centre {shown(missing[0])}")
    return [found[c] for c in codes]


def as_dict(centre, parents=None) -> dict:
    parents = parents or {}
    return {"code": centre.code, "name": centre.name, "level": centre.level, "agency_code": centre.agency_code,
            "agency_code_source": centre.agency_code_source, "ready": bool(centre.agency_code),
            "admin_code": centre.admin_code, "parent": parents.get(centre.parent_id),
            "closed_on": centre.closed_on.isoformat() if centre.closed_on else None,
            "successor": code_of(centre.successor_id) if centre.successor_id else None}


def describe(centres) -> list[dict]:
    """Centres as the API and `centres list --json` give them, with their parent's code."""
    parent_ids = {c.parent_id for c in centres if c.parent_id}
    parents = {c.id: c.code for c in Centre.select(Centre.id, Centre.code).where(Centre.id.in_(list(parent_ids)))} \
        if parent_ids else {}
    return [as_dict(c, parents) for c in centres]


def move(actor, code, parent, on) -> Centre:
    """Put a centre under another parent from a date (a re-parenting, audited with its date)."""
    centre, new_parent = Centre.get_or_none(Centre.code == code), Centre.get_or_none(Centre.code == parent)
    if centre is None or new_parent is None:
        raise NotFound(f"no centre {shown(code if centre is None else parent)}")
    if new_parent.id == centre.id or new_parent.parent_id == centre.id:
        raise Invalid("a centre cannot be put under itself or under one of its own communes")
    with write_transaction():
        old = Centre.select(Centre.code).where(Centre.id == centre.parent_id).scalar() if centre.parent_id else None
        Centre.update(parent=new_parent.id).where(Centre.id == centre.id).execute()
        audit.record("centres.moved", actor, centre=centre,
                     detail={"from": old, "to": new_parent.code, "on": on.isoformat()})
    return Centre.get_by_id(centre.id)


def open_for_intake(centre_id, today) -> None:
    """Refuse new dossiers at a centre closed by a merge, naming where to go instead."""
    # Hand-written (sql.run): every submission asks, and peewee composing this one statement cost
    # 0.07 ms in a loop but 0.2-0.3 ms in a request, where its many small calls run with cold CPU
    # caches (docs/performance.md); SQLite runs it in 0.02 ms.
    row = sql.run('SELECT "closed_on", "successor_id" FROM "centre" WHERE "id" = ?', (centre_id,)).fetchone()
    if row is not None:
        refuse_if_closed(Centre.closed_on.python_value(row[0]), row[1], today)


def refuse_if_closed(closed_on, successor_id, today) -> None:
    """open_for_intake's answer for a centre's closing day and successor read already (sql.intake)."""
    if closed_on is not None and closed_on <= today:
        successor = Centre.get_or_none(Centre.id == successor_id)
        raise Conflict(f"this centre was merged on {closed_on:%d/%m/%Y}"
                       + (f" into {successor.name} ({successor.code})" if successor else "")
                       + "; dossiers are received there")


def portal_centre(code: str | None) -> Centre:
    """The centre whose portal a citizen chose, by code; the default centre when none was chosen."""
    from .users import ensure_default_centre

    if not code:
        return ensure_default_centre()
    centre = Centre.get_or_none(Centre.code == code[:64])
    if centre is None:
        raise NotFound(f"no centre {shown(code)}")
    return centre


@dataclass
class DirectoryEntry:
    code: str
    name: str
    level: str
    procedures: int  # offered by its portal
    closed: bool  # merged: takes no new dossiers


def directory(province: str | None = None, query: str = "", today=None) -> list[DirectoryEntry]:
    """The centres a citizen may choose on the portal, those offering at least one procedure: the
    provinces' own centres, or a province's communes, or those whose name matches `query`
    (diacritics ignored); at most DIRECTORY_LIMIT."""
    from ..models import Procedure
    from ..text import matches

    today = today or local_today()
    offered = dict(Procedure.select(Procedure.centre, fn.COUNT(Procedure.id)).where(
        Procedure.latest_version.is_null(False)).group_by(Procedure.centre).tuples())
    if not offered:
        return []
    rows = Centre.select().where(Centre.id.in_(list(offered)))
    if province:
        parent = Centre.get_or_none(Centre.code == province[:64])
        if parent is None:
            raise NotFound(f"no centre {shown(province)}")
        rows = rows.where((Centre.parent == parent.id) | (Centre.id == parent.id))
    elif not query:  # the country's communes are found by province or by name, not listed all at once
        rows = rows.where(Centre.level != "commune")
    out = [DirectoryEntry(c.code, c.name, c.level, offered[c.id], c.closed(today))
           for c in rows if not query or matches(query, c.name, c.code)]
    order = {"nation": 0, "centre": 1, "province": 2, "commune": 3}
    return sorted(out, key=lambda e: (order.get(e.level, 4), e.name))[:DIRECTORY_LIMIT]


DIRECTORY_LIMIT = 200


_codes = runtime.SharedCache("centres", seconds=300.0)  # centre id -> its code


def code_of(centre_id) -> str:
    """A centre's code (cached: no service changes it; a change by other means bumps "centres")."""
    return _codes.get(centre_id, lambda: Centre.select(Centre.code).where(Centre.id == centre_id).scalar())


EDITABLE = {"name": 255, "agency_code": codes.AGENCY_CODE_LENGTH, "address": 500}  # what may change, and its column's length


def update_centre(actor, code, values: dict) -> Centre:
    """Change a centre's name, electronic identity code (the start of its dossier codes) or
    address: its own administrator, or an administrator above it."""
    from . import codes as dossier_codes

    centre = get_centre(actor, code)
    if not (actor.has_role("system_admin", "province_admin") or
            (actor.has_role("admin") and centre.id == actor.centre_id)):
        raise NotFound(f"no centre {shown(code)}")
    if not isinstance(values, dict) or not values or set(values) - set(EDITABLE):
        raise Invalid(f"send one or more of: {', '.join(EDITABLE)}")
    if "agency_code" in values and not dossier_codes.valid_agency_code(values["agency_code"]):
        raise Invalid("agency_code is the agency's electronic identity code of the national list, "
                      "e.g. 000.00.21.H56 or H15.50.05.13")
    for key, value in values.items():
        if not isinstance(value, str) or not value.strip() or len(value) > EDITABLE[key]:
            raise Invalid(f"{key} is text of 1-{EDITABLE[key]} characters")
    with write_transaction():
        changes = {k: v.strip() for k, v in values.items()}
        if "agency_code" in values:
            changes["agency_code_source"] = f"entered by {actor.username} ({local_today():%d/%m/%Y})"
        Centre.update(**changes).where(Centre.id == centre.id).execute()
        audit.record("centre.updated", actor, centre=centre, detail=values)
        if "agency_code" in values:
            dossier_codes.changed()
    return Centre.get_by_id(centre.id)
