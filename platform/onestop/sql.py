"""Hand-written SQL for the few statements every workflow step runs.

peewee spends more time composing a statement (about 0.3 ms here) than SQLite spends running
it, and a step runs half a dozen. These statements are written once, in the SQL that SQLite and
PostgreSQL both accept (quoted identifiers, `?` placeholders turned into the driver's own), and
return ordinary model instances or named rows (tuples whose fields also have names, so callers read
`row.due_at`, never `row[5]`). Everything else keeps using peewee's query builder.
"""

import contextvars
import functools
import re
from datetime import datetime
from typing import NamedTuple

from peewee import (
    BooleanField,
    CharField,
    DateTimeField,
    Field,
    ForeignKeyField,
    IntegerField,
)

from . import jsontext
from .db import database, on_sqlite
from .models import (
    AuditEvent,
    Centre,
    Dossier,
    HistoryEntry,
    JSONField,
    Procedure,
    ProcedureVersion,
    SignInSession,
    UnreadJSON,
    User,
    WaitingEvent,
    WorkItem,
)

_texts = {}


def local_date(column: str) -> str:
    """SQL for the Vietnamese (UTC+7) calendar date of a stored UTC timestamp column."""
    if on_sqlite():
        return f"date({column}, '+7 hours')"
    return f"CAST({column} + INTERVAL '7 hours' AS DATE)"


def month_start(column: str) -> str:
    """SQL for the first day of the month of a date column."""
    if on_sqlite():
        return f"date({column}, 'start of month')"
    return f"CAST(date_trunc('month', {column}) AS DATE)"


def _sql(text: str, db=None) -> str:
    param = (db if db is not None else database.obj).param
    key = (text, param)
    sql = _texts.get(key)
    if sql is None:
        sql = _texts[key] = text if param == "?" else text.replace("?", param)
    return sql


def run(text: str, params=()):
    """Execute one statement (written with `?` placeholders); returns the cursor."""
    # The proxy's target, once: each attribute read through the proxy first fails the normal lookup
    # (Python builds the AttributeError's message) before peewee's __getattr__ forwards it.
    # On PostgreSQL, in the pipeline of a unit's deferred writes when one is held (db.PostgresPool).
    db = database.obj
    if db.param == "?":  # SQLite: the text as written, no pipeline (and sqlite3 takes a list as it takes a tuple)
        return db.execute_sql(text, params if params.__class__ in _SEQUENCES else tuple(params))
    return getattr(db, "execute_pipelined", db.execute_sql)(_sql(text, db), tuple(params))


_SEQUENCES = (tuple, list)


def to_json(value):
    return None if value is None else jsontext.dumps(value)  # JSONField's text (models.JSONField)


def _insert_sql(table: str, columns: tuple, count: int, returning: tuple = (), marks: list | None = None,
                guarded: bool = False) -> str:
    """INSERT of `count` rows into `table` (VALUES; `marks`: each row's own placeholders, else `?`s). `guarded`
    (PostgreSQL, write_step_rows): only if the WITH query "guard" found its row; the rows' values are typed
    by the table's columns as VALUES of an INSERT are (a first row, of none, of the table's types gives them)."""
    names = ",".join(f'"{c}"' for c in columns)
    back = (" RETURNING " + ",".join(f'"{c}"' for c in returning)) if returning else ""
    rows = marks if marks is not None else ["(" + ",".join("?" * len(columns)) + ")"] * count
    if guarded:  # (a SELECT a row, not VALUES: VALUES types a column of NULLs as text before the UNION)
        typed = ", ".join(f'(NULL::"{table}")."{c}"' for c in columns)
        return (f'INSERT INTO "{table}" ({names}) SELECT * FROM (SELECT {typed} WHERE false'
                + "".join(f" UNION ALL SELECT {row[1:-1]}" for row in rows) + f') "rows" WHERE {_GUARDED}' + back)
    return f'INSERT INTO "{table}" ({names}) VALUES ' + ",".join(rows) + back


_GUARDED = 'EXISTS (SELECT 1 FROM "guard")'


def _insert_text(table: str, columns, count: int, returning: tuple) -> str:
    """_insert_sql's plain INSERT, made once per shape (a step's inserts have a few; built anew, each cost ~5 k
    instructions, three of them a step under SQLite's writers' lock). Columns given as a list: made each time."""
    try:
        return _insert_shape(table, columns, count, returning)
    except TypeError:  # (unhashable)
        return _insert_sql(table, columns, count, returning)


@functools.lru_cache(maxsize=512)
def _insert_shape(table: str, columns: tuple, count: int, returning: tuple) -> str:
    return _insert_sql(table, columns, count, returning)


def insert_rows(table: str, columns: tuple, rows: list, returning: tuple = (), then: tuple | None = None):
    """One multi-row INSERT of `rows` (tuples in the order of `columns`); with `returning`, the
    inserted rows' values of those columns as stored (in no particular order). `then`: (a statement
    reading nothing back, its parameters) run right after, in the same statement on PostgreSQL (the
    INSERT in a WITH): one wait for the GIL fewer while the rows a unit locks last are held."""
    if not rows:
        if then is not None:
            run(*then)
        return []
    insert = _insert_text(table, columns, len(rows), returning)
    values = [value for row in rows for value in row]
    if then is not None and not returning and not on_sqlite():
        run(f'WITH "inserted" AS ({insert}) {then[0]}', values + list(then[1]))
        return []
    cursor = run(insert, values)
    if then is not None:
        run(*then)
    return cursor.fetchall() if returning else []


def delete_ids(table: str, column: str, values: list):
    if values:
        run(f'DELETE FROM "{table}" WHERE "{column}" IN (' + ",".join("?" * len(values)) + ")", values)


# The dossier as most reads need it: every column but the (large) workflow state.
DOSSIER_HEAD = [f for f in Dossier._meta.sorted_fields if f.name != "workflow"]
_ITEM = [WorkItem.id, WorkItem.element_id, WorkItem.name, WorkItem.lane, WorkItem.form, WorkItem.role,
         WorkItem.due_at, WorkItem.created_at, WorkItem.claimed_by, WorkItem.claimed_at, WorkItem.unit]
_VERSION = [ProcedureVersion.id, ProcedureVersion.version, ProcedureVersion.content_hash, ProcedureVersion.start_id,
            ProcedureVersion.template_version]
_PROCEDURE = [Procedure.id, Procedure.code, Procedure.name]


def _columns(alias, fields):
    return ", ".join(f'{alias}."{f.column_name}"' for f in fields)


@functools.lru_cache(maxsize=4)
def _work_item_sql(with_state: bool, centre: str = "?") -> str:
    """work_item_in_centre's statement; `centre`: what the task's centre is compared with (`?`, or the user's
    centre when it is read with the token's user: work_item_ahead)."""
    return (f"SELECT {_columns('w', _ITEM)}, {_columns('d', DOSSIER_HEAD)}, {_columns('v', _VERSION)}, "
            f"{_columns('p', _PROCEDURE)}, " + 'l."id", l."centre_id"' + (', d."workflow"' if with_state else "")
            + ' FROM "workitem" w JOIN "dossier" d ON d."id" = w."dossier_id" '
            'JOIN "procedureversion" v ON v."id" = d."version_id" JOIN "procedure" p ON p."id" = d."procedure_id" '
            f'LEFT JOIN "portaldossier" l ON l."dossier_id" = d."id" WHERE w."id" = ? AND w."centre_id" = {centre}')


_WORK_ITEM_SQL = _work_item_sql(False)


def _build(model, fields, values, unread_json=False):
    """The model instance `model(**{field: value})` makes from a row's values, made without
    peewee's descriptor call per field and without computing defaults the row replaces: the fields
    read hold their values, the others their defaults, and all of them count as changed. `unread_json`:
    a JSON field's text is read (json.loads) only when the field is first read (models.UnreadJSON)."""
    plan = _plans.get((model, id(fields), unread_json))
    if plan is None or plan[0] is not fields:
        if len(_plans) >= 64:  # the module's few query shapes; a caller's own lists are not kept for ever
            _plans.clear()
        plan = _plans[(model, id(fields), unread_json)] = _plan(model, fields, unread_json)
    _fields, defaults, names, converters, callables = plan
    data = defaults.copy()
    # A value of a class its field hands back as it is (None, a text for a text field, ...) is not handed to it.
    data.update({name: value if value.__class__ in same else convert(value)
                 for name, (convert, same), value in zip(names, converters, values, strict=True)})
    for name, default in callables:
        data[name] = default()
    instance = model.__new__(model)
    instance.__data__, instance._dirty, instance.__rel__ = data, set(data), {}
    return instance


def _plan(model, fields, unread_json=False) -> tuple:
    """What _build needs of a model and the fields a query reads, worked out once per query shape
    (kept with the fields themselves: their id is a key only while they are the ones kept)."""
    meta = model._meta
    names = tuple(f.name for f in fields)
    callables = tuple((name, default) for name, default in meta._default_callable_list if name not in names)
    return fields, meta._default_by_name, names, tuple(
        (_unread(f) if unread_json and type(f).python_value is JSONField.python_value else _converter(f), _unchanged(f))
        for f in fields), callables


def _unread(field):
    """A JSON field's converter that keeps its stored text for its first read (models.UnreadJSON); any other value
    is read now, as the field reads it."""
    python_value = field.python_value

    def keep(value):
        return UnreadJSON(value) if value.__class__ is str else python_value(value)

    return keep


def _unchanged(field) -> frozenset:
    """The classes of value that the field's python_value hands back unchanged, as peewee's own fields are written:
    None, and a str for a text field, an int for an integer field, a bool for a boolean field, a datetime for a time;
    a foreign key's, its target field's. Nothing for any other python_value (a field of onestop's or a plugin's)."""
    kind = type(field)
    if kind.python_value is ForeignKeyField.python_value:  # the target's python_value, unless given a model instance
        return _unchanged(field.rel_field)
    if kind.python_value is JSONField.python_value:
        return frozenset({type(None)})
    if kind.python_value is not Field.python_value:
        return frozenset()
    same = {CharField.adapt: str, IntegerField.adapt: int, BooleanField.adapt: bool,
            DateTimeField.adapt: datetime}.get(kind.adapt)
    return frozenset({type(None), same} - {None})


# A time as SQLite holds what peewee stored (str(datetime): naive, microseconds when not zero).
_STORED_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{6})?\Z")


def _converter(field):
    """The field's python_value, but for a plain DateTimeField a stored time is read by
    datetime.fromisoformat (~0.3 us) instead of peewee's datetime.strptime of each format in turn
    (~10 us each, and a dossier row holds a dozen times): the same datetime for every text both
    read; any other value goes to peewee as before."""
    python_value = field.python_value
    if not (type(field).adapt is DateTimeField.adapt and type(field).python_value is DateTimeField.python_value
            and list(field.formats) == list(DateTimeField.formats)):
        return python_value

    def read(value):
        if value.__class__ is str and _STORED_TIME.match(value):
            try:
                return datetime.fromisoformat(value)
            except ValueError:  # not a date (February 30th): peewee's way (it keeps the text)
                pass
        return python_value(value)

    return read


_plans: dict = {}


def stored_time(text):
    """A time as SQLite hands back what peewee stored (text), as a model's DateTimeField reads it
    (`python_value`), by `_converter`'s quicker way for the usual shape: the same datetime."""
    return _read_time(text)


def _state_column(column: str, sqlite: bool) -> str:
    """The stored workflow state as the engine reads it best (engine.serial.load_workflow takes text or its
    UTF-8): SQLite hands a TEXT value over decoded to str, which orjson then encodes back to UTF-8 (~20
    instructions a byte of a 5 kB state); read as a BLOB, the same bytes come as they are. PostgreSQL's
    text is read as text (its bytea would come escaped)."""
    return f"CAST({column} AS BLOB)" if sqlite else column


# SQLite's (True) and PostgreSQL's.
_WORK_ITEM_WITH_STATE_SQL = {True: _WORK_ITEM_SQL.replace(" FROM ", ", " + _state_column('d."workflow"', True) + " FROM ", 1),
                             False: _work_item_sql(True)}
_WORKFLOW_TEXT_SQL = {sqlite: "SELECT " + _state_column('"workflow"', sqlite) + ' FROM "dossier" WHERE "id" = ? AND "serial" = ?'
                      for sqlite in (True, False)}
# On SQLite the task is read with whether its dossier's people had completed its element before (counters.done_before's
# question, which the step completing the task asks: a rework), so that the step does not read it under the writers'
# lock. (PostgreSQL asks it in the statement of the step's rows: sql.write_step_rows.)
_DONE_BEFORE = (', EXISTS (SELECT 1 FROM "historyentry" h WHERE h."dossier_id" = d."id" AND h."element_id" = w."element_id" '
                'AND h."state" = \'completed\' AND h."started_at" IS NOT NULL) FROM ')
_WORK_ITEM_SQLITE = {False: _WORK_ITEM_SQL.replace(" FROM ", _DONE_BEFORE, 1),
                     True: _WORK_ITEM_WITH_STATE_SQL[True].replace(" FROM ", _DONE_BEFORE, 1)}


def work_item_in_centre(task_id: str, centre_id: int, with_state: bool = False):
    """A ready task of a centre with its dossier (no workflow state), version and procedure; or None.
    With `with_state`, the dossier's stored workflow state is read in the same query and kept as
    `dossier.stored_text` (serial, text or its UTF-8: _state_column), for a step whose workflow is not live in
    this process.
    The dossier's link to the national portal comes too, as `dossier.portal_link` ((id, centre_id) or
    None: a link is made with its dossier and never changes; national_portal.outbox.status_changed). On SQLite,
    whether the dossier's people had completed the task's element before, as `dossier.done_before` ((serial,
    {element id: bool}): the history changes only with a step, which moves the serial)."""
    sqlite = on_sqlite()
    row = _NOT_AHEAD if sqlite else _taken_ahead(("work_item", task_id, with_state, centre_id))
    if row is _NOT_AHEAD:
        text = _WORK_ITEM_SQLITE[with_state] if sqlite else _WORK_ITEM_WITH_STATE_SQL[False] if with_state else _WORK_ITEM_SQL
        row = run(text, (task_id, centre_id)).fetchone()
    if row is None:
        return None
    if sqlite:
        row, done = row[:-1], bool(row[-1])
    if with_state:
        row, state = row[:-1], row[-1]
    row, link = row[:-2], row[-2:]
    cut = [len(_ITEM), len(_ITEM) + len(DOSSIER_HEAD), len(_ITEM) + len(DOSSIER_HEAD) + len(_VERSION)]
    item = _build(WorkItem, _ITEM, row[: cut[0]])
    # (A step replaces the dossier's data; its applicant is seldom read: their JSON is read when first asked for.)
    dossier = _build(Dossier, DOSSIER_HEAD, row[cut[0]: cut[1]], unread_json=True)
    dossier.version = _build(ProcedureVersion, _VERSION, row[cut[1]: cut[2]])
    dossier.procedure = _build(Procedure, _PROCEDURE, row[cut[2]:])
    item.dossier = dossier
    item.centre = dossier.centre_id
    dossier.portal_link = tuple(link) if link[0] is not None else None
    if with_state:
        dossier.stored_text = (dossier.serial, state)
    if sqlite:
        dossier.done_before = (dossier.serial, {item.element_id: done})
    return item


_STEP_UPDATE = (
    'UPDATE "dossier" SET "workflow" = ?, "state" = ?, "data" = ?, "serial" = "serial" + 1, '
    '"error_element" = ?, "error_message" = ?, "next_timer_at" = ?, "updated_at" = ?, "status" = ? '
    'WHERE "id" = ? AND "serial" = ?'
)
_STEP_UPDATE_ENDING = _STEP_UPDATE.replace('"status" = ?', '"status" = ?, "paused_at" = NULL')
# The same, leaving "state" as it is: a column in the SET clause has its two indexes rewritten even when its value
# stays (two pages more in every step's commit), and most steps leave a running dossier running.
_STEP_UPDATES = {(False, False): _STEP_UPDATE, (True, False): _STEP_UPDATE_ENDING,
                 (False, True): _STEP_UPDATE.replace('"state" = ?, ', ""),
                 (True, True): _STEP_UPDATE_ENDING.replace('"state" = ?, ', "")}
# On SQLite, the state bound as its UTF-8 (the bytes orjson wrote) and stored as TEXT, the same bytes: a str
# bound to SQLite is encoded to UTF-8 again (~10 instructions a character of a 5 kB state). Likewise the data's
# (keyed by whether the data is bound so too).
_STEP_UPDATES_UTF8 = {data: {key: text.replace('"workflow" = ?', '"workflow" = CAST(? AS TEXT)').replace(
    '"data" = ?', '"data" = CAST(? AS TEXT)' if data else '"data" = ?') for key, text in _STEP_UPDATES.items()}
    for data in (False, True)}


def store_step(dossier_id, serial, workflow, state, data, error_element, error_message, next_timer_at, now, status,
               clear_pause=False, state_at_serial=None, data_text=None, workflow_utf8=None, data_utf8=None) -> bool:
    """Compare-and-set the dossier's new state and national status; False if its serial moved meanwhile.
    `state_at_serial`: the dossier's state as read at `serial` (every write of the state moves the serial),
    which is then not written again when the step leaves it as it was. `data_text`: to_json(data), if
    already made (e.g. outside the writers' lock). `workflow_utf8`, `data_utf8`: the UTF-8 of `workflow` and of
    to_json(data), if at hand (SQLite stores them as they are)."""
    return run(*step_update(dossier_id, serial, workflow, state, data, error_element, error_message, next_timer_at,
                            now, status, clear_pause, state_at_serial, data_text, workflow_utf8, data_utf8)).rowcount == 1


def step_update(dossier_id, serial, workflow, state, data, error_element, error_message, next_timer_at, now, status,
                clear_pause=False, state_at_serial=None, data_text=None, workflow_utf8=None, data_utf8=None) -> tuple:
    """store_step's compare-and-set as (statement, parameters), for write_step_rows' `guard`."""
    same = state == state_at_serial
    statements = _STEP_UPDATES
    if workflow_utf8 is not None and on_sqlite():
        statements, workflow = _STEP_UPDATES_UTF8[data_utf8 is not None], workflow_utf8
        if data_utf8 is not None:
            data_text = data_utf8
    params = (workflow, *(() if same else (state,)), to_json(data) if data_text is None else data_text, error_element,
              error_message, next_timer_at, now, status, dossier_id, serial)
    return statements[(bool(clear_pause), same)], params


_NEXT_SEQUENCE = (
    'INSERT INTO "dossiercounter" ("agency", "day", "value") VALUES (?, ?, 1) '
    'ON CONFLICT ("agency", "day") DO UPDATE SET "value" = "dossiercounter"."value" + 1 RETURNING "value"'
)


def next_sequence(agency: str, day) -> int:
    """The agency's next number of the day; call inside the transaction that uses it, so that a
    rolled-back intake gives its number back (no gaps) and concurrent intakes queue on the row
    (services.codes takes it as late as it can: at the end of the intake's unit of work)."""
    return run(_NEXT_SEQUENCE, (agency, day)).fetchone()[0]


_CODE_FROM_SEQUENCE = (
    f'WITH "n" AS ({_NEXT_SEQUENCE}) UPDATE "dossier" SET "code" = ? || CASE WHEN "n"."value" < 10000 '
    'THEN lpad(CAST("n"."value" AS TEXT), 4, \'0\') ELSE CAST("n"."value" AS TEXT) END FROM "n" '
    'WHERE "dossier"."id" = ? RETURNING "dossier"."code"'
)


def set_next_code(agency: str, day, prefix: str, dossier_id: int, meanwhile=None) -> str:
    """Take the agency's next number of the day (`next_sequence`) and set the dossier's code to
    `prefix` and that number (4 digits at least); returns the code. On PostgreSQL one statement: the
    counter's row, held from here to the commit, waits for one answer fewer of this thread.
    `meanwhile()`: statements to send before the code's answer is read (in a held pipeline, their
    answers come back with it)."""
    if on_sqlite():
        code = f"{prefix}{next_sequence(agency, day):04d}"
        run('UPDATE "dossier" SET "code" = ? WHERE "id" = ?', (code, dossier_id))
        if meanwhile is not None:
            meanwhile()
        return code
    cursor = run(_CODE_FROM_SEQUENCE, (agency, day, prefix, dossier_id))
    if meanwhile is not None:
        meanwhile()
    return cursor.fetchone()[0]


class OpenTask(NamedTuple):
    """A ready task as a step found it, kept in the history when the step finishes it."""

    lane: str
    created_at: datetime
    due_at: datetime | None


_TAKE_SQL = 'DELETE FROM "workitem" WHERE "id" IN ({}) RETURNING "id", "lane", "created_at", "due_at"'


def take_open_tasks(ids: list) -> dict:
    """Delete ready tasks a step removes from the worklist; id -> OpenTask (lane, created_at, due_at)
    of each, as it was (kept in the history): one DELETE ... RETURNING, no read before it."""
    if not ids:
        return {}
    return _open_tasks(run(_TAKE_SQL.format(",".join("?" * len(ids))), ids).fetchall())


def _open_tasks(rows) -> dict:
    return {i: OpenTask(lane, _read_created(c), _read_due(d)) for i, lane, c, d in rows}


# A history row's lane, start and deadline, as its task was when the same statement deleted it (write_step_rows).
_FROM_TAKEN = ", ".join(f'(SELECT "{c}" FROM "taken" WHERE "id" = ?)' for c in ("lane", "created_at", "due_at"))


def _answer(kind: int, columns: tuple, values: dict) -> str:
    """SELECT of a row of `kind` laid out as `columns`: each column named in `values` (column -> the
    column it is read from), NULL in the others."""
    return f"SELECT {kind}, " + ", ".join(f'"{values[c]}"' if c in values else "NULL" for c in columns)


class StepRows(NamedTuple):
    """What `write_step_rows` read back."""

    leaving: dict  # task id -> OpenTask: the ready tasks the step took off the worklist, as they were
    done_before: set  # of the elements asked about, those the dossier's people had completed before
    history: list  # the history rows as stored (tuples in the order of `returning`, ids included)
    guarded: bool = True  # False: the guard found no row, and nothing was written
    new_id: int | None = None  # the id of the dossier inserted first (write_step_rows' `new`), if one was


def write_step_rows(taken: list, tasks: tuple, waits: tuple | None, history: tuple, done_before,
                    guard: tuple | None = None, new: list | None = None) -> StepRows:
    """The rows a step writes beside its dossier's (services.steps decides them), in this order: the ready
    tasks it takes off the worklist (`taken`: their ids; `take_open_tasks`), the tasks it offers (`tasks`:
    (columns, rows) of "workitem"), its waits (`waits`: None to leave them, else (the dossier whose waits
    go first, or None; columns; rows) of "waitingevent"), a read of the elements done before, and its
    history (`history`: (columns, rows, returning) of "historyentry"; each row's last three values, the
    lane, start and deadline of the task it finished, are filled in from that task if it was taken).
    `done_before`: ([(task id, element id)] of the tasks the step completed, a function of element ids
    giving the read's (statement, parameters), and optionally {element id: bool} of the answers known already), asked
    about the elements of the tasks taken (on SQLite not read when every answer is known: `work_item_in_centre`).

    `guard`: (statement, parameters) of an UPDATE that must change one row first (the dossier's compare-and-set,
    `step_update`), else nothing is written and `guarded` is False.

    `new`: the parameters of a new dossier's INSERT (`new_dossier`), made first; the rows' "dossier_id" values
    are not read (its id is not known yet): every row gets the inserted row's id in that column, answered as
    `new_id`. On SQLite its own statement before the others; on PostgreSQL the first WITH query of the one
    statement, every row reading its id there (`_NEW_ID`, in the statement's shape).

    On SQLite one statement after another (they cost no round trip). On PostgreSQL ONE statement: the
    writes as data-modifying WITH queries (the guard first, every write after it only if it found its row),
    the history's filled-in values read from the deleted tasks, the read seeing the history as it was
    before the statement (as before the insert), and the elements asked about being all the completed
    tasks' (a superset: the answer for those taken is the same)."""
    completed, read, *known = done_before
    known = known[0] if known else {}
    history_columns, history_rows, returning = history
    assert history_columns[-3:] == ("lane", "started_at", "due_at"), history_columns
    assert new is None or guard is None, "a new dossier has no compare-and-set"
    task_at = history_columns.index("task_id")
    if on_sqlite():  # (the proxy's target: an attribute read through the proxy costs more)
        new_id = None
        if new is not None:  # (the rows get its id here: no round trip to save)
            new_id = run(_NEW_DOSSIER_SQL_UTF8 if new[_WORKFLOW_AT].__class__ is bytes else _NEW_DOSSIER_SQL,
                         new).fetchone()[0]
            tasks = (tasks[0], _with_dossier(tasks[0], tasks[1], new_id))
            if waits is not None:
                waits = (waits[0], waits[1], _with_dossier(waits[1], waits[2], new_id))
            history_rows = _with_dossier(history_columns, history_rows, new_id)
        if guard is not None and run(*guard).rowcount != 1:
            return StepRows({}, set(), [], guarded=False)
        leaving = take_open_tasks(taken)
        insert_rows("workitem", *tasks)
        if waits is not None:
            if waits[0] is not None:
                delete_ids("waitingevent", "dossier_id", [waits[0]])
            insert_rows("waitingevent", *waits[1:])
        asked = [element for task, element in completed if task in leaving]
        if all(element in known for element in asked):  # (none asked: nothing to read either)
            before = {element for element in asked if known[element]}
        else:
            before = {e for (e,) in run(*read(asked))}
        stored = insert_rows("historyentry", history_columns, [
            (*row[:-3], *leaving.get(row[task_at], (None, None, None))) for row in history_rows], returning=returning)
        return StepRows(leaving, before, stored, new_id=new_id)
    filled = tuple(row[task_at] in taken for row in history_rows)
    asked = [element for _task, element in completed]
    text, more = read(asked) if asked else (None, [])
    unwait = waits is not None and waits[0] is not None
    statement = _step_rows_sql(len(taken), tasks[0], len(tasks[1]), unwait, waits[1] if waits else (),
                               len(waits[2]) if waits else 0, history_columns, returning, filled, text,
                               guard[0] if guard is not None else None, new is not None)
    # The parameters in the order of the statement's text (_step_rows_sql); with a new dossier, none for the
    # rows' "dossier_id" (they read its id in the statement).
    params = list(new) if new is not None else list(guard[1]) if guard is not None else []
    params += taken
    params += _values(tasks[0], tasks[1], new)
    if unwait:
        params.append(waits[0])
    if waits is not None:
        params += _values(waits[1], waits[2], new)
    params += _values(history_columns, [(*row[:-3], row[task_at], row[task_at], row[task_at]) if fill else row
                                        for row, fill in zip(history_rows, filled, strict=True)], new)
    params += more
    at = {c: i for i, c in enumerate(returning)}
    leaving, before, stored, found, new_id = {}, set(), [], guard is None, None
    for kind, *row in run(statement, params).fetchall():
        if kind == 0:
            stored.append(tuple(row))
        elif kind == 1:
            leaving.update(_open_tasks([[row[at[c]] for c in ("task_id", "lane", "started_at", "due_at")]]))
        elif kind == 2:
            before.add(row[at["element_id"]])
        elif kind == 3:
            found = True
        else:
            new_id = row[at["dossier_id"]]
    return StepRows(leaving, before, stored, found, new_id)


def _with_dossier(columns: tuple, rows: list, dossier_id) -> list:
    """`rows` (of `columns`) with `dossier_id` in their "dossier_id" column."""
    at = columns.index("dossier_id")
    return [(*row[:at], dossier_id, *row[at + 1:]) for row in rows]


def _values(columns: tuple, rows: list, new) -> list:
    """The parameters of `rows` (of `columns`) in write_step_rows' statement: every value, but their "dossier_id"
    when they belong to a `new` dossier (the statement reads its id: _row)."""
    if new is None:
        return [value for row in rows for value in row]
    at = columns.index("dossier_id")
    return [value for row in rows for value in (*row[:at], *row[at + 1:])]


# A new dossier's id, inside write_step_rows' statement: read from the WITH query that inserted it.
_NEW_ID = '(SELECT "id" FROM "new_dossier")'


def _row(columns: tuple, new: bool, tail: str | None = None) -> str:
    """A row's placeholders in write_step_rows' statement: a `?` a column, but a `new` dossier's id (_NEW_ID) in
    its "dossier_id" column; `tail`: in place of the last three columns (the history's filled-in ones)."""
    marks = [_NEW_ID if new and c == "dossier_id" else "?" for c in (columns[:-3] if tail else columns)]
    return "(" + ",".join([*marks, tail] if tail else marks) + ")"


@functools.lru_cache(maxsize=256)
def _step_rows_sql(taken: int, task_columns: tuple, offered: int, unwait: bool, wait_columns: tuple, waits: int,
                   history_columns: tuple, returning: tuple, filled: tuple, read: str | None, guard: str | None,
                   new: bool = False) -> str:
    """write_step_rows' statement on PostgreSQL, by the shape of what it writes (built once per shape: a
    model's steps have a few): the `guard` UPDATE, `taken` tasks deleted, `offered` inserted, the dossier's
    waits deleted (`unwait`), `waits` inserted, a history row per item of `filled` (True: its task is one
    taken), then the `read` of the elements done before. With a guard, each write is made only if the guard
    found its row: each asks first (the guard runs once, at the first asking), so the dossier's row is taken
    before its tasks, as in the lock order; the guard answers a row of its own (3). `new`: a new dossier's
    INSERT first, whose id every row reads (_NEW_ID: its scalar subquery runs the INSERT before the row
    asking) and whose row answers it (4)."""
    parts = [f'"guard" AS ({guard} RETURNING 1)'] if guard else []  # the WITH queries, in the order they are written
    if new:
        parts.append(f'"new_dossier" AS ({_NEW_DOSSIER_SQL})')
    gate = f" AND {_GUARDED}" if guard else ""
    if taken:
        parts.append(f'"taken" AS ({_TAKE_SQL.format(",".join("?" * taken)).replace(" RETURNING", gate + " RETURNING")})')
    if offered:
        marks = [_row(task_columns, True)] * offered if new else None
        parts.append(f'"offered" AS ({_insert_sql("workitem", task_columns, offered, (), marks, bool(guard))})')
    if unwait:
        parts.append(f'"unwaited" AS (DELETE FROM "waitingevent" WHERE "dossier_id" = ?{gate})')
    if waits:
        marks = [_row(wait_columns, True)] * waits if new else None
        parts.append(f'"waits" AS ({_insert_sql("waitingevent", wait_columns, waits, (), marks, bool(guard))})')
    marks = [_row(history_columns, new, _FROM_TAKEN if fill else None) for fill in filled]
    # One answer: rows of the history as stored (0), of the tasks taken (1), of the elements done before (2), each
    # value in the column of the history's answer that holds its kind (an id, a task id, a time...), the guard's (3),
    # the new dossier's id (4; last: a first branch of NULLs would type the columns as text before the others).
    selects = []
    if filled:
        parts.append(f'"history" AS ({_insert_sql("historyentry", history_columns, len(filled), returning, marks, bool(guard))})')
        selects.append("SELECT 0, " + ", ".join(f'"{c}"' for c in returning) + ' FROM "history"')
    if taken:
        selects.append(_answer(1, returning, {"task_id": "id", "lane": "lane", "started_at": "created_at",
                                              "due_at": "due_at"}) + ' FROM "taken"')
    if read is not None:
        selects.append(_answer(2, returning, {"element_id": "element_id"}) + f' FROM ({read}) "before"')
    if guard:
        selects.append(_answer(3, returning, {}) + ' FROM "guard"')
    if new:
        selects.append(_answer(4, returning, {"dossier_id": "id"}) + ' FROM "new_dossier"')
    if not selects:
        selects.append("SELECT NULL WHERE false")
    return ("WITH " + ", ".join(parts) + " " if parts else "") + " UNION ALL ".join(selects)


def workflow_text(dossier_id, serial):
    """The stored workflow state at that serial (its UTF-8 on SQLite: _state_column), or None if the dossier
    moved on."""
    row = run(_WORKFLOW_TEXT_SQL[on_sqlite()], (dossier_id, serial)).fetchone()
    return row[0] if row else None


_CURRENT_SQL = (
    f"SELECT {_columns('p', _PROCEDURE)}, {_columns('v', _VERSION)} "
    'FROM "procedure" p JOIN "procedureversion" v ON v."procedure_id" = p."id" AND v."version" = p."latest_version" '
    'WHERE p."centre_id" = ? AND p."code" = ?'
)


def current_version(centre_id: int, code: str):
    """(procedure, its latest version) of a centre by code, or None."""
    return _current(run(_CURRENT_SQL, (centre_id, code)).fetchone())


def _current(row):
    if row is None or row[len(_PROCEDURE)] is None:  # (no version: the intake's outer join)
        return None
    procedure = _build(Procedure, _PROCEDURE, row[: len(_PROCEDURE)])
    return procedure, _build(ProcedureVersion, _VERSION, row[len(_PROCEDURE):])


def _intake_sql(centre: str = "?") -> str:
    """The centre's closure with the procedure's latest version, in one statement (an intake asks both); `centre`:
    what the centre's id is compared with (`?`, or the user's centre when read with the token's user: intake_ahead)."""
    return (f"SELECT c.\"closed_on\", c.\"successor_id\", {_columns('p', _PROCEDURE)}, {_columns('v', _VERSION)} "
            'FROM "centre" c LEFT JOIN "procedure" p ON p."centre_id" = c."id" AND p."code" = ? '
            'LEFT JOIN "procedureversion" v ON v."procedure_id" = p."id" AND v."version" = p."latest_version" '
            f'WHERE c."id" = {centre}')


_INTAKE_SQL = _intake_sql()
_INTAKE_AHEAD_SQL = _intake_sql('u."centre_id"')


def intake_version(centre_id: int, code: str) -> tuple:
    """((closed_on, successor_id) of the centre, as stored, or (None, None) if there is no such centre;
    `current_version(centre_id, code)`), read in one statement: what an intake checks first."""
    row = _taken_ahead(("intake", code, centre_id))
    if row is _NOT_AHEAD:
        row = run(_INTAKE_SQL, (code, centre_id)).fetchone()
    if row is None:
        return (None, None), None
    return tuple(row[:2]), _current(row[2:])


_NEW_DOSSIER_COLUMNS = ("centre_id", "code", "procedure_id", "version_id", "state", "data", "applicant", "workflow",
                        "serial", "error_element", "error_message", "next_timer_at", "lookup_hash", "status",
                        "received_at", "due_at", "authority", "channel", "resolved_at", "created_by_id", "created_at",
                        "updated_at", "business_key")
_NEW_DOSSIER_SQL = (
    'INSERT INTO "dossier" (' + ",".join(f'"{c}"' for c in _NEW_DOSSIER_COLUMNS) + ") VALUES ("
    + ",".join("?" * len(_NEW_DOSSIER_COLUMNS)) + ') RETURNING "id"'
)


# On SQLite, the state bound as its UTF-8 (as _STEP_UPDATES_UTF8).
_NEW_DOSSIER_SQL_UTF8 = _NEW_DOSSIER_SQL.replace(
    ",".join("?" * len(_NEW_DOSSIER_COLUMNS)),
    ",".join("CAST(? AS TEXT)" if c == "workflow" else "?" for c in _NEW_DOSSIER_COLUMNS))
_CODE_AT = _NEW_DOSSIER_COLUMNS.index("code")
_WORKFLOW_AT = _NEW_DOSSIER_COLUMNS.index("workflow")


def prepared_dossier(texts=None, workflow_utf8=None, **values) -> tuple:
    """A new dossier row's parameters and model instance, without its id (and its code, if not among `values`),
    made ahead of its INSERT (`new_dossier`; e.g. outside the writers' lock). `texts`: the JSON texts of "data"
    and "applicant" (to_json), if already made; `workflow_utf8`: the UTF-8 of values["workflow"], if at hand (bound
    as it is on SQLite)."""
    texts = texts or {c: to_json(values[c]) for c in ("data", "applicant")}
    params = [texts[c] if c in ("data", "applicant") else values.get(c) for c in _NEW_DOSSIER_COLUMNS]
    if workflow_utf8 is not None and on_sqlite():
        params[_WORKFLOW_AT] = workflow_utf8
    fields = {c.removesuffix("_id") if c.endswith("_id") else c: values.get(c) for c in _NEW_DOSSIER_COLUMNS}
    return params, Dossier(**fields)


def new_dossier(prepared: tuple, code: str) -> tuple:
    """(the INSERT's parameters, the model instance) of a new dossier: `prepared` is prepared_dossier()'s of every
    value but the code. The instance has no id until its row is inserted, with its first step's rows
    (write_step_rows' `new`), which gives it."""
    params, dossier = list(prepared[0]), prepared[1]
    params[_CODE_AT] = dossier.code = code
    return params, dossier


_USER = list(User._meta.sorted_fields)
_TOKEN_FROM = '"apitoken" t JOIN "user" u ON u."id" = t."user_id"'
_TOKEN_WHERE = ' WHERE t."token_hash" = ? AND NOT t."revoked" AND u."active" AND t."topics" IS NULL'
_TOKEN_SQL = f"SELECT {_columns('u', _USER)} FROM {_TOKEN_FROM}{_TOKEN_WHERE}"


def user_by_token_hash(token_hash: str, ahead=None):
    """The active user holding an unrevoked token with that hash, or None. A worker's token (one that
    names topics: services.external_tasks) serves the external-task API only.

    `ahead`: a function giving the request's first read (an Ahead, or None), asked on PostgreSQL only inside
    `reads_ahead` (on SQLite, which has no round trip to save, it is left to its reader): the read is made in the
    same statement, and kept for the read asking for it with the user's centre. The user is checked, and read,
    as without it."""
    kept = _ahead.get()
    read = ahead() if ahead is not None and kept is not None and not on_sqlite() else None
    if read is None:
        row = run(_TOKEN_SQL, (token_hash,)).fetchone()
        return _build(User, _USER, row) if row else None
    row = run(_token_with(read.text), (*read.params, token_hash)).fetchone()
    if row is None:
        return None
    user = _build(User, _USER, row[:len(_USER)])
    found = row[len(_USER):]
    kept[:] = [(*read.key, user.centre_id), found[1:] if found[0] is not None else None]
    return user


@functools.lru_cache(maxsize=16)
def _token_with(read: str) -> str:
    """_TOKEN_SQL with `read` (Ahead.text) in the same statement: a 1, then its row's values, after the user's;
    NULLs if it finds none."""
    return (f"SELECT {_columns('u', _USER)}, a.* FROM {_TOKEN_FROM} "
            f'LEFT JOIN LATERAL (SELECT 1, r.* FROM ({read}) r) a ON true{_TOKEN_WHERE}')


class Ahead(NamedTuple):
    """A request's first read, to be made with its bearer token's user (user_by_token_hash's `ahead`)."""

    key: tuple  # which read: its function and arguments but the centre (the user's, added once read)
    text: str  # its statement, comparing with the user's centre as u."centre_id"
    params: tuple


# Inside reads_ahead: [] or [the key, the row or None] of the read made with the token's user, until taken.
_ahead = contextvars.ContextVar("onestop_sql_ahead", default=None)
_NOT_AHEAD = object()


class reads_ahead:  # noqa: N801 (a context manager, used as a function; cheaper than contextlib's on every request)
    """The scope of a request in which user_by_token_hash may read ahead: what no read took is forgotten at its
    end (a later request must read for itself)."""

    def __enter__(self):
        self.scope = _ahead.set([])

    def __exit__(self, *exc):
        _ahead.reset(self.scope)


def _taken_ahead(key: tuple):
    """The row read ahead for `key` (None: it found none), once; _NOT_AHEAD if it was not read ahead."""
    kept = _ahead.get()
    if not kept or kept[0] != key:
        return _NOT_AHEAD
    row = kept[1]
    kept.clear()
    return row


def work_item_ahead(task_id: str, with_state: bool = False) -> Ahead:
    """work_item_in_centre(task_id, the user's centre, with_state) as a read made with the token's user."""
    return Ahead(("work_item", task_id, with_state), _work_item_sql(with_state, 'u."centre_id"'), (task_id,))


def intake_ahead(code: str) -> Ahead:
    """intake_version(the user's centre, code) as a read made with the token's user."""
    return Ahead(("intake", code), _INTAKE_AHEAD_SQL, (code,))


_CENTRE = list(Centre._meta.sorted_fields)
_CENTRE_SQL = f'SELECT {_columns("c", _CENTRE)} FROM "centre" c WHERE c."code" = ?'


def centre_by_code(code: str):
    """The centre with that code, or None. Every app's start and every account made without a
    centre reads the default one (services.users.ensure_default_centre)."""
    row = run(_CENTRE_SQL, (code,)).fetchone()
    return _build(Centre, _CENTRE, row) if row else None


class HandOver(NamedTuple):
    """A finished task of a person, as the control sheet lists it."""

    element_id: str
    name: str
    lane: str
    started_at: datetime
    due_at: datetime | None
    done_at: datetime
    state: str
    officer: str | None  # the display name of whoever did it


def hand_overs(dossier_id: int) -> list[HandOver]:
    """The dossier's finished tasks of people, in order."""
    rows = run('SELECT h."element_id", h."name", h."lane", h."started_at", h."due_at", h."at", h."state", '
               'u."display_name" FROM "historyentry" h LEFT JOIN "user" u ON u."id" = h."actor_id" '
               'WHERE h."dossier_id" = ? AND h."started_at" IS NOT NULL ORDER BY h."at", h."id"', (dossier_id,)).fetchall()
    convert = HistoryEntry.at.python_value
    return [HandOver(e, n, lane, convert(s), convert(d), convert(a), st, who) for e, n, lane, s, d, a, st, who in rows]


class TaskRow(NamedTuple):
    """A ready task of a dossier."""

    id: str
    element_id: str
    name: str
    lane: str
    created_at: datetime
    due_at: datetime | None


class WaitRow(NamedTuple):
    """What a dossier waits for: a timer, a message, a signal."""

    element_id: str
    type: str
    name: str
    due_at: datetime | None
    message: str | None  # a message wait: the message's name


class HistoryRow(NamedTuple):
    """A finished element of a dossier's workflow."""

    element_id: str
    name: str
    state: str
    at: datetime
    actor: str | None  # the user name of whoever finished it, if a person did
    id: int  # the entry's id: where a page of the history ends (its cursor)


class EventRow(NamedTuple):
    """An audit event of a dossier."""

    at: datetime
    actor: str | None  # the user name
    action: str
    element_id: str | None
    id: int  # the event's id: where a page of the events ends (its cursor)


class FileRow(NamedTuple):
    """A file attached to a dossier."""

    id: int
    field: str
    name: str
    media_type: str
    size: int
    sha256: str


def _named(row_type, rows, **fields):
    """Rows as `row_type`, the named timestamp columns converted by their model fields."""
    named = [row_type(*row) for row in rows]
    return [r._replace(**{name: field.python_value(getattr(r, name)) for name, field in fields.items()})
            for r in named] if fields else named


_HISTORY = ('SELECT h."element_id", h."name", h."state", h."at", u."username", h."id" FROM "historyentry" h '
            'LEFT JOIN "user" u ON u."id" = h."actor_id"', "historyentry")
_EVENTS = ('SELECT h."at", u."username", h."action", h."element_id", h."id" FROM "auditevent" h '
           'LEFT JOIN "user" u ON u."id" = h."actor_id"', "auditevent")


def _page(query, dossier_id, limit=None, after=None, newest=False):
    """A dossier's rows of `query` (_HISTORY, _EVENTS) in time order: all of them, or `limit` of them
    after the row whose id is `after` (a page's cursor), or with newest the last `limit` ones."""
    select, table = query
    where, params = ' WHERE h."dossier_id" = ?', [dossier_id]
    if after is not None:
        select += f' JOIN "{table}" c ON c."id" = ? AND c."dossier_id" = h."dossier_id"'
        where += ' AND (h."at", h."id") > (c."at", c."id")'  # a row value: the index walks straight there
        params.insert(0, after)
    order = ' ORDER BY h."at" DESC, h."id" DESC' if newest else ' ORDER BY h."at", h."id"'
    limited = " LIMIT ?" if limit is not None else ""
    rows = run(select + where + order + limited, tuple(params) + ((limit,) if limit is not None else ())).fetchall()
    return rows[::-1] if newest else rows


def history_page(dossier_id: int, limit: int | None = None, after: int | None = None, newest=False) -> list:
    """A dossier's finished elements (HistoryRow) in order: see _page."""
    return _named(HistoryRow, _page(_HISTORY, dossier_id, limit, after, newest), at=HistoryEntry.at)


def events_page(dossier_id: int, limit: int | None = None, after: int | None = None, newest=False) -> list:
    """A dossier's audit events (EventRow) in order: see _page."""
    return _named(EventRow, _page(_EVENTS, dossier_id, limit, after, newest), at=AuditEvent.at)


# A dossier's ready tasks and waits in one statement (one round trip, not two): each row says which it is
# (0 a task, 1 a wait, 2 its sitting), then a task's id, element, name, lane, creation, deadline, or a wait's
# type, element, name, message, -, due time and id (its order), or a sitting's id (OPEN_ROWS_AND_SITTING).
_OPEN_ROWS = (
    'SELECT 0, "id", "element_id", "name", "lane", "created_at", "due_at", NULL FROM "workitem" WHERE "dossier_id" = ? '
    'UNION ALL SELECT 1, "type", "element_id", "name", "message", NULL, "due_at", "id" FROM "waitingevent" '
    'WHERE "dossier_id" = ?'
)
_OPEN_ORDER = " ORDER BY 1, 6, 8, 2"  # tasks by creation then id, waits by id (as each was read on its own)
_OPEN_ROWS_SQL = _OPEN_ROWS + _OPEN_ORDER
_OPEN_ROWS_AND_SITTING_SQL = (
    _OPEN_ROWS + ' UNION ALL SELECT 2, NULL, NULL, NULL, NULL, NULL, NULL, s."id" '
    'FROM (SELECT "id" FROM "sitting" WHERE "dossier_id" = ? LIMIT 1) s' + _OPEN_ORDER
)


def open_rows(dossier_id: int, sitting: bool = False) -> dict:
    """A dossier's ready tasks (TaskRow) and waits (WaitRow), read in one statement; with `sitting`,
    in the same statement the id of its sitting, or None (services.sittings.after_task)."""
    if sitting:
        rows = run(_OPEN_ROWS_AND_SITTING_SQL, (dossier_id, dossier_id, dossier_id)).fetchall()
    else:
        rows = run(_OPEN_ROWS_SQL, (dossier_id, dossier_id)).fetchall()
    tasks, waits, found = [], [], None
    created, due, wait_due = _read_created, _read_due, _read_wait_due
    for kind, first, element_id, name, text, created_at, due_at, number in rows:
        if kind == 0:
            tasks.append(TaskRow(first, element_id, name, text, created(created_at), due(due_at)))
        elif kind == 1:
            waits.append(WaitRow(element_id, first, name, wait_due(due_at), text))
        else:
            found = number
    answer = {"tasks": tasks, "waiting": waits}
    if sitting:
        answer["sitting"] = found
    return answer


def dossier_rows(dossier_id: int, page: int | None = None) -> dict:
    """What a dossier page shows beside the dossier row: ready tasks (TaskRow), waits (WaitRow),
    history (HistoryRow), events (EventRow), files (FileRow); with page, only the first `page` + 1
    rows of the history and of the events (one more than a page tells whether there is a next)."""
    files = run('SELECT "id", "field", "name", "media_type", "size", "sha256" FROM "attachment" '
                'WHERE "dossier_id" = ? ORDER BY "id"', (dossier_id,)).fetchall()
    more = page + 1 if page is not None else None
    return open_rows(dossier_id) | {
        "files": _named(FileRow, files),
        "history": history_page(dossier_id, more),
        "events": events_page(dossier_id, more),
    }


_SESSION_SQL = (
    f"SELECT s.\"id\", s.\"created_at\", s.\"last_seen_at\", {_columns('u', _USER)} FROM \"signinsession\" s "
    'JOIN "user" u ON u."id" = s."user_id" WHERE s."token_hash" = ? AND u."active"'
)


class SessionRow(NamedTuple):
    """A sign-in session with its (active) user."""

    id: int
    created_at: datetime
    last_seen_at: datetime
    user: User


def sign_in_session(token_hash: str) -> SessionRow | None:
    """The sign-in session with that token hash and its active user, or None (read on every signed-in
    request)."""
    row = run(_SESSION_SQL, (token_hash,)).fetchone()
    if not row:
        return None
    convert = SignInSession.created_at.python_value
    return SessionRow(row[0], convert(row[1]), convert(row[2]), _build(User, _USER, row[3:]))


# The model fields' python_value for the times these statements read back, the usual text without strptime (_converter).
_read_time = _converter(HistoryEntry.at)
_read_created, _read_due, _read_wait_due = (_converter(f) for f in (WorkItem.created_at, WorkItem.due_at,
                                                                     WaitingEvent.due_at))
