"""PostgreSQL for the tests: a server to use, and a fresh database per test (or per module).

The server and its databases come from ``bench/pgserver.py`` (shared with the benchmarks, which
must not import the tests); this module adds what is pytest's: skip a test when there is no
server, or fail it when ``ONESTOP_REQUIRE_POSTGRES=1`` (CI), and start a throwaway cluster in
memory (/dev/shm) when there is room.

Typical use in a test module::

    from tests.support.postgres import admin_url_or_skip, temporary_database

    @pytest.fixture
    def pg_url():
        with temporary_database(admin_url_or_skip()) as url:
            yield url          # postgresql://...; peewee: playhouse.db_url.connect(url)
"""

from bench.pgserver import (
    ENV_REQUIRE,
    ENV_URL,
    create_test_database,
    drop_test_database,
    memory_folder,
    postgres_unavailable_reason,
    require_postgres,
    temporary_database,
)
from bench.pgserver import (
    postgres_admin_url as server_admin_url,
)

__all__ = ["ENV_REQUIRE", "ENV_URL", "admin_url_or_skip", "create_test_database", "drop_test_database",
           "postgres_admin_url", "postgres_unavailable_reason", "require_postgres", "temporary_database"]


def postgres_admin_url() -> str | None:
    """The admin URL (``bench.pgserver.postgres_admin_url``); a throwaway cluster started for the
    tests lives in memory when there is room (``memory_folder``): the tests create and drop a
    database per test."""
    return server_admin_url(memory_folder())


def admin_url_or_skip() -> str:
    """The admin URL; else skip the test, or fail it when ONESTOP_REQUIRE_POSTGRES=1."""
    import pytest

    url = postgres_admin_url()
    if url:
        return url
    message = f"PostgreSQL unavailable: {postgres_unavailable_reason()}"
    if require_postgres():
        pytest.fail(f"{message} (and {ENV_REQUIRE}=1)", pytrace=False)
    pytest.skip(message)
