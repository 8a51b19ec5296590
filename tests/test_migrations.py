"""Schema migrations: versioned, idempotent, and safe when several processes start at once."""

import threading

from onestop import db, migrations


def test_many_processes_starting_at_once_migrate_exactly_once(database_url):
    database = db.bind(database_url)
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

