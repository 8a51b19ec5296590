"""The hand-written SQL answers in named rows: callers read a column by its name, never its place."""

import functools
from datetime import date, datetime

from onestop import sql
from onestop.db import database
from onestop.models import Dossier, WorkItem
from tests.conftest import MODELS


def _received(api):
    """A review dossier whose reception step is done: one ready task left (the leader's)."""
    assert api.upload([MODELS / "review.bpmn", MODELS / "receive-schema.json"]).status_code == 201
    started = api.post("/dossiers", {"procedure": "review", "data": {"fee": 100}})
    assert started.status_code == 201, started.json
    task = started.json["tasks"][0]
    done = api.post(f"/tasks/{task['id']}/complete",
                    {"data": {"applicant_name": "Nguyễn Văn A", "documents_complete": True}})
    assert done.status_code == 200, done.json
    return done.json


def test_a_dossiers_page_rows_are_read_by_their_column_names(app, admin_api):
    shown = _received(admin_api)
    with app.app_context():
        rows = sql.dossier_rows(Dossier.get(Dossier.code == shown["code"]).id)
    [task] = rows["tasks"]
    assert (task.id, task.element_id, task.lane) == (shown["tasks"][0]["id"], shown["tasks"][0]["element_id"], "Lãnh đạo")
    assert isinstance(task.created_at, datetime)
    assert [(h.state, h.actor) for h in rows["history"] if h.element_id == "Task_Receive"] == [("completed", "admin1")]
    assert all(isinstance(h.at, datetime) for h in rows["history"])
    assert [e.action for e in rows["events"]] == ["dossier.started", "task.completed"]
    assert all(isinstance(e.at, datetime) and e.actor == "admin1" for e in rows["events"])
    assert rows["waiting"] == [] and rows["files"] == []


def test_hand_overs_and_the_open_tasks_a_step_takes_are_read_by_their_column_names(app, admin_api):
    shown = _received(admin_api)
    with app.app_context():
        dossier_id = Dossier.get(Dossier.code == shown["code"]).id
        [hand_over] = sql.hand_overs(dossier_id)
        task_id = shown["tasks"][0]["id"]
        with database.atomic() as transaction:
            leaving = sql.take_open_tasks([task_id])[task_id]
            assert not WorkItem.select().where(WorkItem.id == task_id).exists()  # taken off the worklist
            transaction.rollback()
    assert (hand_over.element_id, hand_over.lane, hand_over.state) == ("Task_Receive", "Một cửa", "completed")
    assert hand_over.started_at <= hand_over.done_at
    assert leaving.lane == "Lãnh đạo" and isinstance(leaving.created_at, datetime)


def test_a_steps_rows_beside_its_dossier_are_written_and_read_back_alike_on_both_databases(app, admin_api,
                                                                                            monkeypatch):
    """sql.write_step_rows: the task taken off the worklist (as it was), the task offered, the waits replaced,
    which of the completed tasks' elements were done before (asked of the tasks taken), and the history rows
    as stored, the taken task's lane, start and deadline filled in from it; on PostgreSQL in one statement."""
    from datetime import timedelta

    from onestop.models import HistoryEntry, User, WaitingEvent, utcnow
    from onestop.services import audit, steps
    from onestop.services.stats import counters

    shown = _received(admin_api)
    task_id = shown["tasks"][0]["id"]
    with app.app_context():
        dossier = Dossier.get(Dossier.code == shown["code"])
        task = WorkItem.get(WorkItem.id == task_id)
        actor_id = User.get(User.username == "admin1").id
        now = utcnow()
        sent = []
        run = sql.run
        monkeypatch.setattr(sql, "run", lambda text, params=(): sent.append(text) or run(text, params))
        with database.atomic() as transaction:
            rows = sql.write_step_rows(
                [task_id],
                (steps._ITEM_COLUMNS, [("next-task", dossier.id, dossier.centre_id, "Task_Next", "Next", "Một cửa",
                                        None, None, None, now + timedelta(days=1), now)]),
                (dossier.id, steps._WAIT_COLUMNS, [(dossier.id, "timer-task", "Timer", "timer", "Wait", now, None,
                                                    None)]),
                (steps._HISTORY_COLUMNS, [
                    (dossier.id, task_id, "Task_Receive", "Again", "completed", now, actor_id, None, None, None),
                    (dossier.id, "not-a-task", "Task_Approve", "Other", "completed", now, None, None, None, None)],
                 audit.HISTORY_COLUMNS),
                ([(task_id, "Task_Receive"), ("not-a-task", "Task_Approve")],
                 functools.partial(counters.done_before, dossier.id)))
            monkeypatch.setattr(sql, "run", run)
            stored = {row[0]: row for row in sql.run(
                'SELECT "id", "dossier_id", "task_id", "element_id", "name", "state", "at", "actor_id", "lane", '
                '"started_at", "due_at" FROM "historyentry" WHERE "name" IN (\'Again\', \'Other\')').fetchall()}
            left = [w.id for w in WorkItem.select().where(WorkItem.dossier == dossier.id)]
            waits = [w.task_id for w in WaitingEvent.select().where(WaitingEvent.dossier == dossier.id)]
            transaction.rollback()
        with database.atomic() as transaction:  # the same, guarded by a compare-and-set that finds no row
            guard = sql.step_update(dossier.id, dossier.serial + 5, "{}", "running", {}, None, None, None, now,
                                    dossier.status)
            lost = sql.write_step_rows(
                [task_id], (steps._ITEM_COLUMNS, [(task_id, dossier.id, dossier.centre_id, "Task_Next", "Next",
                                                   "Một cửa", None, None, None, None, now)]),
                (dossier.id, steps._WAIT_COLUMNS, [(dossier.id, "timer-task", "Timer", "timer", "Wait", now, None,
                                                    None)]),
                (steps._HISTORY_COLUMNS, [(dossier.id, task_id, "Task_Receive", "Again", "completed", now, actor_id,
                                           None, None, None)], audit.HISTORY_COLUMNS),
                ([(task_id, "Task_Receive")], functools.partial(counters.done_before, dossier.id)), guard)
            # (the task offered has the id of the one taken: written without the guard, it would fail or stay)
            unchanged = ([w.id for w in WorkItem.select().where(WorkItem.dossier == dossier.id)],
                         WaitingEvent.select().where(WaitingEvent.dossier == dossier.id).count(),
                         HistoryEntry.select().where(HistoryEntry.name == "Again").count(),
                         Dossier.get(Dossier.id == dossier.id).serial)
            transaction.rollback()
        assert not lost.guarded and lost.history == [] and lost.leaving == {}
        assert unchanged == ([task_id], 0, 0, dossier.serial)
        assert not HistoryEntry.select().where(HistoryEntry.name == "Again").exists()
    assert len(sent) == (1 if database.param != "?" else 6), sent  # taken, offered, waits (2), read, history
    assert rows.leaving == {task_id: sql.OpenTask(task.lane, task.created_at, task.due_at)}
    assert "Task_Receive" in rows.done_before and "Task_Approve" not in rows.done_before
    assert left == ["next-task"] and waits == ["timer-task"]
    assert sorted(r[0] for r in rows.history) == sorted(stored) and len(stored) == 2
    got = {row[0]: tuple(HistoryEntry.at.python_value(v) if i in (6, 9, 10) else v for i, v in enumerate(row))
           for row in rows.history}
    read = {key: tuple(HistoryEntry.at.python_value(v) if i in (6, 9, 10) else v for i, v in enumerate(row))
            for key, row in stored.items()}
    assert got == read
    again, other = sorted(got.values(), key=lambda r: r[0])
    assert (again[2], again[7], again[8:]) == (task_id, actor_id, (task.lane, task.created_at, task.due_at))
    assert (other[2], other[8:]) == ("not-a-task", (None, None, None))


def test_a_new_dossiers_row_is_inserted_first_with_its_steps_rows_and_they_hold_its_id(app, admin_api, monkeypatch):
    """sql.write_step_rows' `new` (a new dossier's INSERT, sql.new_dossier): the row is inserted first, each row of
    its step gets its id in its "dossier_id" (what the rows carry there is not read: the id is not known), and the
    id is answered; on PostgreSQL all in one statement, the rows reading the id inside it."""

    from onestop.models import HistoryEntry, WaitingEvent, utcnow
    from onestop.services import audit, steps
    from onestop.services.stats import counters

    shown = _received(admin_api)
    with app.app_context():
        model = Dossier.get(Dossier.code == shown["code"])
        values = {c: getattr(model, c) for c in sql._NEW_DOSSIER_COLUMNS if c != "code"}
        values |= {"lookup_hash": "another-lookup-hash", "business_key": None}
        stored_before = sql.run('SELECT "data", "applicant", "workflow" FROM "dossier" WHERE "id" = ?',
                                (model.id,)).fetchone()
        now = utcnow()
        sent = []
        run = sql.run
        monkeypatch.setattr(sql, "run", lambda text, params=(): sent.append(text) or run(text, params))
        with database.atomic() as transaction:
            params, dossier = sql.new_dossier(sql.prepared_dossier(**values), "TEST-NEW-0001")
            assert dossier.id is None and dossier.code == "TEST-NEW-0001"
            rows = sql.write_step_rows(
                [], (steps._ITEM_COLUMNS, [("new-task", None, model.centre_id, "Task_New", "New", "Một cửa",
                                            None, None, None, None, now)]),
                (None, steps._WAIT_COLUMNS, [(None, "timer-task", "Timer", "timer", "Wait", now, None, None)]),
                (steps._HISTORY_COLUMNS, [(None, "start", "StartEvent", "Start", "completed", now, None, None,
                                           None, None)], audit.HISTORY_COLUMNS),
                ([], functools.partial(counters.done_before, None)), new=params)
            monkeypatch.setattr(sql, "run", run)
            stored = Dossier.get(Dossier.id == rows.new_id)
            texts = sql.run('SELECT "data", "applicant", "workflow" FROM "dossier" WHERE "id" = ?',
                            (rows.new_id,)).fetchone()
            tasks = [(w.id, w.dossier_id) for w in WorkItem.select().where(WorkItem.dossier == rows.new_id)]
            waits = [(w.task_id, w.dossier_id) for w in WaitingEvent.select().where(WaitingEvent.dossier == rows.new_id)]
            history = [(h.id, h.dossier_id, h.element_id) for h in
                       HistoryEntry.select().where(HistoryEntry.dossier == rows.new_id)]
            transaction.rollback()
    assert isinstance(rows.new_id, int) and rows.new_id > model.id and rows.done_before == set()
    assert (stored.code, stored.serial, stored.created_at, stored.lookup_hash) == (
        "TEST-NEW-0001", model.serial, model.created_at, "another-lookup-hash")
    assert texts == stored_before  # the same bytes as the INSERT on its own stored
    assert tasks == [("new-task", rows.new_id)] and waits == [("timer-task", rows.new_id)]
    assert [(r[0], r[1], r[3]) for r in rows.history] == history and history[0][1:] == (rows.new_id, "StartEvent")
    if database.param != "?":
        assert len(sent) == 1 and sent[0].startswith('WITH "new_dossier" AS (INSERT INTO "dossier"'), sent
    else:  # the dossier, the task, the wait, the history
        assert len(sent) == 4 and sent[0].startswith('INSERT INTO "dossier"'), sent


def test_a_requests_first_read_made_with_its_tokens_user_is_the_same_and_taken_once_within_its_scope(
        app, admin_api, monkeypatch):
    """sql.user_by_token_hash's `ahead` (sql.work_item_ahead): inside sql.reads_ahead the task is read with the
    token's user (on PostgreSQL in the same statement; on SQLite, no round trip to save, by its own read); the user
    and the task are what the reads on their own give; the row is taken once, by the read asking for it with the
    user's centre, and forgotten when the scope ends; a refused token keeps nothing; outside a scope no read
    is made ahead."""
    from onestop.models import ApiToken
    from onestop.services.users import _token_hash

    task_id = _received(admin_api)["tasks"][0]["id"]
    pg = database.param != "?"

    def fields(item):  # (the columns read: a field not read holds its default, e.g. a time of now)
        return ([getattr(item, f.name) for f in sql._ITEM], [getattr(item.dossier, f.name) for f in sql.DOSSIER_HEAD],
                [getattr(item.dossier.version, f.name) for f in sql._VERSION],
                [getattr(item.dossier.procedure, f.name) for f in sql._PROCEDURE],
                item.dossier.portal_link, getattr(item.dossier, "stored_text", None))

    with app.app_context():
        hashed = _token_hash(admin_api.token)
        alone = sql.user_by_token_hash(hashed)
        expected = {state: fields(sql.work_item_in_centre(task_id, alone.centre_id, state)) for state in (False, True)}
        sent = []
        run = sql.run
        monkeypatch.setattr(sql, "run", lambda text, params=(): sent.append(text) or run(text, params))
        for state in (False, True):
            with sql.reads_ahead():
                user = sql.user_by_token_hash(hashed, functools.partial(sql.work_item_ahead, task_id, state))
                assert user.__data__ == alone.__data__
                assert len(sent) == 1, sent
                assert fields(sql.work_item_in_centre(task_id, user.centre_id, state)) == expected[state]
                assert len(sent) == (1 if pg else 2), sent
                assert fields(sql.work_item_in_centre(task_id, user.centre_id, state)) == expected[state]
                assert len(sent) == (2 if pg else 3), sent  # taken once: read again
                sql.user_by_token_hash(hashed, functools.partial(sql.work_item_ahead, task_id, state))
                assert sql.work_item_in_centre(task_id, user.centre_id + 1, state) is None  # another centre's read
                assert sql.work_item_in_centre(task_id, user.centre_id, not state) is not None  # another read
            sent.clear()
        with sql.reads_ahead():
            sql.user_by_token_hash(hashed, lambda: sql.work_item_ahead("not-a-task"))
            assert sql.work_item_in_centre("not-a-task", alone.centre_id) is None
            assert len(sent) == (1 if pg else 2), sent  # (its row: none)
        sent.clear()
        with sql.reads_ahead():
            sql.user_by_token_hash(hashed, lambda: sql.work_item_ahead(task_id))
        assert fields(sql.work_item_in_centre(task_id, alone.centre_id)) == expected[False]
        assert len(sent) == 2, sent  # the scope's row was forgotten: read anew
        sent.clear()
        assert sql.user_by_token_hash(hashed, lambda: sql.work_item_ahead(task_id)).__data__ == alone.__data__
        sql.work_item_in_centre(task_id, alone.centre_id)
        assert len(sent) == 2 and '"workitem"' not in sent[0], sent  # outside a scope: each read its own
        asked = []
        with sql.reads_ahead():
            sql.user_by_token_hash(hashed, lambda: asked.append(1))
        assert asked == ([1] if pg else [])  # SQLite (no round trip to save) does not even ask which read
        ApiToken.update(revoked=True).where(ApiToken.token_hash == hashed).execute()
        sent.clear()
        with sql.reads_ahead():
            assert sql.user_by_token_hash(hashed, lambda: sql.work_item_ahead(task_id)) is None
            sql.work_item_in_centre(task_id, alone.centre_id)
        assert len(sent) == 2, sent  # a refused token's statement kept nothing


def test_an_intakes_first_read_made_with_its_tokens_user_is_the_same_as_its_own(app, admin_api, monkeypatch):
    """sql.intake_ahead: a centre's closure and a procedure's latest version read with the token's user (on
    PostgreSQL in the same statement), as intake_version reads them on its own, for the user's centre only."""
    from onestop.services.users import _token_hash

    _received(admin_api)

    def fields(read):
        closure, found = read
        return closure, found and ([getattr(found[0], f.name) for f in sql._PROCEDURE],
                                   [getattr(found[1], f.name) for f in sql._VERSION])

    with app.app_context():
        hashed = _token_hash(admin_api.token)
        centre = sql.user_by_token_hash(hashed).centre_id
        sent = []
        run = sql.run
        monkeypatch.setattr(sql, "run", lambda text, params=(): sent.append(text) or run(text, params))
        for code in ("review", "missing"):
            expected = fields(sql.intake_version(centre, code))
            sent.clear()
            with sql.reads_ahead():
                sql.user_by_token_hash(hashed, functools.partial(sql.intake_ahead, code))
                assert fields(sql.intake_version(centre, code)) == expected
                assert len(sent) == (1 if database.param != "?" else 2), sent
                sql.user_by_token_hash(hashed, functools.partial(sql.intake_ahead, code))
                assert sql.intake_version(centre + 1, code) == ((None, None), None)  # another centre's: read anew
            assert (code == "review") == (expected[1] is not None)


def test_a_step_whose_dossier_moved_meanwhile_writes_none_of_its_rows_and_answers_409(app, admin_api):
    """The compare-and-set of a step (on PostgreSQL the guard of the statement of its rows): a dossier whose
    serial moved after the step read it refuses the step, and none of its rows is written."""
    from onestop.models import HistoryEntry, WaitingEvent

    shown = _received(admin_api)
    task_id = shown["tasks"][0]["id"]
    with app.app_context():
        dossier = Dossier.get(Dossier.code == shown["code"])
        before = (dossier.serial, HistoryEntry.select().count(), WaitingEvent.select().count(),
                  [w.id for w in WorkItem.select().order_by(WorkItem.id)])
        from onestop.services import dossiers
        real = dossiers.save_step

        def moved_meanwhile(dossier, *args, **kwargs):  # someone stores a step between the read and the write
            Dossier.update(serial=Dossier.serial + 1).where(Dossier.id == dossier.id).execute()
            return real(dossier, *args, **kwargs)

        dossiers.save_step = moved_meanwhile
        try:
            answer = admin_api.post(f"/tasks/{task_id}/complete", {"data": {"approved": True}})
        finally:
            dossiers.save_step = real
        assert answer.status_code == 409 and "changed by someone else meanwhile" in answer.json["message"]
        dossier = Dossier.get(Dossier.code == shown["code"])
        assert (dossier.serial - 1, HistoryEntry.select().count(), WaitingEvent.select().count(),
                [w.id for w in WorkItem.select().order_by(WorkItem.id)]) == before
        assert dossier.status == shown["status"]


def test_an_intake_reads_the_centres_closure_and_the_procedures_latest_version_in_one_statement(app, admin_api):
    from onestop.models import Centre

    assert admin_api.upload([MODELS / "review.bpmn", MODELS / "receive-schema.json"]).status_code == 201
    with app.app_context():
        centre = Centre.get(Centre.code == "default")
        closure, (procedure, version) = sql.intake_version(centre.id, "review")
        assert closure == (None, None)
        current = sql.current_version(centre.id, "review")
        assert (procedure.code, procedure.id, version.id, version.version) == (
            current[0].code, current[0].id, current[1].id, current[1].version)
        assert sql.intake_version(centre.id, "no-such-procedure") == ((None, None), None)
        assert sql.intake_version(centre.id + 1000, "review") == ((None, None), None)
        Centre.update(closed_on=date(2026, 1, 2)).where(Centre.id == centre.id).execute()
        closure, _ = sql.intake_version(centre.id, "review")
        assert Centre.closed_on.python_value(closure[0]) == date(2026, 1, 2) and closure[1] is None


def test_a_task_is_read_with_its_dossiers_link_to_the_national_portal(app, admin_api):
    """The link a completion's status change is queued on (services.national_portal.outbox) comes with the task."""
    from onestop.models import PortalDossier, utcnow

    shown = _received(admin_api)
    task_id = shown["tasks"][0]["id"]
    with app.app_context():
        dossier = Dossier.get(Dossier.code == shown["code"])
        assert sql.work_item_in_centre(task_id, dossier.centre_id).dossier.portal_link is None
        link = PortalDossier.create(centre=dossier.centre_id, dossier=dossier.id, portal_id="P-1", procedure_code="x",
                                    agency_code="y", created_at=utcnow())
        item = sql.work_item_in_centre(task_id, dossier.centre_id, with_state=True)
        assert item.dossier.portal_link == (link.id, dossier.centre_id) and item.dossier.stored_text[1]


def test_a_rows_times_are_read_as_the_same_values_peewee_reads_them():
    """Rows built by hand (sql._build) read a dossier's stored times without peewee's strptime, and
    every text gives what peewee's own DateTimeField gives: a time with or without microseconds, a
    bare date, a time with an offset, and texts that are not times at all (kept as they are)."""
    texts = ["2025-06-12 08:30:15.123456", "2025-06-12 08:30:15", "2025-06-12", "2025-06-12 08:30:15+07:00",
             "2025-06-12 08:30:15.123456+07:00", "2025-02-30 08:30:15", "2025-06-12 24:00:00", "2025-06-12T08:30:15",
             "２０２５-06-12 08:30:15", "2025-06-12 08:30:15.1234", "not a time", "", None]
    fields = [Dossier.created_at]
    for text in texts:
        built = sql._build(Dossier, fields, [text])
        assert built.created_at == Dossier.created_at.python_value(text), text
        assert type(built.created_at) is type(Dossier.created_at.python_value(text)), text



def test_a_code_takes_four_digits_at_least_and_a_fifth_past_9999_on_either_database(app, admin_api):
    """set_next_code writes the number in SQL on PostgreSQL and in Python on SQLite: the same text."""
    from datetime import date

    from onestop.db import write_transaction

    shown = _received(admin_api)
    day = date(2026, 1, 2)
    codes = []
    with app.app_context():
        dossier_id = Dossier.get(Dossier.code == shown["code"]).id
        for value in (8, 9998, 9999):
            with write_transaction():
                sql.run('DELETE FROM "dossiercounter" WHERE "agency" = ? AND "day" = ?', ("X", day))
                sql.run('INSERT INTO "dossiercounter" ("agency", "day", "value") VALUES (?, ?, ?)', ("X", day, value))
                codes.append(sql.set_next_code("X", day, "X-260102-", dossier_id))
        assert Dossier.get_by_id(dossier_id).code == "X-260102-10000"
    assert codes == ["X-260102-0009", "X-260102-9999", "X-260102-10000"]


def test_a_centre_read_by_its_code_is_the_row_peewee_reads_with_every_field(app):
    from datetime import date

    from onestop.models import Centre
    from onestop.services.users import ensure_default_centre

    with app.app_context():
        default = ensure_default_centre()
        full = Centre.create(code="hn", name="Hà Nội", parent=default, level="province", agency_code="H26",
                             agency_code_source="list.csv", admin_code="01", address="1 Tràng Tiền",
                             successor=default, closed_on=date(2026, 7, 1), handed_over_at=datetime(2026, 7, 1, 8, 30),
                             office_hours=[["07:30", "11:30"], ["13:30", "17:00"]], cutoff="15:00")
        for code in ("default", "hn"):
            read, expected = sql.centre_by_code(code), Centre.get(Centre.code == code)
            assert read.__data__ == expected.__data__ and type(read.office_hours) is type(expected.office_hours)
        assert sql.centre_by_code("hn").parent.code == "default"
        assert sql.centre_by_code("nowhere") is None
        assert ensure_default_centre().__data__ == Centre.get(Centre.code == "default").__data__
        assert full.id != default.id and Centre.select().count() == 2


def test_a_dossiers_open_tasks_waits_and_sitting_read_in_one_statement_are_those_each_read_gives(app, admin_api):
    """sql.open_rows reads a dossier's ready tasks and waits (and, asked, its sitting) with one statement: the
    same rows, in the same order (tasks by creation then id, waits by id), as a query of each table gives."""
    from datetime import timedelta

    from onestop.models import Sitting, WaitingEvent, utcnow

    shown = _received(admin_api)
    with app.app_context():
        dossier = Dossier.get(Dossier.code == shown["code"])
        other = Dossier.create(**{**{f.name: getattr(dossier, f.name) for f in Dossier._meta.sorted_fields
                                     if f.name != "id"}, "code": "OTHER-1"})
        assert sql.open_rows(dossier.id, sitting=True)["sitting"] is None
        now = utcnow().replace(microsecond=0)
        for n, (task_id, created) in enumerate([("b-2", now), ("a-2", now), ("c-1", now - timedelta(hours=1))]):
            WorkItem.create(id=task_id, dossier=dossier, centre=dossier.centre_id, element_id=f"E{n}", name=f"T{n}",
                            lane=None if n == 1 else "L", created_at=created,
                            due_at=now + timedelta(days=n) if n else None)
        WorkItem.create(id="x-9", dossier=other, centre=other.centre_id, element_id="X", created_at=now)
        for n, kind in enumerate(["timer", "message", "signal"]):
            WaitingEvent.create(dossier=dossier, task_id=f"w{n}", element_id=f"W{n}", type=kind,
                                name=None if n == 2 else f"N{n}", message="m" if kind == "message" else None,
                                due_at=now if kind == "timer" else None)
        WaitingEvent.create(dossier=other, task_id="wx", element_id="WX", type="timer")
        sitting = Sitting.create(centre=dossier.centre_id, dossier=dossier, procedure=dossier.procedure_id,
                                 started_at=now, received_at=now)
        tasks = [sql.TaskRow(i, e, n, lane, WorkItem.created_at.python_value(c), WorkItem.due_at.python_value(d))
                 for i, e, n, lane, c, d in sql.run(
                     'SELECT "id", "element_id", "name", "lane", "created_at", "due_at" FROM "workitem" '
                     'WHERE "dossier_id" = ? ORDER BY "created_at", "id"', (dossier.id,)).fetchall()]
        waits = [sql.WaitRow(e, t, n, WaitingEvent.due_at.python_value(d), m) for e, t, n, d, m in sql.run(
            'SELECT "element_id", "type", "name", "due_at", "message" FROM "waitingevent" '
            'WHERE "dossier_id" = ? ORDER BY "id"', (dossier.id,)).fetchall()]
        assert tasks == sorted(tasks, key=lambda t: (t.created_at, t.id)) and [t.id for t in tasks].index("a-2") + 1 \
            == [t.id for t in tasks].index("b-2")  # (one time: by id)
        assert len(tasks) == 4 and len(waits) == 3
        assert sql.open_rows(dossier.id) == {"tasks": tasks, "waiting": waits}
        assert sql.open_rows(dossier.id, sitting=True) == {"tasks": tasks, "waiting": waits, "sitting": sitting.id}
        assert [type(t.created_at) for t in tasks] == [datetime] * 4 and type(waits[0].due_at) is datetime


def test_a_built_instance_holds_what_each_fields_python_value_makes_of_the_row_and_is_not_asked_for_what_it_keeps(
        monkeypatch):
    """sql._build keeps a value its field would hand back unchanged (None, a text of a text field, an int of an integer
    field or a key, a bool, a datetime) without calling the field's conversion; every value, kept or converted, is
    what peewee's python_value makes of it."""
    from onestop.models import User

    samples = [None, "2026-12-06 05:40:01.123456", "abc", "", 7, 0, True, False, datetime(2026, 12, 6, 5, 40, 1),
               '{"a": [1, "b"]}', 3.5]
    for model, fields in ((Dossier, sql.DOSSIER_HEAD), (User, sql._USER), (WorkItem, sql._ITEM)):
        for value in samples:
            converts = {f.name: f.python_value(value) for f in fields if _converts(f, value)}
            built = sql._build(model, fields, [value if f.name in converts else None for f in fields])
            assert {name: built.__data__[name] for name in converts} == converts, (model, value)
    assert sql._unchanged(Dossier.code) == {type(None), str} and sql._unchanged(Dossier.serial) == {type(None), int}
    assert sql._unchanged(Dossier.centre) == {type(None), int} and sql._unchanged(Dossier.data) == {type(None)}
    assert sql._unchanged(Dossier.received_at) == {type(None), datetime}


def _converts(field, value):
    try:
        field.python_value(value)
    except (ValueError, TypeError):  # not a value of this field (a JSON field given a number): not compared
        return False
    return True


def test_a_multi_row_insert_of_a_shape_met_before_reuses_its_statement_text(app, monkeypatch):
    # A step's inserts (its tasks, history, audit event) were each built anew, string by string (~5 k instructions,
    # three of them under SQLite's writers' lock).
    built = []
    real = sql._insert_sql
    monkeypatch.setattr(sql, "_insert_sql", lambda *args, **kwargs: built.append(args[0]) or real(*args, **kwargs))
    with app.app_context():
        database.connect(reuse_if_open=True)
        sql.run('CREATE TABLE "shaped" ("a" INTEGER, "b" TEXT)')
        for n in range(3):
            sql.insert_rows("shaped", ("a", "b"), [(n, "x"), (n, "y")])
        sql.insert_rows("shaped", ["a", "b"], [(9, "z")])  # (columns as a list: built each time, still written)
        assert sorted(sql.run('SELECT "a", "b" FROM "shaped"').fetchall()) == [
            (0, "x"), (0, "y"), (1, "x"), (1, "y"), (2, "x"), (2, "y"), (9, "z")]
        database.close()
    assert built.count("shaped") <= 2  # the first of the shape (if not kept from an earlier test) and the list's
