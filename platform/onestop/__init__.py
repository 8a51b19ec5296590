"""onestop: a low-code BPMN platform for public administrative service centres.

peewee and playhouse.postgres_ext import the PostgreSQL drivers (psycopg, psycopg2) as they load,
whenever they are installed: ~30 MB in every process, a web worker on SQLite too. While those two
modules load, importing a driver fails here (`_DeferredDrivers`), so they load as if none were
installed; `onestop.db.postgres_drivers()` imports the drivers and gives those modules what their
own import would have, the first time a postgresql:// database is opened.
"""

import sys

__version__ = "0.1.0"


class _DeferredDrivers:
    """A meta path finder that refuses the PostgreSQL drivers to peewee's modules while they load."""

    drivers = ("psycopg", "psycopg2", "psycopg2cffi")
    importers = ("peewee", "playhouse.postgres_ext")
    deferred: set = set()  # the importers that loaded without the drivers: onestop.db completes them

    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name.partition(".")[0] in cls.drivers:
            for importer in cls.importers:
                spec = getattr(sys.modules.get(importer), "__spec__", None)
                if getattr(spec, "_initializing", False):  # importlib's mark of a module being executed
                    cls.deferred.add(importer)
                    raise ImportError(f"{name} is imported when a PostgreSQL database is opened (onestop.db)",
                                      name=name)
        return None


if _DeferredDrivers not in sys.meta_path:
    sys.meta_path.insert(0, _DeferredDrivers)
