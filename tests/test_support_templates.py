"""The tests' databases: copies of a migrated template, each test's own."""

from onestop import db, migrations
from tests.support.postgres import admin_url_or_skip, drop_test_database


def _tables_and_version(url, create=None):
    database = db.bind(url)
    database.connect(reuse_if_open=True)
    try:
        if create:
            database.execute_sql(f'CREATE TABLE "{create}" ("x" INTEGER)')
        tables = set(database.get_tables())
        return tables, migrations.current_version() if "schemamigration" in tables else None
    finally:
        database.close()
        if hasattr(database, "close_all"):
            database.close_all()


def test_a_tests_database_is_fully_migrated_and_what_it_gains_never_reaches_the_next_copy(database_url,
                                                                                           database_templates, tmp_path):
    tables, version = _tables_and_version(database_url, create="left_by_a_test")
    assert version == migrations.MIGRATIONS[-1][0]
    assert {"dossier", "auditevent", "schemamigration", "left_by_a_test"} <= tables

    if database_url.startswith("sqlite"):
        other = database_templates.sqlite(tmp_path / "other.db")
    else:
        other = database_templates.postgres(admin_url_or_skip())
    try:
        other_tables, other_version = _tables_and_version(other)
    finally:
        if other.startswith("postgres"):
            drop_test_database(other)
    assert other_version == version and other_tables == tables - {"left_by_a_test"}


def test_the_migrations_own_database_starts_empty(empty_database_url):
    assert _tables_and_version(empty_database_url) == (set(), None)
