"""Every figure equals the truth planted in a generated history: dossiers received on the afternoon
before Tết, paused for a supplement, decided early, on the day, late or after an apology."""

from datetime import date, datetime, timedelta

import pytest

from onestop.models import Centre, Dossier, HistoryEntry, Procedure, ProcedureVersion, Rating
from onestop.services import audit, deadlines, stats
from onestop.status import ENDED
from onestop.workdays import Deadline, to_local, to_utc
from tests.conftest import MODELS, make_user

JAN = (date(2027, 1, 1), date(2027, 2, 28))  # Tết Đinh Mùi: 4-10 February 2027
NOW = to_utc(datetime(2027, 3, 15, 10, 0))
PLAN = deadlines.Plan(Deadline(3))


def local(*args):
    return to_utc(datetime(*args))


class History:
    """A generator of dossiers with known outcomes, written as the services would have left them."""

    def __init__(self, centre, procedure, version, officer):
        self.centre, self.procedure, self.version, self.officer, self.n = centre, procedure, version, officer, 0

    def dossier(self, received, resolved=None, channel="counter", status=None, paused=None, apologised=None,
                supplement=False, state="active"):
        """received/resolved: UTC; paused: (from, to) UTC, moves the due time by the office time waited."""
        self.n += 1
        due = deadlines.dossier_due(self.centre.id, PLAN, received)
        if paused:
            calendar = deadlines.calendar_for(self.centre.id)
            due = to_utc(calendar.extended(to_local(due), to_local(paused[0]), to_local(paused[1])))
        status = status or ("resolved" if resolved else "processing")
        ended = received + (resolved - received if resolved else timedelta(hours=1)) if status in ENDED else None
        row = Dossier.create(centre=self.centre, code=f"STAT-{self.n:04d}", procedure=self.procedure,
                             version=self.version, state=state, workflow="{}", status=status, channel=channel,
                             received_at=received, due_at=due, resolved_at=resolved, apologised_at=apologised,
                             ended_at=ended, created_at=received, updated_at=resolved or received)
        if supplement:
            audit.record("dossier.supplement_requested", self.officer, dossier=row, detail={"reason": "x"})
        return row

    def step(self, dossier, lane, started, finished, due, actor=None):
        HistoryEntry.create(dossier=dossier, task_id=f"t{self.n}-{lane}", element_id=f"Task_{lane[:3]}", name=lane,
                            state="completed", at=finished, actor=actor, lane=lane, started_at=started, due_at=due)


def test_every_figure_equals_the_planted_truth(app, admin_api):
    assert admin_api.upload([MODELS / "review.bpmn", MODELS / "receive-schema.json"]).status_code == 201
    with app.app_context():
        centre = Centre.get(Centre.code == "default")
        officer, _ = make_user("canbo.stats", ("officer",))
        procedure = Procedure.get(Procedure.code == "review")
        h = History(centre, procedure, ProcedureVersion.get(ProcedureVersion.procedure == procedure), officer)

        # Received on Wednesday 3 Feb 2027, 16:00, after the cut-off and on the eve of Tết: the 3 working
        # days run from Thursday 11 February; due Monday 15 February at closing.
        eve = h.dossier(local(2027, 2, 3, 16), resolved=local(2027, 2, 15, 16, 30), channel="online")
        assert to_local(eve.due_at) == datetime(2027, 2, 15, 17, 0)  # on time, on the day
        h.dossier(local(2027, 1, 11, 9), resolved=local(2027, 1, 12, 10))  # early
        h.dossier(local(2027, 1, 11, 9), resolved=local(2027, 1, 13, 9), channel="online")  # early
        h.dossier(local(2027, 1, 11, 9), resolved=local(2027, 1, 14, 8, 30))  # on the promised day, before 09:00
        h.dossier(local(2027, 1, 11, 9), resolved=local(2027, 1, 18, 9))  # late
        h.dossier(local(2027, 1, 12, 9), resolved=local(2027, 1, 13, 9), apologised=local(2027, 1, 12, 15))  # late
        # Paused four working days for a supplement: decided on the 20th, on time only thanks to the pause.
        paused = h.dossier(local(2027, 1, 11, 9), resolved=local(2027, 1, 20, 9), supplement=True,
                           paused=(local(2027, 1, 12, 8), local(2027, 1, 18, 8)))
        assert paused.resolved_at <= paused.due_at and paused.resolved_at > local(2027, 1, 14, 17)
        no_deadline = h.dossier(local(2027, 1, 15, 9), resolved=local(2027, 1, 16, 9))
        Dossier.update(due_at=None).where(Dossier.id == no_deadline.id).execute()
        h.dossier(local(2027, 1, 20, 9), status="not_accepted", state="cancelled")
        h.dossier(local(2027, 1, 21, 9), supplement=True)  # still pending, not yet due? due 26 Jan: overdue by March
        h.dossier(local(2027, 3, 12, 9), channel="online")  # pending, not due before 17 March
        h.dossier(local(2026, 12, 30, 9), resolved=local(2027, 1, 4, 9))  # received before the period
        Dossier.update(status="returned", returned_at=local(2027, 1, 5, 9)).where(Dossier.code == "STAT-0012").execute()
        Rating.create(dossier=eve, level="rat_hai_long", at=local(2027, 2, 16, 9))
        Rating.create(dossier=Dossier.get(Dossier.code == "STAT-0002"), level="hai_long", at=local(2027, 1, 12, 11))
        Rating.create(dossier=Dossier.get(Dossier.code == "STAT-0005"), level="khong_hai_long", at=local(2027, 1, 18, 10))
        one_stop, justice = "Bộ phận Một cửa", "Công chức Tư pháp"
        leader, _ = make_user("lanhdao.stats", ("leader", "officer"))
        d2 = Dossier.get(Dossier.code == "STAT-0002")
        h.step(d2, one_stop, local(2027, 1, 11, 9), local(2027, 1, 11, 10), local(2027, 1, 11, 17), officer)
        h.step(d2, justice, local(2027, 1, 11, 10), local(2027, 1, 12, 10), local(2027, 1, 12, 17), officer)
        d5 = Dossier.get(Dossier.code == "STAT-0005")
        h.step(d5, justice, local(2027, 1, 11, 10), local(2027, 1, 18, 9), local(2027, 1, 13, 17), officer)
        # Done again by the leader after the citizen had rated the dossier: rework, and not rated.
        h.step(d5, justice, local(2027, 1, 18, 9), local(2027, 1, 19, 9, 30), None, leader)

        stats.rebuild()  # the history was written behind the services' back: count it into the days
        got = stats.figures([centre.id], *JAN, now=NOW, detail=True)
        counted = stats.figures_from_rows([centre.id], *JAN, now=NOW, detail=True)  # the definition, from the rows
        assert counted.as_dict() == got.as_dict()
        report = stats.periodic_report([centre.id], *JAN, now=NOW)
        # In progress at midnight on 15 January: the late 0005 and the paused 0007; on 4 February: the
        # dossier of Tết's eve and 0010, waiting on its supplement.
        to_the_15th = stats.periodic_report([centre.id], date(2027, 1, 1), date(2027, 1, 15), now=NOW)
        early_february = stats.periodic_report([centre.id], date(2027, 2, 1), date(2027, 2, 4), now=NOW)
        public = stats.figures_from_rows([centre.id], *JAN, now=NOW)
        assert public.as_dict(public=True) == stats.figures([centre.id], *JAN, now=NOW).as_dict(public=True)

    assert got.received == 10  # not December's, not March's
    assert got.online == 2 and got.online_share == 20.0
    assert got.not_accepted == 1 and got.supplemented == 2
    assert got.resolved == 9  # December's dossier was decided on 4 January
    assert (got.early, got.on_time, got.late, got.without_deadline) == (3, 6, 2, 1)
    assert got.on_time_rate == 75.0
    assert got.returned == 1
    assert (got.pending_now, got.overdue_now) == (2, 1)
    assert got.ratings == {"rat_hai_long": 1, "hai_long": 1, "khong_hai_long": 1}
    assert round(got.satisfaction_rate, 1) == 66.7
    units = {u["name"]: u for u in got.units}
    rated = {"rat_hai_long": 0, "hai_long": 1, "khong_hai_long": 1}
    # 24 h, 167 h (late) and 24.5 h: the nine-in-ten time is 167 h's bucket, 164-168 h
    assert units[justice] == {"name": justice, "done": 3, "on_time": 2, "late": 1, "rework": 1,
                              "average_hours": round((24 + 167 + 24.5) / 3, 2), "p90_hours": 168.0, "ratings": rated,
                              "satisfaction_rate": 50.0}
    assert units[one_stop] == {"name": one_stop, "done": 1, "on_time": 1, "late": 0, "rework": 0,
                               "average_hours": 1.0, "p90_hours": 1.0, "ratings": {**rated, "khong_hai_long": 0},
                               "satisfaction_rate": 100.0}
    people = {o["name"]: o for o in got.officials}
    assert people["canbo.stats"] == {"name": "canbo.stats", "full_name": "canbo.stats", "done": 3, "on_time": 2, "late": 1, "rework": 0,
                                     "average_hours": 64.0, "p90_hours": 168.0, "ratings": rated,
                                     "satisfaction_rate": 50.0}
    assert people["lanhdao.stats"] == {"name": "lanhdao.stats", "full_name": "lanhdao.stats", "done": 1, "on_time": 1, "late": 0, "rework": 1,
                                       "average_hours": 24.5, "p90_hours": 25.0, "ratings": dict.fromkeys(rated, 0),
                                       "satisfaction_rate": None}
    assert [(s["procedure"], s["element"], s["done"], s["rework"]) for s in got.steps] == [
        ("review", "Task_Côn", 3, 1), ("review", "Task_Bộ ", 1, 0)]
    public_units = {u["name"]: u for u in public.units}
    assert public_units[justice] == {"name": justice, "done": 3, "on_time": 2, "late": 1, "ratings": rated,
                                     "satisfaction_rate": 50.0}
    assert got.as_dict(public=True).keys() >= {"on_time_rate", "units", "ratings"} and "officials" not in got.as_dict(
        public=True)
    # The report upward: the December dossier carried over, the one waiting on a supplement still open
    # (and overdue) at the end; carried over + received - resolved - ended = in progress at the end.
    assert report["total"] | {"field": "Khác"} == report["rows"][0] == {
        "field": "Khác", "carried_over": 1, "received_online": 2, "received_other": 8, "resolved": 9, "early": 3,
        "on_time": 3, "late": 2, "without_deadline": 1, "ended": 1, "pending": 1, "pending_in_time": 0,
        "pending_overdue": 1}
    assert (report["from"], report["to"]) == ("2027-01-01", "2027-02-27")  # JAN ends before its end
    assert [r["pending"] for r in (to_the_15th["rows"][0], early_february["rows"][0])] == [2, 2]
    march = stats.figures([centre.id], date(2027, 3, 1), date(2027, 4, 1), now=NOW)
    assert (march.received, march.resolved) == (1, 0)
    assert stats.period(None, None, date(2027, 3, 15)) == (date(2027, 3, 1), date(2027, 3, 16))
    months = stats.monthly([centre.id], 3, date(2027, 2, 20))
    assert [m.isoformat() for m, _ in months] == ["2026-12-01", "2027-01-01", "2027-02-01"]
    assert [f.received for _, f in months] == [1, 9, 1]


def test_a_steps_hours_fall_in_the_narrowest_bucket_that_holds_them():
    edges = [0, 1, 899, 900, 901, 8 * 3600, 8 * 3600 + 1, 48 * 3600, 48 * 3600 + 1, 240 * 3600, 240 * 3600 + 1,
             400 * 86400]
    for seconds in edges + list(range(0, 300 * 3600, 997)):
        b = stats.bucket(seconds)
        assert stats.bound(b) * 3600 >= seconds and (b == 0 or stats.bound(b - 1) * 3600 < seconds), seconds
    assert [stats.bound(stats.bucket(h * 3600)) for h in (0.1, 1, 7.9, 9.5, 30, 49, 200, 241)] == [
        0.25, 1.0, 8.0, 10.0, 30.0, 52.0, 200.0, 264.0]


def test_a_period_reads_whole_months_from_the_months_and_the_rest_from_the_days():
    split = stats._months_and_days
    assert split(date(2027, 1, 1), date(2027, 2, 1)) == [("monthstep", "month", date(2027, 1, 1), date(2027, 2, 1))]
    assert split(date(2027, 1, 10), date(2027, 1, 20)) == [("daystep", "day", date(2027, 1, 10), date(2027, 1, 20))]
    assert split(date(2026, 12, 10), date(2027, 3, 5)) == [
        ("monthstep", "month", date(2027, 1, 1), date(2027, 3, 1)), ("daystep", "day", date(2026, 12, 10), date(2027, 1, 1)),
        ("daystep", "day", date(2027, 3, 1), date(2027, 3, 5))]
    assert split(date(2027, 1, 10), date(2027, 2, 10)) == [("daystep", "day", date(2027, 1, 10), date(2027, 2, 10))]


def test_the_766_index_counts_procedures_and_online_dossiers_by_online_level_and_a_fee_note_as_a_public_fee(
        sqlite_app, sqlite_admin_api):
    from onestop.models import utcnow
    from tests.web.test_portal import _with_record

    for folder, changes in (("copy_certification", {"online_level": "full", "fee_vnd": None,
                                                    "fee_note": "Theo Nghị quyết của HĐND tỉnh"}),
                            ("marriage_registration", {"online_level": "partial"}), ("birth_registration", {})):
        assert sqlite_admin_api.upload(_with_record(folder, **changes)).status_code == 201
    with sqlite_app.app_context():
        for n, (code, channel) in enumerate((("2.000815", "online"), ("2.000815", "online"), ("1.000894", "online"),
                                             ("1.001193", "counter"))):
            procedure = Procedure.get(Procedure.code == code)
            Dossier.create(centre=procedure.centre, code=f"766-{n}", procedure=procedure, workflow="{}",
                           version=ProcedureVersion.get(ProcedureVersion.procedure == procedure), channel=channel,
                           received_at=utcnow(), created_at=utcnow())
        stats.rebuild()  # the planted dossiers' kept figures
        ids = [Centre.get(Centre.code == "default").id]
        groups = {g["key"]: g for g in stats.index(ids, date(2000, 1, 1), date(2100, 1, 1))}
    assert groups["online_service"]["counts"] == {
        "procedures_full": 1, "procedures_partial": 1, "procedures_none": 0, "procedures_unstated": 1,
        "online_dossiers_full": 2, "online_dossiers_partial": 1}
    assert groups["online_service"]["score"] == 9.0  # 12 × 3 online of 4 received
    assert groups["publicity"]["score"] == 18.0  # copy_certification's fee is public as a note


@pytest.mark.parametrize("server_zone", ["UTC", "Asia/Ho_Chi_Minh", "America/Los_Angeles"])
@pytest.mark.parametrize("utc_time", ["16:30", "17:30"])  # 23:30 and 00:30 (the next day) in Vietnam
def test_the_periodic_report_counts_a_dossier_on_vietnams_day_at_any_hour_in_any_server_zone(
        sqlite_url, tmp_path, engine, server_zone, utc_time, monkeypatch):
    """The report of Vietnam's today, by default and as the desk asks for it, holds the dossier
    received just now, whatever the hour and the server's own time zone: between 17:00 and 24:00
    UTC, UTC's date is Vietnam's yesterday (a test that compared them failed every evening)."""
    import time

    from onestop.clock import ShiftedClock
    from onestop.models import local_today, utcnow
    from onestop.services import dossiers, procedures
    from tests.conftest import _make_app, shift_to_hour
    from tests.process_models import bundled_files

    monkeypatch.setenv("TZ", server_zone)
    time.tzset()
    try:
        app = _make_app(sqlite_url, tmp_path, engine, clock=ShiftedClock(shift_to_hour(utc_time)))
        with app.app_context():
            leader, _ = make_user("lanhdao", ("admin", "leader", "officer"))
            procedures.upload_procedure(leader, [procedures.Upload(p.name, p.read_bytes())
                                                 for p in bundled_files("copy_certification")])
            dossiers.start_dossier(leader, "2.000815", {
                "requester_full_name": "Nguyễn Thị Hoa", "requester_citizen_id": "022190012345",
                "papers": [{"paper_name": "Văn bằng", "pages": 2, "copies": 1}]})
            now = utcnow()
            today = local_today()
            assert f"{now:%H:%M}" == utc_time and today == to_local(now).date()
            assert today == now.date() + timedelta(days=1 if utc_time == "17:30" else 0)
            on_the_day = stats.report_for(leader, None, today, today, today)
            day_before = stats.report_for(leader, None, today - timedelta(days=1), today - timedelta(days=1), today)
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    assert on_the_day["from"] == on_the_day["to"] == today.isoformat()
    assert on_the_day["total"]["received_other"] + on_the_day["total"]["received_online"] == 1
    assert day_before["total"]["received_other"] + day_before["total"]["received_online"] == 0


def test_a_dossier_with_a_file_but_no_paper_scanned_and_confirmed_does_not_score_digitisation(app, admin_api):
    """Decision 766's digitisation group counts papers scanned and confirmed at intake over papers
    received, not dossiers carrying "at least one file" (which scored a counter dossier whose
    applicant attached a PDF the full 22 points though no paper was digitised)."""
    from tests.process_models import upload_bundled
    from tests.process_models.test_birth_registration import APPLICATION, CODE

    upload_bundled(admin_api, "birth_registration")
    started = admin_api.post("/dossiers", json={"procedure": CODE, "data": APPLICATION})
    assert started.status_code == 201
    with app.app_context():
        ids = [Centre.get(Centre.code == "default").id]
        groups = {g["key"]: g for g in stats.index(ids, date(2000, 1, 1), date(2100, 1, 1))}
    assert groups["digitisation"]["score"] is None  # no paper received at a counter: nothing to score yet


def test_a_sqlite_batchs_additions_to_one_figure_row_are_written_in_one_upsert_and_read_the_same(
        sqlite_app, sqlite_admin_api):
    # The units of a SQLite batch add to the same rows (the same day, procedure, step): one upsert a row for the
    # whole batch, the counts added up and the step's name kept at the greatest, as one upsert a unit leaves
    # them; a unit that fails takes its additions with it.
    from onestop import sql
    from onestop.services.stats import counters
    from tests.services.test_audit import one_sqlite_batch

    assert sqlite_admin_api.upload([MODELS / "review.bpmn", MODELS / "receive-schema.json"]).status_code == 201
    at = datetime(2026, 3, 2, 3, 0)
    with sqlite_app.app_context():
        procedure = Procedure.get()
        centre, key = procedure.centre_id, {"centre_id": procedure.centre_id, "procedure_id": procedure.id,
                                            "lane": "L", "element_id": "E", "actor_id": 0, "bucket": 0}

        def step(name, fails=False, **counted):
            def work():
                counters.count(centre, procedure.id, at, **counted)
                counters._add("daystep", key | {"name": name, "day": at.date()},
                              {"done": 1, "late": 0, "rework": 0, "seconds": 5}, greatest=("name",))
                if fails:
                    raise ValueError("refused")
            return work

        errors, statements = one_sqlite_batch([step("B", received=1), step("Z", fails=True, received=5),
                                               step("C", received=1, online=1), step("A", resolved=1)])
        assert [type(e) for e in errors] == [type(None), ValueError, type(None), type(None)]
        for table in ("dayfigure", "daystep"):  # before: 3 each
            assert len([s for s in statements if s.startswith(f'INSERT INTO "{table}"')]) == 1, statements
        figures = sql.run('SELECT "received", "online", "resolved" FROM "dayfigure"').fetchall()
        assert [tuple(row) for row in figures] == [(2, 1, 1)]
        steps = sql.run('SELECT "name", "done", "seconds" FROM "daystep"').fetchall()
        assert [tuple(row) for row in steps] == [("C", 3, 15)]
