"""Versioned, idempotent schema migrations. `onestop init` and the first start run them.

Each migration is (version, name, function(db)); applied versions are recorded in
schema_migration so running them again changes nothing.
"""

from .db import database
from .models import ALL_MODELS, SchemaMigration


def _initial(db):
    db.create_tables(ALL_MODELS, safe=True)


MIGRATIONS = [
    (1, "initial schema", _initial),
]


def migrate() -> list:
    """Apply every pending migration; returns the names applied."""
    db = database.obj
    applied = []
    db.create_tables([SchemaMigration], safe=True)
    for version, name, step in MIGRATIONS:
        with db.atomic():
            if SchemaMigration.get_or_none(SchemaMigration.version == version):
                continue
            step(db)
            SchemaMigration.create(version=version, name=name)
            applied.append(name)
    return applied


def current_version() -> int:
    row = SchemaMigration.select().order_by(SchemaMigration.version.desc()).first()
    return row.version if row else 0
