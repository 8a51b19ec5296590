"""The database handle: declared unbound here, bound by the app factory or the CLI.

SQLite (embedded default) runs in WAL mode with synchronous=FULL; PostgreSQL is chosen by a
postgresql:// URL. Everything else in onestop talks to `database` and never knows which.
"""

from urllib.parse import urlparse

from peewee import DatabaseProxy, SqliteDatabase
from playhouse.pool import PooledPostgresqlDatabase

database = DatabaseProxy()

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "synchronous": "full",
    "foreign_keys": 1,
    "busy_timeout": 30000,
    "cache_size": -16000,
}


def open_database(url: str):
    """A peewee Database for a sqlite:///path or postgresql://user:pw@host:port/name URL."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = parsed.path if parsed.netloc == "" else parsed.netloc + parsed.path
        if path in ("", "/:memory:"):
            path = ":memory:"
        return SqliteDatabase(path, pragmas=SQLITE_PRAGMAS, timeout=30)
    if parsed.scheme in ("postgres", "postgresql"):
        return PooledPostgresqlDatabase(
            parsed.path.lstrip("/"),
            user=parsed.username,
            password=parsed.password,
            host=parsed.hostname or "localhost",
            port=parsed.port or 5432,
            max_connections=64,
            stale_timeout=300,
            timeout=30,
        )
    raise ValueError(f"unsupported database URL scheme {parsed.scheme!r} (use sqlite:/// or postgresql://)")


def bind(url: str):
    """Bind the module-level proxy to the database at url and return it."""
    db = open_database(url)
    database.initialize(db)
    return db


def init_app(app):
    """Open a connection for each request and give it back afterwards."""

    @app.before_request
    def _connect():
        database.connect(reuse_if_open=True)

    @app.teardown_appcontext
    def _close(exc):
        if not database.is_closed():
            database.close()


def write_transaction():
    """A transaction that takes the write lock up front on SQLite (no lock upgrade deadlocks)."""
    db = database.obj
    if isinstance(db, SqliteDatabase):
        return db.atomic("IMMEDIATE")
    return db.atomic()
