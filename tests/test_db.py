"""The embedded database is durable: WAL journal, synchronous=FULL, foreign keys on."""

from onestop.db import database


def test_sqlite_runs_in_wal_mode_with_full_synchronous_writes(sqlite_app):
    with sqlite_app.app_context():
        database.connect(reuse_if_open=True)
        assert database.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert database.execute_sql("PRAGMA synchronous").fetchone()[0] == 2
        assert database.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1
        database.close()
