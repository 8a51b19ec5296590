"""A centre's lookup tables: the values of the SpiffArena data stores its models read and write.

A model declares a data store (`<bpmn:dataStore id="fees" name="JSONDataStore"/>`) and its tasks
read or write it by that id; the centre keeps one table per id, uploaded by an administrator in
the back office as JSON (any value: an object of fees by kind, a list of codes) or CSV (a list of
rows, one object per line keyed by the header; whole and decimal numbers become numbers unless
they start with a 0, so codes such as 001 stay text). The engine does no I/O: around each engine
call `handed_in` reads the tables the model references (one query) and hands them in; what the
step wrote comes back on the Step and `store_writes` keeps it with the step, in its transaction.
"""

from __future__ import annotations

import csv
import io
import re
from contextlib import contextmanager, nullcontext

from .. import boundedjson
from ..db import write_transaction
from ..engine import lookup_tables, referenced_tables
from ..models import LookupTable, utcnow
from . import audit, codes
from .drafts import DRAFT_ROLES
from .errors import Forbidden, Invalid, NotFound

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
MAX_BYTES = 1024 * 1024  # a fee table or a code list; the engine refuses a larger write the same way
MAX_ROWS = 20_000
_NUMBER = re.compile(r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?$")


def _authorise(actor):
    if not actor.has_role(*DRAFT_ROLES):
        raise Forbidden("only an administrator manages the centre's lookup tables")


def check_name(name) -> str:
    """The table's name as a data store's id may be: letters, digits and _, not starting with a digit."""
    if not isinstance(name, str) or not NAME.match(name):
        raise Invalid("a lookup table's name is the data store's id in the model: letters, digits and _, "
                      "not starting with a digit (for example fees_2026)")
    return name


def _cell(text: str):
    if _NUMBER.match(text):
        return float(text) if "." in text else int(text)
    return text


def read_upload(filename: str, content: bytes):
    """The table a JSON or CSV file holds; Invalid saying what is wrong with it."""
    if len(content) > MAX_BYTES:
        raise Invalid(f"the file is larger than {MAX_BYTES // 1024} KiB; a lookup table is a fee table or a code list")
    lowered = (filename or "").lower()
    if lowered.endswith(".json"):
        try:
            return boundedjson.loads(content)
        except boundedjson.Refused as exc:
            raise Invalid(f"the JSON file cannot be read: {exc.message}") from None
    if lowered.endswith(".csv"):
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise Invalid("the CSV file is not UTF-8 text (save it as \"CSV UTF-8\")") from None
        reader = csv.DictReader(io.StringIO(text, newline=""))
        if not reader.fieldnames or any(not (h or "").strip() for h in reader.fieldnames):
            raise Invalid("the CSV file needs a header line naming every column")
        rows = []
        for number, row in enumerate(reader, start=2):
            if None in row or len(rows) >= MAX_ROWS:
                raise Invalid(f"line {number} of the CSV file has more cells than the header has columns"
                              if None in row else f"the CSV file has more than {MAX_ROWS} rows")
            rows.append({key.strip(): _cell((value or "").strip()) for key, value in row.items()})
        return rows
    raise Invalid("upload the table as a .json or .csv file")


def put(actor, name, filename: str, content: bytes) -> LookupTable:
    """Add or replace one of the centre's lookup tables from an uploaded file."""
    _authorise(actor)
    name = check_name(name)
    value = read_upload(filename, content)
    with write_transaction():
        _upsert(actor.centre_id, name, value, str(filename or "")[:255], actor.id)
        audit.record("lookup_table.put", actor, detail={"name": name, "file": str(filename or "")[:200],
                                                         "rows": _rows(value)})
    return LookupTable.get((LookupTable.centre == actor.centre_id) & (LookupTable.name == name))


def _upsert(centre_id, name, value, source, actor_id):
    # One statement on both databases: two writers of a new table at once cannot both insert it.
    now = utcnow()
    (LookupTable.insert(centre=centre_id, name=name, value=value, source=source, updated_by=actor_id, updated_at=now)
     .on_conflict(conflict_target=[LookupTable.centre, LookupTable.name],
                  update={LookupTable.value: value, LookupTable.source: source, LookupTable.updated_by: actor_id,
                          LookupTable.updated_at: now})
     .execute())


def _rows(value) -> int:
    return len(value) if isinstance(value, list | dict) else 1


def tables(actor) -> list[dict]:
    """The centre's lookup tables by name: {name, rows, source, updated_at}."""
    _authorise(actor)
    query = (LookupTable.select().where(LookupTable.centre == actor.centre_id).order_by(LookupTable.name))
    return [{"name": t.name, "rows": _rows(t.value), "source": t.source, "updated_at": t.updated_at} for t in query]


def get(actor, name) -> LookupTable:
    """One of the centre's lookup tables, with its value."""
    _authorise(actor)
    found = LookupTable.get_or_none((LookupTable.centre == actor.centre_id) & (LookupTable.name == str(name)))
    if found is None:
        raise NotFound("no such lookup table at this centre")
    return found


def delete(actor, name) -> None:
    """Drop one of the centre's lookup tables (a model reading it then stops with an incident)."""
    found = get(actor, name)
    with write_transaction():
        LookupTable.delete().where(LookupTable.id == found.id).execute()
        audit.record("lookup_table.deleted", actor, detail={"name": found.name})


def values_for(centre_id, names) -> dict:
    """The values of the centre's tables among `names` (those it has)."""
    if not names:
        return {}
    query = LookupTable.select(LookupTable.name, LookupTable.value).where(
        (LookupTable.centre == centre_id) & (LookupTable.name.in_(list(names))))
    return {t.name: t.value for t in query}


@contextmanager
def handed_in(centre_id, model):
    """Around an engine call: the tables the model's data stores reference, read for the centre."""
    names = referenced_tables(model) if model is not None else []
    with (lookup_tables(values_for(centre_id, names)) if names else nullcontext()):
        yield


def store_writes(dossier, step) -> None:
    """Keep what a dossier's step wrote to the centre's tables (inside the step's transaction), once the
    dossier has its code (a new one gets it at the end of its unit: services.codes)."""
    writes = getattr(step, "table_writes", None)
    if writes:
        codes.once_coded(dossier, lambda: [_upsert(dossier.centre_id, name, value, f"dossier {dossier.code}"[:255], None)
                                           for name, value in writes.items()])
