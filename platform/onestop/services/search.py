"""Full-text search, one query layer over two backends: the public catalogue (procedures by name in
both languages, code, field, result, papers and agency, ranked) and dossiers by applicant (name,
citizen ID, phone, email, dossier code).

Both sides of a search go through `text.fold` (lower case, diacritics off, Vietnamese "đ" -> "d",
which neither SQLite's unicode61 tokenizer nor every unaccent rule set does the same way) and are
cut into words of letters and digits here, so SQLite and PostgreSQL see the same words and answer
the same: SQLite through FTS5 (`procedure_search`, `dossier_search`: rowid = the row's id, a
`centre` column holding the token `k<centre id>` so a centre's search reads only its postings),
PostgreSQL through weighted `tsvector`s with GIN indexes (`simple` configuration: no stemming, no
stop words). A query is a list of groups that must all match; a group is a list of alternatives:
the words the user typed (each a prefix, all of them found), or a phrase of the synonym group
those words make (`SYNONYMS`). The index is written by the service that changes what it holds, in its transaction
(`put_procedures`, `put_dossier`, `move_dossiers`); `rebuild()` makes it again from the tables
(`onestop search rebuild`, and the migration that created it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from peewee import SQL

from .. import sql
from ..db import at_batch_commit, database, on_sqlite, write_transaction
from ..models import Dossier, LocalOverride, Procedure, ProcedureVersion
from ..text import fold

MAX_WORDS = 12  # a query's words past this are ignored: the cost of a search stays bounded
_WORD = re.compile(r"[^\W_]+")

# Common names of the same thing, folded; a query phrase found here matches any phrase of its group.
SYNONYMS = (
    ("khai sinh", "giay khai sinh", "birth registration", "birth certificate"),
    ("khai tu", "death registration", "death certificate"),
    ("ket hon", "dang ky ket hon", "marriage", "marriage registration"),
    ("tinh trang hon nhan", "marital status"),
    ("cccd", "can cuoc", "can cuoc cong dan", "cmnd", "chung minh nhan dan", "citizen id", "identity card"),
    ("ho chieu", "passport"),
    ("giay phep xay dung", "gpxd", "construction permit", "building permit"),
    ("giay phep lai xe", "gplx", "bang lai", "driving licence", "driving license"),
    ("ly lich tu phap", "judicial record", "criminal record"),
    ("chung thuc", "cong chung", "certification", "certified copy"),
    ("ho kinh doanh", "household business"),
    ("dang ky kinh doanh", "business registration"),
    ("cong ty trach nhiem huu han", "tnhh", "llc", "limited liability company"),
    ("dat dai", "quyen su dung dat", "so do", "so hong", "land", "land use right"),
    ("ho ngheo", "poor household"),
    ("bao tro xa hoi", "social protection", "social welfare"),
    ("ho tich", "civil status"),
    ("thuong tru", "tam tru", "cu tru", "residence"),
)
_SYNONYM_INDEX = {phrase: group for group in SYNONYMS for phrase in group}
_LONGEST_SYNONYM = max(len(p.split()) for p in _SYNONYM_INDEX)

# The catalogue's columns, most telling first: (column, SQLite bm25 weight, PostgreSQL weight class).
PROCEDURE_COLUMNS = (("name", 10.0, "A"), ("code", 6.0, "B"), ("field", 4.0, "B"), ("result", 3.0, "C"),
                     ("documents", 1.0, "D"), ("agency", 1.0, "D"))


def words(text) -> list[str]:
    """The folded words of a text, as the index holds them: 'Giấy phép (GPXD) 1.001193' -> giay phep gpxd 1 001193."""
    return _WORD.findall(fold(str(text or "")))


def indexed(*texts) -> str:
    """Texts as one indexed column: folded words separated by spaces."""
    return " ".join(w for t in texts if t for w in words(t))


@dataclass(frozen=True)
class Query:
    """What to find: every group must match; a group matches when one of its alternatives does. An
    alternative is (words, typed): typed, every word found as a prefix, anywhere; else the words as
    a phrase, in a row."""

    groups: tuple  # of tuples of (words tuple, typed)

    def __bool__(self):
        return bool(self.groups)


def parse(text) -> Query:
    """The user's words as a Query: each word a prefix, a known phrase with its synonyms."""
    found = words(text)[:MAX_WORDS]
    groups, i = [], 0
    while i < len(found):
        for size in range(min(_LONGEST_SYNONYM, len(found) - i), 0, -1):
            group = _SYNONYM_INDEX.get(" ".join(found[i:i + size]))
            if group is not None:
                # The words as typed still find what they found alone ("hộ tịch" finds "công chức tư pháp -
                # hộ tịch" and "hộ ... tịch"); the synonyms are whole phrases.
                typed = tuple(found[i:i + size])
                groups.append(((typed, True),) + tuple((tuple(p.split()), False) for p in group if p.split() != list(typed)))
                i += size
                break
        else:
            groups.append(((tuple(found[i:i + 1]), True),))
            i += 1
    return Query(tuple(groups))


# -- the two renderings of a query ------------------------------------------------------------------

def _fts5(query: Query, columns) -> str:
    def alternative(ws, typed):
        return "(" + " AND ".join(f'"{w}"*' for w in ws) + ")" if typed else '"' + " ".join(ws) + '"'

    text = " AND ".join("(" + " OR ".join(alternative(ws, t) for ws, t in group) + ")" for group in query.groups)
    return "{" + " ".join(columns) + "} : (" + text + ")"


def _fts5_centres(centre_ids) -> str:
    return "centre : (" + " OR ".join(f"k{int(c)}" for c in centre_ids) + ")"


def _tsquery(query: Query) -> str:
    def alternative(ws, typed):
        return "(" + (" & ".join(f"{w}:*" for w in ws) if typed else " <-> ".join(ws)) + ")"

    return " & ".join("(" + " | ".join(alternative(ws, t) for ws, t in group) + ")" for group in query.groups)


# -- the catalogue ----------------------------------------------------------------------------------

def procedure_texts(code, name, metadata) -> dict:
    """What the catalogue searches of a procedure, by column (folded): its names (Vietnamese and
    English), code, field, result, papers (with their notes) and agency."""
    meta = metadata or {}
    documents = [d if isinstance(d, str) else " ".join(str(d.get(k) or "") for k in ("name", "note"))
                 for d in meta.get("documents") or [] if isinstance(d, str | dict)]
    return {"name": indexed(name, meta.get("name_en")), "code": indexed(code), "field": indexed(meta.get("field")),
            "result": indexed(meta.get("result")), "documents": indexed(*documents),
            "agency": indexed(meta.get("agency"))}


def put_procedures(centre_id, documents: dict) -> None:
    """Index the centre's procedures {procedure id: procedure_texts(...)}, replacing what was held,
    in the caller's transaction."""
    if not documents:
        return
    ids = list(documents)
    names = [c for c, _, _ in PROCEDURE_COLUMNS]
    vector = " || ".join(f"setweight(to_tsvector('simple', ?), '{weight}')" for _, _, weight in PROCEDURE_COLUMNS)
    for i in range(0, len(ids), 200):  # within both databases' limits on a statement's parameters
        chunk = ids[i:i + 200]
        if on_sqlite():
            sql.delete_ids("procedure_search", "rowid", chunk)
            sql.insert_rows("procedure_search", ("rowid", "centre", *names),
                            [(pid, f"k{int(centre_id)}", *(documents[pid][n] for n in names)) for pid in chunk])
            continue
        sql.delete_ids("procedure_search", "procedure_id", chunk)
        sql.run('INSERT INTO "procedure_search" ("procedure_id", "centre_id", "document") VALUES '
                + ",".join([f"(?, ?, {vector})"] * len(chunk)),
                [v for pid in chunk for v in (pid, centre_id, *(documents[pid][n] for n in names))])


def find_procedures(centre_id, text) -> list[int] | None:
    """The ids of the centre's indexed procedures that match the words, best first (then by name);
    None when the text holds no word to look for (everything matches)."""
    query = parse(text)
    if not query:
        return None
    if on_sqlite():
        weights = ", ".join(["0"] + [str(w) for _, w, _ in PROCEDURE_COLUMNS])
        match = _fts5_centres([centre_id]) + " AND " + _fts5(query, [c for c, _, _ in PROCEDURE_COLUMNS])
        rows = sql.run(f'SELECT s."rowid" FROM "procedure_search" s JOIN "procedure" p ON p."id" = s."rowid" '
                       f'WHERE "procedure_search" MATCH ? AND p."centre_id" = ? '
                       f'ORDER BY bm25("procedure_search", {weights}), p."name"', (match, centre_id))
    else:
        rows = sql.run('SELECT s."procedure_id" FROM "procedure_search" s JOIN "procedure" p ON p."id" = s."procedure_id" '
                       "WHERE s.\"centre_id\" = ? AND p.\"centre_id\" = ? AND s.\"document\" @@ to_tsquery('simple', ?) "
                       "ORDER BY ts_rank(s.\"document\", to_tsquery('simple', ?)) DESC, p.\"name\"",
                       (centre_id, centre_id, _tsquery(query), _tsquery(query)))
    return [pid for (pid,) in rows]


# -- dossiers by applicant --------------------------------------------------------------------------

def applicant_text(code, applicant, person=None) -> str:
    """What a dossier is found by: its code and its applicant's name, citizen ID, phone and email (folded).
    `person`: applicant_words(applicant), if already made."""
    person = applicant_words(applicant) if person is None else person
    return " ".join(text for text in (indexed(code), person) if text)


def applicant_words(applicant) -> str:
    """The applicant's part of applicant_text (made before the dossier's code is known, e.g. outside the
    writers' lock)."""
    person = applicant if isinstance(applicant, dict) else {}
    return indexed(*(str(person.get(k) or "") for k in ("name", "full_name", "citizen_id", "phone", "email")))


def put_dossier(dossier_id, centre_id, code, applicant, new=False, person=None) -> None:
    """Index a dossier (`new`: just inserted in this transaction, so nothing is held to replace; or
    again, its applicant changed), in the caller's transaction. `person`: see applicant_text."""
    put_dossiers([(dossier_id, centre_id, applicant_text(code, applicant, person))], new=new)


def put_dossiers(rows, new=False) -> None:
    """Index dossiers [(id, centre id, applicant_text)], replacing what was held (`new`: none was)."""
    rows = list(rows)
    if new and on_sqlite():
        # FTS5 writes the terms it was given into a new segment of its index at the transaction's next
        # statement (each opens a savepoint): one segment, and its merging later, for each new dossier of a
        # SQLite batch of writes. Inserted just before the batch's commit instead: one for all (db.at_batch_commit).
        rows = [row for row in rows if not at_batch_commit(_insert_new, row)]
        if rows:
            _insert_new(rows)
        return
    for i in range(0, len(rows), 300):
        chunk = rows[i:i + 300]
        ids = [] if new else [r[0] for r in chunk]
        if on_sqlite():
            sql.delete_ids("dossier_search", "rowid", ids)
            sql.insert_rows("dossier_search", ("rowid", "centre", "applicant"), [(d, f"k{int(c)}", t) for d, c, t in chunk])
        else:
            sql.delete_ids("dossier_search", "dossier_id", ids)
            sql.run('INSERT INTO "dossier_search" ("dossier_id", "centre_id", "document") VALUES '
                    + ",".join(["(?, ?, to_tsvector('simple', ?))"] * len(chunk)), [v for row in chunk for v in row])


def _insert_new(rows) -> None:
    """New dossiers' rows of SQLite's index [(id, centre id, applicant_text)]."""
    for i in range(0, len(rows), 300):
        sql.insert_rows("dossier_search", ("rowid", "centre", "applicant"),
                        [(d, f"k{int(c)}", t) for d, c, t in rows[i:i + 300]])


def move_dossiers(ids, centre_id) -> None:
    """The dossiers now belong to another centre (a merger handed them over)."""
    for i in range(0, len(ids), 300):
        chunk = list(ids[i:i + 300])
        marks = ",".join("?" * len(chunk))
        if on_sqlite():
            sql.run(f'UPDATE "dossier_search" SET "centre" = ? WHERE "rowid" IN ({marks})', [f"k{int(centre_id)}", *chunk])
        else:
            sql.run(f'UPDATE "dossier_search" SET "centre_id" = ? WHERE "dossier_id" IN ({marks})', [centre_id, *chunk])


def applicant_filter(text, centre_ids=None):
    """A condition on `Dossier` for the dossiers whose applicant (name, citizen ID, phone, email) or
    code matches the words, of the given centres (None: any); None when the text holds no word. The
    caller's query keeps its own scope and order: `query.where(applicant_filter(...))`."""
    found = _dossier_ids_sql(text, centre_ids)
    return None if found is None else Dossier.id.in_(SQL("(" + found[0] + ")", found[1]))


def _dossier_ids_sql(text, centre_ids=None):
    """(SQL, params) selecting the ids of the matching dossiers (applicant_filter), or None."""
    query = parse(text)
    if not query:
        return None
    if centre_ids is not None and not centre_ids:
        return ("SELECT NULL WHERE 1 = 0", [])
    mark = database.param
    if on_sqlite():
        match = _fts5(query, ["applicant"])
        if centre_ids is not None and len(centre_ids) <= 200:
            match = _fts5_centres(sorted(centre_ids)) + " AND " + match
        return (f'SELECT "rowid" FROM "dossier_search" WHERE "dossier_search" MATCH {mark}', [match])
    where = f"\"document\" @@ to_tsquery('simple', {mark})"
    params = [_tsquery(query)]
    if centre_ids is not None:
        where += ' AND "centre_id" IN (' + ",".join([mark] * len(centre_ids)) + ")"
        params += sorted(centre_ids)
    return (f'SELECT "dossier_id" FROM "dossier_search" WHERE {where}', params)


# -- the tables and their rebuilding ----------------------------------------------------------------

def create_tables() -> None:
    """The index's tables (the migration that brought search runs this)."""
    if on_sqlite():
        columns = ", ".join(c for c, _, _ in PROCEDURE_COLUMNS)
        sql.run('CREATE VIRTUAL TABLE IF NOT EXISTS "procedure_search" USING fts5(centre, ' + columns +
                ", tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3')")
        sql.run('CREATE VIRTUAL TABLE IF NOT EXISTS "dossier_search" USING fts5(centre, applicant, '
                "tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3')")
        return
    sql.run('CREATE TABLE IF NOT EXISTS "procedure_search" ("procedure_id" INTEGER PRIMARY KEY '
            'REFERENCES "procedure" ("id") ON DELETE CASCADE, "centre_id" INTEGER NOT NULL, "document" TSVECTOR NOT NULL)')
    sql.run('CREATE INDEX IF NOT EXISTS "procedure_search_document" ON "procedure_search" USING GIN ("document")')
    sql.run('CREATE INDEX IF NOT EXISTS "procedure_search_centre_id" ON "procedure_search" ("centre_id")')
    sql.run('CREATE TABLE IF NOT EXISTS "dossier_search" ("dossier_id" INTEGER PRIMARY KEY '
            'REFERENCES "dossier" ("id") ON DELETE CASCADE, "centre_id" INTEGER NOT NULL, "document" TSVECTOR NOT NULL)')
    sql.run('CREATE INDEX IF NOT EXISTS "dossier_search_document" ON "dossier_search" USING GIN ("document")')
    sql.run('CREATE INDEX IF NOT EXISTS "dossier_search_centre_id" ON "dossier_search" ("centre_id")')


def procedure_documents(centre_id, procedure_ids=None) -> dict:
    """{procedure id: procedure_texts} of the centre's procedures at their current version, with the
    centre's own values (services.rollout.OVERRIDABLE) where it set them; all of them, or those ids."""
    query = (Procedure.select(Procedure.id, Procedure.code, Procedure.name, ProcedureVersion.metadata)
             .join(ProcedureVersion, on=((ProcedureVersion.procedure == Procedure.id)
                                         & (ProcedureVersion.version == Procedure.latest_version)))
             .where(Procedure.centre == centre_id))
    if procedure_ids is not None:
        query = query.where(Procedure.id.in_(list(procedure_ids)))
    local = LocalOverride.select(LocalOverride.procedure, LocalOverride.values).where(LocalOverride.centre == centre_id)
    if procedure_ids is not None:
        local = local.where(LocalOverride.procedure.in_(list(procedure_ids)))
    local = dict(local.tuples())
    out = {}
    for pid, code, name, metadata in query.tuples():
        meta = metadata if isinstance(metadata, dict) else {}
        if local.get(pid):
            meta = meta | {k: v for k, v in local[pid].items() if k != "lanes"}
        out[pid] = procedure_texts(code, name, meta)
    return out


def reindex_procedures(centre_id, procedure_ids=None) -> None:
    """Index again the centre's procedures (all, or those ids), in the caller's transaction."""
    put_procedures(centre_id, procedure_documents(centre_id, procedure_ids))


def rebuild() -> dict:
    """Make the whole index again from the tables (every centre's procedures, every dossier):
    {"procedures": n, "dossiers": n}. One transaction: a search meanwhile sees the old index."""
    with write_transaction():
        sql.run('DELETE FROM "procedure_search"')
        sql.run('DELETE FROM "dossier_search"')
        procedures = 0
        for (centre_id,) in Procedure.select(Procedure.centre).distinct().tuples():
            documents = procedure_documents(centre_id)
            put_procedures(centre_id, documents)
            procedures += len(documents)
        dossiers, last = 0, 0
        while True:
            rows = list(Dossier.select(Dossier.id, Dossier.centre, Dossier.code, Dossier.applicant)
                        .where(Dossier.id > last).order_by(Dossier.id).limit(2000).tuples())
            if not rows:
                break
            put_dossiers((d, c, applicant_text(code, applicant)) for d, c, code, applicant in rows)
            dossiers += len(rows)
            last = rows[-1][0]
    return {"procedures": procedures, "dossiers": dossiers}
