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



def test_a_new_process_making_both_templates_at_once_from_two_threads_migrates_each_database(tmp_path):
    """Both templates made at the same moment, as test_budgets' two servers start: migrating binds the
    module-level database proxy, so one thread's migration once ran on the other's database (CI: the
    SQLite template's rows went to PostgreSQL: 'relation "schemamigration" does not exist')."""
    from concurrent.futures import ThreadPoolExecutor

    from tests.support.templates import Templates

    admin_url = admin_url_or_skip()
    for attempt in range(3):  # each a process's first use: no template made yet
        folder = tmp_path / f"templates{attempt}"
        folder.mkdir()
        templates = Templates(folder)
        try:
            with ThreadPoolExecutor(2) as pool:
                sqlite = pool.submit(templates.sqlite, tmp_path / f"copy{attempt}.db")
                postgres = pool.submit(templates.postgres, admin_url)
                urls = [sqlite.result(), postgres.result()]
            try:
                for url in urls:
                    tables, version = _tables_and_version(url)
                    assert version == migrations.MIGRATIONS[-1][0], url
                    assert {"dossier", "auditevent", "schemamigration"} <= tables, url
            finally:
                drop_test_database(urls[1])
        finally:
            templates.drop()
