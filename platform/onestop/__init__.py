"""onestop: a low-code BPMN platform for public administrative service centres."""

import sys
import warnings

__version__ = "0.1.0"

# pyHanko (services/signing.py, services/signature_check.py) imports cryptography's DSA key type, which
# cryptography 51 deprecated: a warning at that import, about the name only (onestop makes ECDSA keys,
# never DSA ones), that every web process would print to its log at its first signature.
warnings.filterwarnings("ignore", message="DSA is deprecated", module="pyhanko")


# PostgreSQL's drivers, which peewee and its PostgreSQL extensions (imported by playhouse.migrate and
# the admin's wtfpeewee) import at their own import when they are installed.
POSTGRESQL_DRIVERS = ("psycopg2cffi", "psycopg2", "psycopg")


def _import_peewee_without_postgresql_drivers() -> None:
    """peewee and playhouse.postgres_ext import both PostgreSQL drivers at their import (0.11 s of CPU, a
    quarter of a command's start on SQLite, the embedded default): here they are imported first, seeing
    none, and onestop.db.postgresql_drivers() hands the drivers to them when a PostgreSQL database is
    opened, as their own imports would have."""
    if "peewee" in sys.modules:
        return
    hidden = [name for name in POSTGRESQL_DRIVERS if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # `import name` raises ImportError, which they take for "not installed"
    try:
        import peewee  # noqa: F401
        import playhouse.postgres_ext  # noqa: F401
    finally:
        for name in hidden:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]


_import_peewee_without_postgresql_drivers()
