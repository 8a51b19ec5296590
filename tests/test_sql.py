"""The hand-written SQL answers in named rows: callers read a column by its name, never its place."""

from datetime import datetime

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
