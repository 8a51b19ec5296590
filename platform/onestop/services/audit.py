"""The audit trail: one event per domain action, written in the action's own transaction.

The trail is append-only and tamper-evident: each centre's events form a chain (centre 0 holds
events of no centre), each event carrying its number in the chain and the SHA-256 of the previous
event's hash with its own content. The chain's last link is kept in `audithead`, locked by the
writing transaction, so concurrent writers queue on it. `verify` walks every chain: a stored event
that was altered, removed or added out of turn breaks it, and the first broken link is named.
"""

import hashlib
import json
from dataclasses import dataclass

from .. import sql
from ..db import LOCK_AUDIT, defer
from ..models import AuditEvent, AuditHead, utcnow

GENESIS = "0" * 64
_COLUMNS = ("centre_id", "dossier_id", "actor_id", "action", "element_id", "detail", "at", "chain", "seq", "hash")


def link(previous: str, chain, seq, centre_id, dossier_id, actor_id, action, element_id, detail_text, at) -> str:
    """The hash of an event: the previous hash and every stored field, in a fixed layout."""
    content = json.dumps([chain, seq, centre_id, dossier_id, actor_id, action, element_id, detail_text,
                          at.isoformat()], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256((previous + content).encode()).hexdigest()


def _advance(chain):
    """Lock the chain's head and return (the next number, the previous hash)."""
    row = sql.run('UPDATE "audithead" SET "seq" = "seq" + 1 WHERE "chain" = ? RETURNING "seq", "hash"',
                  (chain,)).fetchone()
    if row is None:
        sql.run('INSERT INTO "audithead" ("chain", "seq", "hash") VALUES (?, 0, ?) ON CONFLICT DO NOTHING',
                (chain, GENESIS))
        row = sql.run('UPDATE "audithead" SET "seq" = "seq" + 1 WHERE "chain" = ? RETURNING "seq", "hash"',
                      (chain,)).fetchone()
    return row[0], row[1]


def record(action, actor=None, *, centre=None, dossier=None, element_id=None, detail=None):
    """Append an audit event; call it inside the transaction of the action it describes (it is
    written at the end of that unit of work, after everything else the unit locks)."""
    centre_id = centre.id if centre is not None else (
        dossier.centre_id if dossier is not None else getattr(actor, "centre_id", None))
    dossier_id = dossier.id if dossier is not None else None
    actor_id = actor.id if actor is not None else None
    detail_text, at, chain = sql.to_json(detail), utcnow(), centre_id or 0

    def append():
        seq, previous = _advance(chain)
        digest = link(previous, chain, seq, centre_id, dossier_id, actor_id, action, element_id, detail_text, at)
        sql.insert_rows("auditevent", _COLUMNS, [(centre_id, dossier_id, actor_id, action, element_id, detail_text,
                                                  at, chain, seq, digest)])
        sql.run('UPDATE "audithead" SET "hash" = ? WHERE "chain" = ?', (digest, chain))

    # The chain's head is the last row a unit of work locks (db's lock order): appended at its end.
    defer((LOCK_AUDIT, chain), append)


@dataclass
class Broken:
    chain: int
    seq: int
    event_id: int | None
    why: str

    def __str__(self):
        where = f"event {self.event_id} (number {self.seq} of chain {self.chain})" if self.event_id else \
            f"number {self.seq} of chain {self.chain}"
        return f"{where}: {self.why}"


@dataclass
class Verified:
    chains: int
    events: int
    broken: Broken | None


BATCH = 5000
_WALK = ('SELECT "id", "centre_id", "dossier_id", "actor_id", "action", "element_id", "detail", "at", "seq", "hash" '
         'FROM "auditevent" WHERE "chain" = ? AND "seq" > ? ORDER BY "seq" LIMIT ?')


def verify() -> Verified:
    """Walk every chain from its first event, reading each event as stored; stop at the first
    broken link."""
    heads = {h.chain: h for h in AuditHead.select()}
    chains = sorted(set(heads) | {c for (c,) in AuditEvent.select(AuditEvent.chain).where(
        AuditEvent.chain.is_null(False)).distinct().tuples()})
    total = 0
    for chain in chains:
        previous, expected, after = GENESIS, 1, 0
        while True:
            rows = sql.run(_WALK, (chain, after, BATCH)).fetchall()
            for event_id, centre_id, dossier_id, actor_id, action, element_id, detail, at, seq, digest in rows:
                if seq != expected:
                    return Verified(len(chains), total,
                                    Broken(chain, expected, None, f"missing: the chain jumps to number {seq}"))
                if link(previous, chain, seq, centre_id, dossier_id, actor_id, action, element_id, detail,
                        AuditEvent.at.python_value(at)) != digest:
                    return Verified(len(chains), total,
                                    Broken(chain, seq, event_id, "altered: its content does not match its hash"))
                previous, expected, total = digest, expected + 1, total + 1
            if len(rows) < BATCH:
                break
            after = rows[-1][8]
        head = heads.get(chain)
        if head is None or head.seq != expected - 1 or head.hash != previous:
            removed = head is not None and head.seq >= expected
            return Verified(len(chains), total, Broken(chain, expected, None,
                                                       "removed: the chain's last events are gone" if removed
                                                       else "the chain's head does not match its last event"))
    return Verified(len(chains), total, None)


def backfill() -> int:
    """Link events stored before the chain existed, in the order they were written (a migration)."""
    count = 0
    for (centre_id,) in AuditEvent.select(AuditEvent.centre).where(AuditEvent.seq.is_null()).distinct().tuples():
        chain = centre_id or 0
        rows = sql.run('SELECT "id", "centre_id", "dossier_id", "actor_id", "action", "element_id", "detail", "at" '
                       'FROM "auditevent" WHERE "seq" IS NULL AND ' +
                       ('"centre_id" IS NULL' if centre_id is None else '"centre_id" = ?') + ' ORDER BY "id"',
                       () if centre_id is None else (centre_id,)).fetchall()
        for row in rows:
            seq, previous = _advance(chain)
            at = AuditEvent.at.python_value(row[7])
            digest = link(previous, chain, seq, row[1], row[2], row[3], row[4], row[5], row[6], at)
            sql.run('UPDATE "auditevent" SET "chain" = ?, "seq" = ?, "hash" = ? WHERE "id" = ?',
                    (chain, seq, digest, row[0]))
            sql.run('UPDATE "audithead" SET "hash" = ? WHERE "chain" = ?', (digest, chain))
            count += 1
    return count

