"""The audit trail's migrations, bulk maintenance run before the server takes traffic: linking the
events stored before the chain existed (migration 18, `backfill`), and re-keying the trail
(migration 26, `rekey`): every stored event re-linked with the key kept outside the database, the
history rows already stored bound to each dossier's last event (a dossier with history but no event
gets one), and the re-keying recorded with what the check of the unkeyed chain found.
"""

import hashlib
import json
from dataclasses import dataclass

from .. import sql
from ..models import AuditEvent, AuditHead
from .audit import (
    BATCH,
    GENESIS,
    HISTORY_COLUMNS,
    _history_content,
    _outside_any_chain,
    _Stop,
    _Walk,
    link,
    log,
    record,
    verify,
)
from .audit_head import advance as _advance

_HISTORY_SELECT = "SELECT " + ", ".join(f'"{c}"' for c in HISTORY_COLUMNS) + ' FROM "historyentry" '


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


def rekey() -> dict:
    """Re-link every stored event with the key and bind the history rows already stored (each
    dossier's to its last event; a dossier with history but no event gets one), then record the
    re-keying with what the unkeyed chain's check found. Nothing to do when the keyed chain
    already verifies."""
    if verify().broken is None:
        return {}
    legacy = _legacy_state()
    backfill()  # events of no chain yet join their centre's chain at its end
    last_event = dict(sql.run('SELECT "dossier_id", MAX("id") FROM "auditevent" '
                              'WHERE "dossier_id" IS NOT NULL GROUP BY "dossier_id"').fetchall())
    events = history = 0
    for (chain,) in sql.run('SELECT DISTINCT "chain" FROM "auditevent" WHERE "chain" IS NOT NULL '
                            'ORDER BY "chain"').fetchall():
        relinked, bound = _relink(chain, last_event)
        events, history = events + relinked, history + bound
    history += _seal_unrecorded_history()
    outcome = {"events": events, "history": history, "unkeyed_chain": legacy}
    if events or history:
        record("audit.rekeyed", None, detail=outcome)
        log.info("audit trail re-keyed: %s", outcome)
    return outcome


def _legacy_link(previous, chain, seq, centre_id, dossier_id, actor_id, action, element_id, detail_text, at,
                 history=()) -> str:
    """The unkeyed SHA-256 link of the trail before migration 26 (checked once when re-keying)."""
    content = json.dumps([chain, seq, centre_id, dossier_id, actor_id, action, element_id, detail_text,
                          at.isoformat()], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256((previous + content).encode()).hexdigest()


def _legacy_state() -> str:
    """Whether the unkeyed chain was intact when it was re-keyed: "intact" or where it broke."""
    heads = {h.chain: h for h in AuditHead.select()}
    chains = set(heads) | {c for (c,) in AuditEvent.select(AuditEvent.chain).where(
        AuditEvent.chain.is_null(False)).distinct().tuples()}
    walk = _Walk(_legacy_link, bind_history=False)
    try:
        _outside_any_chain()
        for chain in sorted(chains):
            walk.chain(chain, heads.get(chain))
    except _Stop as stop:
        return str(stop.broken)
    return "intact"


def _relink(chain, last_event: dict) -> tuple[int, int]:
    """Re-link one chain's events in order, a batch at a time, each dossier's last event binding the
    dossier's history rows; then its head. (events re-linked, history rows bound)."""
    previous, after, last, events, history = GENESIS, -1, 0, 0, 0
    while True:
        rows = sql.run('SELECT "id", "centre_id", "dossier_id", "actor_id", "action", "element_id", "detail", '
                       '"at", "seq" FROM "auditevent" WHERE "chain" = ? AND "seq" > ? ORDER BY "seq" LIMIT ?',
                       (chain, after, BATCH)).fetchall()
        binding = {row[2]: row[0] for row in rows if row[2] is not None and last_event.get(row[2]) == row[0]}
        rows_of = _history_of(list(binding))
        for event_id, centre_id, dossier_id, actor_id, action, element_id, detail, at, seq in rows:
            bound = _history_content(rows_of.get(dossier_id, ())) if binding.get(dossier_id) == event_id else []
            previous = link(previous, chain, seq, centre_id, dossier_id, actor_id, action, element_id, detail,
                            AuditEvent.at.python_value(at), bound)
            sql.run('UPDATE "auditevent" SET "hash" = ?, "history" = ? WHERE "id" = ?',
                    (previous, ",".join(str(r[0]) for r in bound) or None, event_id))
            events, history, last = events + 1, history + len(bound), seq
        if len(rows) < BATCH:
            break
        after = rows[-1][8]
    if sql.run('UPDATE "audithead" SET "seq" = ?, "hash" = ? WHERE "chain" = ?', (last, previous, chain)).rowcount == 0:
        sql.run('INSERT INTO "audithead" ("chain", "seq", "hash") VALUES (?, ?, ?)', (chain, last, previous))
    return events, history


def _history_of(dossier_ids: list) -> dict:
    """dossier -> its history rows (in HISTORY_COLUMNS order), read 500 dossiers at a time."""
    rows_of = {}
    for start in range(0, len(dossier_ids), 500):
        part = dossier_ids[start:start + 500]
        for row in sql.run(_HISTORY_SELECT + 'WHERE "dossier_id" IN (' + ",".join("?" * len(part)) + ")",
                           part).fetchall():
            rows_of.setdefault(row[1], []).append(row)
    return rows_of


@dataclass
class _Dossier:
    id: int
    centre_id: int


def _seal_unrecorded_history() -> int:
    """An event binding the history of each dossier that has history but no event; the rows bound."""
    orphans = sql.run('SELECT DISTINCT h."dossier_id", d."centre_id" FROM "historyentry" h JOIN "dossier" d '
                      'ON d."id" = h."dossier_id" WHERE NOT EXISTS (SELECT 1 FROM "auditevent" e '
                      'WHERE e."dossier_id" = h."dossier_id") ORDER BY h."dossier_id"').fetchall()
    history = 0
    for dossier_id, centre_id in orphans:
        rows = sql.run(_HISTORY_SELECT + 'WHERE "dossier_id" = ?', (dossier_id,)).fetchall()
        record("dossier.history_sealed", None, dossier=_Dossier(dossier_id, centre_id), history=rows)
        history += len(rows)
    return history
