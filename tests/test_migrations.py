"""Schema migrations: versioned, idempotent, and safe when several processes start at once."""

import threading

from onestop import db, migrations


def test_many_processes_starting_at_once_migrate_exactly_once(empty_database_url):
    database = db.bind(empty_database_url)
    results, errors = [], []
    barrier = threading.Barrier(6)

    def start():
        try:
            barrier.wait()
            database.connect(reuse_if_open=True)
            results.append(migrations.migrate())
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            database.close()

    threads = [threading.Thread(target=start) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    applied = sorted(name for names in results for name in names)
    assert applied == sorted(name for _, name, _ in migrations.MIGRATIONS)  # each exactly once, by whoever came first
    database.connect(reuse_if_open=True)
    assert migrations.current_version() == migrations.MIGRATIONS[-1][0]
    assert migrations.migrate() == []
    database.close()


def test_a_database_of_the_first_schema_is_brought_up_to_date_without_losing_rows(tmp_path):
    import sqlite3

    url = f"sqlite:///{tmp_path / 'old.db'}"
    database = db.bind(url)
    database.connect(reuse_if_open=True)
    migrations.migrate()
    database.close()
    with sqlite3.connect(tmp_path / "old.db") as conn:  # as an installation of the first release left it
        conn.execute("ALTER TABLE procedureversion DROP COLUMN compiled")
        conn.execute("DELETE FROM schemamigration WHERE version > 1")
        conn.execute("INSERT INTO centre (code, name, level, created_at) VALUES ('c1', 'Xã A', 'commune', '2026-01-01')")
    database.connect(reuse_if_open=True)
    applied = migrations.migrate()
    assert applied == [name for version, name, _ in migrations.MIGRATIONS if version > 1]
    columns = {c.name for c in database.get_columns("procedureversion")}
    assert "compiled" in columns
    assert database.execute_sql("SELECT code FROM centre").fetchall() == [("c1",)]
    database.close()


def test_versions_stored_before_migration_13_learn_their_application_form(sqlite_admin_api, sqlite_app):
    from tests.process_models import upload_bundled

    upload_bundled(sqlite_admin_api, "birth_registration")
    with sqlite_app.app_context():
        from onestop.models import ProcedureVersion, SchemaMigration

        ProcedureVersion.update(start_form=None).execute()
        SchemaMigration.delete().where(SchemaMigration.version == 13).execute()
        assert migrations.migrate() == ["versions name their application form (the catalogue need not load every model)"]
        assert ProcedureVersion.get().start_form == "application-schema.json"



def test_an_installation_of_the_last_release_counts_its_officials_figures_from_its_history(app, admin_api):
    """A database as migration 23 left it (units by day only, no officials' days, no ended_at) is
    brought up to date: every kept figure is recounted from the dossiers it already holds."""
    from datetime import timedelta

    from onestop.models import Centre, Dossier, utcnow
    from onestop.services import stats
    from onestop.workdays import to_local
    from tests.process_models import Walk
    from tests.process_models import test_birth_registration as birth

    sent_back = birth.resolved_after_a_send_back(admin_api)
    app.test_client().post(f"/api/v1/dossiers/{sent_back.code}/rating", json={"key": sent_back.key, "level": "hai_long"})
    refused = Walk(admin_api, birth.CODE, applicant=birth.APPLICANT, data=birth.APPLICATION)
    admin_api.post(f"/dossiers/{refused.code}/end", {"how": "not_accepted", "reason": "Không thuộc thẩm quyền"})
    with app.app_context():
        from onestop.db import database

        ids = [Centre.get(Centre.code == "default").id]
        today = to_local(utcnow()).date()
        span = (today.replace(day=1), today + timedelta(days=1))
        expected = stats.figures_from_rows(ids, *span, detail=True).as_dict()
        for table in ("daystep", "monthstep", "dayrating", "dayunit"):
            database.execute_sql(f'DROP TABLE "{table}"')
        database.execute_sql('CREATE TABLE "dayunit" ("id" INTEGER NOT NULL PRIMARY KEY, "centre_id" INTEGER NOT NULL, '
                             '"day" DATE NOT NULL, "lane" VARCHAR(255) NOT NULL, "done" INTEGER NOT NULL, '
                             '"late" INTEGER NOT NULL)')
        for index in ("dossier_centre_id_ended_at", "dossier_centre_id_state"):
            database.execute_sql(f'DROP INDEX "{index}"')
        database.execute_sql('ALTER TABLE "dossier" DROP COLUMN "ended_at"')
        database.execute_sql('DELETE FROM "schemamigration" WHERE "version" > 23')
        assert len(migrations.migrate()) == len(migrations.MIGRATIONS) - 23
        assert stats.figures(ids, *span, detail=True).as_dict() == expected
        assert Dossier.get(Dossier.code == refused.code).ended_at is not None
        assert [o["rework"] for o in expected["officials"]] == [3] and expected["ratings"]["hai_long"] == 1
        report = stats.periodic_report(ids, *span)
        assert (report["total"]["ended"], report["total"]["resolved"], report["total"]["pending"]) == (1, 1, 0)


def _as_migration_25_left_it(database):
    """Turn the trail back into the unkeyed SHA-256 chain of migration 18 (no history bound), as an
    installation of the last release holds it."""
    import hashlib
    import json

    from onestop.models import AuditEvent

    rows = database.execute_sql('SELECT "id", "chain", "seq", "centre_id", "dossier_id", "actor_id", "action", '
                                '"element_id", "detail", "at" FROM "auditevent" ORDER BY "chain", "seq"').fetchall()
    previous, chain = None, None
    for row in rows:
        if row[1] != chain:
            previous, chain = "0" * 64, row[1]
        content = json.dumps([row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8],
                              AuditEvent.at.python_value(row[9]).isoformat()], ensure_ascii=False, separators=(",", ":"))
        previous = hashlib.sha256((previous + content).encode()).hexdigest()
        database.execute_sql(f'UPDATE "auditevent" SET "hash" = {database.param}, "detail" = {database.param} '
                             f'WHERE "id" = {database.param}', (previous, row[8], row[0]))
        database.execute_sql(f'UPDATE "audithead" SET "seq" = {database.param}, "hash" = {database.param} '
                             f'WHERE "chain" = {database.param}', (row[2], previous, chain))
    database.execute_sql('ALTER TABLE "auditevent" DROP COLUMN "history"')
    database.execute_sql('DELETE FROM "schemamigration" WHERE "version" >= 26')


def test_the_unkeyed_trail_of_the_last_release_is_re_keyed_with_its_history_bound(app, admin_api):
    """Migration 26: every stored event is re-linked under the key, each dossier's stored history
    is bound to its last event, and the re-keying is itself recorded with the old chain's state."""
    from onestop.models import AuditEvent, Dossier, HistoryEntry
    from onestop.services import audit
    from tests.security.test_trail import _walk_some_dossiers

    _walk_some_dossiers(admin_api)
    with app.app_context():
        from onestop.db import database

        events_before = AuditEvent.select().count()
        _as_migration_25_left_it(database)
        applied = migrations.migrate()
        assert applied[0] == "the audit trail keyed, binding the step history, with checkpoints outside the database"
        result = audit.verify()
        assert result.broken is None
        assert result.history == HistoryEntry.select().count() > 0
        assert result.events == events_before + 1
        rekeyed = AuditEvent.get(AuditEvent.action == "audit.rekeyed")
        assert rekeyed.chain == 0 and rekeyed.detail == {"events": events_before, "history": result.history,
                                                         "unkeyed_chain": "intact"}
        for dossier in Dossier.select():
            last = AuditEvent.select().where(AuditEvent.dossier == dossier.id).order_by(AuditEvent.id.desc()).first()
            ids = sorted(h.id for h in HistoryEntry.select().where(HistoryEntry.dossier == dossier.id))
            assert [int(i) for i in (last.history or "").split(",") if i] == ids
        assert migrations.migrate() == []


def test_re_keying_a_trail_that_was_already_tampered_with_records_where_it_broke(app, admin_api):
    from onestop.models import AuditEvent
    from onestop.services import audit
    from tests.security.test_trail import _walk_some_dossiers

    _walk_some_dossiers(admin_api)
    with app.app_context():
        from onestop.db import database

        _as_migration_25_left_it(database)
        (third,) = database.execute_sql('SELECT "id" FROM "auditevent" WHERE "chain" = 1 AND "seq" = 3').fetchone()
        database.execute_sql(f'UPDATE "auditevent" SET "action" = {database.param} WHERE "id" = {database.param}',
                             ("dossier.forged", third))
        migrations.migrate()
        assert audit.verify().broken is None  # from now on, under the key
        state = AuditEvent.get(AuditEvent.action == "audit.rekeyed").detail["unkeyed_chain"]
        assert f"event {third} (number 3 of chain 1)" in state and "altered" in state


def _index_definitions(database) -> dict:
    """Index name -> its definition as the database keeps it (SQL text)."""
    if database.param == "?":
        rows = database.execute_sql("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")
    else:
        rows = database.execute_sql("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()")
    return dict(rows.fetchall())


PARTIAL = {"dossier_next_timer_at": ("dossier", "next_timer_at"), "dossier_received_by_id": ("dossier", "received_by_id"),
           "dossier_switch_over_at": ("dossier", "switch_over_at"), "workitem_unit_id": ("workitem", "unit_id"),
           "workitem_claimed_by_id": ("workitem", "claimed_by_id"), "historyentry_actor_id": ("historyentry", "actor_id"),
           "dossier_centre_id_business_key": ("dossier", "centre_id", "business_key")}


def test_columns_empty_in_most_rows_are_indexed_only_where_set_in_a_new_and_in_an_upgraded_database(database_url):
    """A new dossier, task or history row writes no index page for the columns it leaves empty, none of
    the centre alone (those that start with the centre serve it), none of a task's creation time alone
    (read after the centre or the dossier) and none of the lookup key's hash (never looked up): on a new
    database, and on one whose last release indexed every row."""
    database = db.bind(database_url)
    database.connect(reuse_if_open=True)

    def check():
        found = _index_definitions(database)
        assert not {"dossier_centre_id", "workitem_centre_id", "workitem_created_at", "dossier_lookup_hash"} & set(found)
        for name, (_table, *columns) in PARTIAL.items():
            assert "IS NOT NULL" in found[name], found[name]  # SQLite: WHERE "x" IS NOT NULL; PostgreSQL: WHERE (x IS NOT NULL)
            assert all(column in found[name] for column in columns)
        assert "UNIQUE" in found["dossier_centre_id_business_key"].upper()  # one dossier per business key, still

    try:
        check()
        for name, (table, *columns) in PARTIAL.items():  # as the last release left them: every row indexed
            database.execute_sql(f'DROP INDEX "{name}"')
            unique = "UNIQUE " if name == "dossier_centre_id_business_key" else ""
            database.execute_sql(f'CREATE {unique}INDEX "{name}" ON "{table}" (' + ", ".join(f'"{c}"' for c in columns) + ")")
        database.execute_sql('CREATE INDEX "dossier_centre_id" ON "dossier" ("centre_id")')
        database.execute_sql('CREATE INDEX "workitem_centre_id" ON "workitem" ("centre_id")')
        database.execute_sql('CREATE INDEX "dossier_lookup_hash" ON "dossier" ("lookup_hash")')
        database.execute_sql('CREATE INDEX "workitem_created_at" ON "workitem" ("created_at")')
        version, name = next((v, n) for v, n, step in migrations.MIGRATIONS if step is migrations._lean_indexes)
        database.execute_sql(f'DELETE FROM "schemamigration" WHERE "version" = {int(version)}')
        assert migrations.migrate() == [name]
        check()
    finally:
        database.close()


def _compression(database) -> dict:
    """(table, column) -> the compression PostgreSQL's catalog sets for the dossier's columns ('' = the server's
    default, pglz unless default_toast_compression says otherwise)."""
    rows = database.execute_sql(
        "SELECT c.relname, a.attname, a.attcompression FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "WHERE c.relname = 'dossier' AND c.relnamespace = current_schema()::regnamespace AND a.attnum > 0")
    return {(table, column): method for table, column, method in rows.fetchall()}


def test_the_dossiers_state_and_data_are_compressed_with_lz4_on_postgresql_in_a_new_and_an_upgraded_database(
        database_url):
    """Every step writes the dossier's workflow state (~5 kB of JSON) and data anew, and PostgreSQL compresses
    them: with lz4 rather than pglz, which cost 14 % of the server's instructions per request. On a new
    database and on one the last release left with the server's default; on SQLite the migration is recorded
    and changes nothing."""
    database = db.bind(database_url)
    database.connect(reuse_if_open=True)
    version, name = next((v, n) for v, n, step in migrations.MIGRATIONS if step is migrations._lz4_state)
    try:
        if database.param == "?":
            assert migrations.current_version() >= version
            database.execute_sql(f'DELETE FROM "schemamigration" WHERE "version" = {int(version)}')
            assert migrations.migrate() == [name]
            return
        stored = _compression(database)
        assert {stored[column] for column in migrations.LZ4_COLUMNS} == {"l"}, stored
        assert stored[("dossier", "applicant")] == ""  # written once, at intake: left to the server
        for table, column in migrations.LZ4_COLUMNS:  # as the last release left them
            database.execute_sql(f'ALTER TABLE "{table}" ALTER COLUMN "{column}" SET COMPRESSION DEFAULT')
        database.execute_sql(f'DELETE FROM "schemamigration" WHERE "version" = {int(version)}')
        assert {_compression(database)[column] for column in migrations.LZ4_COLUMNS} == {""}
        assert migrations.migrate() == [name]
        assert {_compression(database)[column] for column in migrations.LZ4_COLUMNS} == {"l"}
        assert migrations.migrate() == []
    finally:
        database.close()


def test_a_steps_rows_leave_the_centres_accounts_and_procedures_rows_unlocked_on_postgresql(app, admin_api):
    """Dossiers started and stepped write no lock into the registry rows they name (on PostgreSQL each foreign
    key check locked them FOR KEY SHARE, and concurrent steps of a centre made a multixact of every locker);
    the foreign keys to the dossier itself stay. SQLite keeps all of its foreign keys (its checks lock no row)."""
    from onestop.db import database
    from tests.conftest import MODELS

    def lockers():  # the last transaction that locked or deleted each row (xmax), or 0; PostgreSQL's only
        with app.app_context():
            if database.param == "?":
                return None
            return {table: database.execute_sql(f'SELECT "id", xmax::text FROM "{table}" ORDER BY "id"').fetchall()
                    for table in migrations.REGISTRY_TABLES}

    assert admin_api.upload([MODELS / "review.bpmn", MODELS / "receive-schema.json"]).status_code == 201
    before = lockers()
    tasks = []
    for _ in range(3):
        started = admin_api.post("/dossiers", {"procedure": "review"})
        assert started.status_code == 201
        tasks.append(started.json["tasks"][0]["id"])
    for task in tasks[:2]:
        done = admin_api.post(f"/tasks/{task}/complete", {"data": {"applicant_name": "Lê Bình", "documents_complete": True}})
        assert done.status_code == 200, done.json
    with app.app_context():
        if database.param == "?":
            named = {row[2] for table in migrations.HOT_TABLES
                     for row in database.execute_sql(f'PRAGMA foreign_key_list("{table}")').fetchall()}
            assert set(migrations.REGISTRY_TABLES) | {"dossier"} <= named
            return
        assert lockers() == before
        assert migrations._registry_references(database.obj) == []
        to_dossier = database.execute_sql(
            "SELECT conrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'f' "
            "AND confrelid = 'dossier'::regclass AND conrelid::regclass::text IN ('workitem', 'historyentry', "
            "'auditevent')").fetchall()
        assert sorted(table for table, _ in to_dossier) == ["auditevent", "historyentry", "workitem"]
        assert all("ON DELETE CASCADE" in definition for _, definition in to_dossier)


def test_a_database_whose_steps_locked_the_registry_rows_is_upgraded(database_url):
    """The migration finds the foreign keys by what they join, whatever their names (a new database's are
    PostgreSQL's, an upgraded one's playhouse's), and drops them on PostgreSQL only."""
    database = db.bind(database_url)
    database.connect(reuse_if_open=True)
    version, name = next((v, n) for v, n, step in migrations.MIGRATIONS if step is migrations._registry_unlocked)
    try:
        if database.param != "?":
            database.execute_sql('ALTER TABLE "workitem" ADD CONSTRAINT "fk_workitem_claimed_by_id_refs_user" '
                                 'FOREIGN KEY ("claimed_by_id") REFERENCES "user" ("id") ON DELETE SET NULL')
            database.execute_sql('ALTER TABLE "dossier" ADD CONSTRAINT "dossier_centre_id_fkey" '
                                 'FOREIGN KEY ("centre_id") REFERENCES "centre" ("id")')
            assert len(migrations._registry_references(database)) == 2
        database.execute_sql(f'DELETE FROM "schemamigration" WHERE "version" = {int(version)}')
        assert migrations.migrate() == [name]
        if database.param != "?":
            assert migrations._registry_references(database) == []
    finally:
        database.close()


def test_the_indexes_of_who_took_a_dossier_in_and_who_did_an_audited_act_are_gone_in_a_new_and_an_upgraded_database(
        database_url):
    """No query reads dossiers by who took them in, or audit events by who did them: neither index is written
    (a new database never makes them, an upgraded one drops them), on SQLite and PostgreSQL."""
    database = db.bind(database_url)
    database.connect(reuse_if_open=True)
    version, name = next((v, n) for v, n, step in migrations.MIGRATIONS if step is migrations._unread_indexes)
    try:
        assert not set(migrations.UNREAD_INDEXES) & set(_index_definitions(database))
        database.execute_sql('CREATE INDEX "dossier_created_by_id" ON "dossier" ("created_by_id")')  # the last release's
        database.execute_sql('CREATE INDEX "auditevent_actor_id" ON "auditevent" ("actor_id")')
        database.execute_sql(f'DELETE FROM "schemamigration" WHERE "version" = {int(version)}')
        assert migrations.migrate() == [name]
        assert not set(migrations.UNREAD_INDEXES) & set(_index_definitions(database))
    finally:
        database.close()
