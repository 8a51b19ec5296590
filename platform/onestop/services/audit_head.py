"""The head of an audit chain (`audithead`: its last number and MAC), which every unit appending to
the chain locks until its commit (services.audit): advanced by the append, or locked and read ahead
with an earlier statement of the unit's deferred writes (`read_head_ahead`), so that the append
waits for no answer of its own while the row is held.
"""

from .. import sql
from ..db import current_unit, pipelined

GENESIS = "0" * 64


def advance(chain, by=1):
    """Lock the chain's head, move it `by` numbers on and return (the last number taken, the previous hash)."""
    unit = current_unit()
    if unit is not None:  # what this unit read ahead of the head is no longer its state
        unit.heads.pop(chain, None)
    row = sql.run('UPDATE "audithead" SET "seq" = "seq" + ? WHERE "chain" = ? RETURNING "seq", "hash"',
                  (by, chain)).fetchone()
    if row is None:
        sql.run('INSERT INTO "audithead" ("chain", "seq", "hash") VALUES (?, 0, ?) ON CONFLICT DO NOTHING',
                (chain, GENESIS))
        row = sql.run('UPDATE "audithead" SET "seq" = "seq" + ? WHERE "chain" = ? RETURNING "seq", "hash"',
                      (by, chain)).fetchone()
    return row[0], row[1]


def read_head_ahead(chain) -> None:
    """On PostgreSQL, in a unit's pipelined deferred writes: lock the chain's head now and read it
    with the statement before (a new dossier's code counter, services.codes), so that the events the
    unit appends to that chain at its end need no answer of their own: the head, held until the
    commit, waits for one answer of this thread fewer. Elsewhere nothing (the append advances it)."""
    unit = current_unit()
    if unit is None or chain in unit.heads or not pipelined():
        return
    unit.heads[chain] = sql.run('SELECT "seq", "hash" FROM "audithead" WHERE "chain" = ? FOR UPDATE', (chain,))


def head_read_ahead(chain):
    """(number, hash) of the chain's head as this unit locked it (read_head_ahead), or None."""
    unit = current_unit()
    read = unit.heads.get(chain) if unit is not None else None
    if read is None or isinstance(read, tuple):
        return read
    row = read.fetchone()  # (its answer came with the statement's it was sent after)
    unit.heads[chain] = tuple(row) if row is not None else None  # no head yet: the append makes it
    return unit.heads[chain]
