"""The audit trail: one event per domain action, written in the action's own transaction.

Each centre's events form a keyed chain (chain 0 holds events of no centre): an event carries its
number in the chain and an HMAC-SHA256, under a key kept outside the database (config: the file
`audit_key` under ONESTOP_HOME or ONESTOP_AUDIT_KEY), of the previous event's MAC with its own
content. A step's event also binds the history rows the step wrote (who finished which task,
when): their ids are stored with the event and their content is part of what its MAC covers, so
the history needs no chain, no lock and no statement of its own.

The chain's last link is kept in `audithead`, locked by the writing transaction, so concurrent
writers queue on it. Without the key nobody can re-hash the chain after altering, inserting or
reordering events; but deleting the last events and rolling `audithead` back leaves a shorter,
valid chain. Signed checkpoints written outside the database (`checkpoint`: one line per chain
whose head moved, appended to a file) catch that: `verify` with the checkpoint file finds any
chain that is shorter than, or differs from, what a checkpoint saw.
"""

import contextlib
import hashlib
import hmac
import json
import logging
import os
import threading
from array import array
from dataclasses import dataclass
from pathlib import Path

from peewee import SqliteDatabase

from .. import jsontext, sql
from ..db import LOCK_AUDIT, current_unit, database, defer
from ..models import AuditEvent, AuditHead, utcnow
from . import runtime, webhook_events
from .audit_head import GENESIS, advance, head_read_ahead

log = logging.getLogger("onestop.audit")

_COLUMNS = ("centre_id", "dossier_id", "actor_id", "action", "element_id", "detail", "at", "chain", "seq", "hash",
            "history")
# A history row as an event binds it: these columns, in this order, are covered by the event's MAC.
HISTORY_COLUMNS = ("id", "dossier_id", "task_id", "element_id", "name", "state", "at", "actor_id", "lane",
                   "started_at", "due_at")
_HISTORY_TIMES = (6, 9, 10)


class Keys:
    """The trail's keys, derived from its secret (kept outside the database), and the checkpoint file
    with what this process has appended to it: a runtime holds them (assemble.build_runtime).

    Two keys are derived from the secret, one for the chain and one for checkpoints, so a line of the
    checkpoint file can never pass for a link of the chain or the other way round."""

    def __init__(self, key: str, checkpoints: Path | None = None):
        secret = key.encode()
        self.chain = hmac.new(secret, b"onestop audit chain v1", hashlib.sha256).digest()
        self.checkpoint = hmac.new(secret, b"onestop audit checkpoint v1", hashlib.sha256).digest()
        self.key_id = hmac.new(secret, b"onestop audit key id", hashlib.sha256).hexdigest()[:16]
        self.checkpoints = Path(checkpoints) if checkpoints is not None else None
        self.lock = threading.Lock()
        self.marked: dict = {}  # checkpoint file -> {chain: the last number written to it}


def bind(key: str, checkpoints: Path | None = None) -> Keys:
    """Give the current runtime the trail's key and where checkpoints are appended."""
    keys = runtime.current().audit_keys = Keys(key, checkpoints)
    return keys


def _keys() -> Keys:
    keys = runtime.current().audit_keys
    if keys is None:
        raise RuntimeError("no audit key in this runtime (onestop.assemble.build_runtime derives them from the settings)")
    return keys


def key_id() -> str:
    """A fingerprint of the bound key (safe to show): which key a checkpoint line was signed with."""
    return _keys().key_id


def checkpoint_file() -> Path | None:
    return _keys().checkpoints


def written_checkpoints() -> list[Path]:
    """The bound checkpoint file as verify() takes it: in a list once it has been written, else empty."""
    path = _keys().checkpoints
    return [path] if path is not None and path.exists() else []


def _chain_key() -> bytes:
    return _keys().chain


def _iso(value):
    """A stored timestamp as text, alike whichever database returned it (text or datetime)."""
    if value is None:
        return None
    if isinstance(value, str):  # (SQLite's text: read as HistoryEntry.at.python_value reads it, without strptime)
        value = sql.stored_time(value)
    return value.isoformat()


def _history_content(rows) -> list:
    """History rows (tuples in HISTORY_COLUMNS order, as stored) in the layout the MAC covers."""
    content = []
    for row in sorted(rows, key=lambda r: r[0]):
        row = list(row)
        for i in _HISTORY_TIMES:
            row[i] = _iso(row[i])
        content.append(row)
    return content


def link(previous: str, chain, seq, centre_id, dossier_id, actor_id, action, element_id, detail_text, at,
         history=()) -> str:
    """The MAC of an event: the previous MAC, every stored field and the history rows it binds
    (as _history_content lays them out), in a fixed layout, under the chain's key."""
    fields = [chain, seq, centre_id, dossier_id, actor_id, action, element_id, detail_text, at.isoformat(), history]
    text, utf8 = jsontext.dumps_or_utf8(fields)  # orjson's bytes where it wrote them (not decoded), else the text
    return hmac.new(_chain_key(), previous.encode() + (utf8 or text.encode()), hashlib.sha256).hexdigest()


def _append(events) -> None:
    """Append events of one chain in order (tuples as `record` defers them): one advance of the
    chain's head, each event linked to the one before, one multi-row insert, the head's new hash.
    A head this unit read ahead (read_head_ahead) is not read again: the insert and the head's new
    number and hash go without waiting for an answer."""
    chain = events[0][7]
    ahead = head_read_ahead(chain)
    if ahead is not None:
        last, previous = ahead[0] + len(events), ahead[1]
    else:
        last, previous = advance(chain, len(events))
    unit = current_unit()
    rows = []
    for seq, (centre_id, dossier_id, actor_id, action, element_id, detail_text, at, _chain, bound, ids) in enumerate(
            events, last - len(events) + 1):
        previous = link(previous, chain, seq, centre_id, dossier_id, actor_id, action, element_id, detail_text, at,
                        bound)
        rows.append((centre_id, dossier_id, actor_id, action, element_id, detail_text, at, chain, seq, previous, ids))
    # The head as this transaction now holds it (locked until its commit): a later append of this unit, or
    # of the next unit of its SQLite batch (db.LocalDatabase._commit_batch), goes on from here unread.
    if unit is not None:
        unit.heads[chain] = (last, previous)
    # With the head's new hash: one statement on PostgreSQL, one turn fewer while the head is locked.
    if ahead is not None:
        sql.insert_rows("auditevent", _COLUMNS, rows, then=(
            'UPDATE "audithead" SET "seq" = ?, "hash" = ? WHERE "chain" = ?', (last, previous, chain)))
        return
    sql.insert_rows("auditevent", _COLUMNS, rows, then=('UPDATE "audithead" SET "hash" = ? WHERE "chain" = ?',
                                                        (previous, chain)))


def record(action, actor=None, *, centre=None, dossier=None, element_id=None, detail=None, history=None):
    """Append an audit event; call it inside the transaction of the action it describes (it is
    written at the end of that unit of work, after everything else the unit locks).

    `history`: the history rows the same step wrote (tuples in HISTORY_COLUMNS order, as the
    database returned them on insert); the event binds them."""
    centre_id = centre.id if centre is not None else (
        dossier.centre_id if dossier is not None else getattr(actor, "centre_id", None))
    dossier_id = dossier.id if dossier is not None else None
    actor_id = actor.id if actor is not None else None
    detail_text, at, chain = sql.to_json(detail), utcnow(), centre_id or 0
    bound = _history_content(history) if history else []
    ids = ",".join(str(row[0]) for row in bound) if bound else None
    # The chain's head is the last row a unit of work locks (db's lock order): appended at its end,
    # with the unit's other events of the chain (a step's event and the process's end, say).
    defer((LOCK_AUDIT, chain), (centre_id, dossier_id, actor_id, action, element_id, detail_text, at, chain, bound, ids),
          together=_append)
    if dossier is not None:  # outside systems subscribed to the dossier's events hear of it (webhooks)
        webhook_events.observe(action, dossier, element_id, detail)


@dataclass
class Broken:
    chain: int | None
    seq: int | None
    event_id: int | None
    why: str

    def __str__(self):
        if self.event_id and self.seq is not None:
            where = f"event {self.event_id} (number {self.seq} of chain {self.chain})"
        elif self.event_id:
            where = f"event {self.event_id}"
        elif self.seq is not None:
            where = f"number {self.seq} of chain {self.chain}"
        elif self.chain is not None:
            where = f"chain {self.chain}"
        else:
            return self.why
        return f"{where}: {self.why}"


@dataclass
class Verified:
    chains: int
    events: int
    broken: Broken | None
    history: int = 0  # history rows found bound to their step's event
    checkpoints: int = 0  # checkpoint lines the chains were compared with


class _Stop(Exception):
    def __init__(self, broken):
        self.broken = broken


BATCH = 5000
_WALK = ('SELECT "id", "centre_id", "dossier_id", "actor_id", "action", "element_id", "detail", "at", "seq", "hash", '
         '"history" FROM "auditevent" WHERE "chain" = ? AND "seq" > ? ORDER BY "seq" LIMIT ?')
_HISTORY_SELECT = "SELECT " + ", ".join(f'"{c}"' for c in HISTORY_COLUMNS) + ' FROM "historyentry" WHERE "id" IN '


def _history_rows(ids) -> dict:
    """The stored history rows of these ids, by id."""
    found = {}
    ids = list(ids)
    for start in range(0, len(ids), 500):
        part = ids[start:start + 500]
        for row in sql.run(_HISTORY_SELECT + "(" + ",".join("?" * len(part)) + ")", part).fetchall():
            found[row[0]] = row
    return found


def _parse_ids(text):
    return [int(i) for i in text.split(",")] if text else []


class _Walk:
    """One pass over every chain; counts what it checked and stops at the first broken link."""

    def __init__(self, mac, marks=None, bind_history=True):
        self.mac, self.marks, self.bind_history = mac, marks or {}, bind_history
        self.events = self.history = self.compared = 0
        self.bound = array("q")

    def check_one(self, chain, seq, previous):
        """Check one event's MAC, given the MAC before it."""
        self.chain(chain, None, start=(seq, previous), limit=1)

    def chain(self, chain, head, start=(1, GENESIS), limit=None):
        """Walk one chain from its first event; returns (its last number, its last MAC)."""
        (expected, previous), after = start, start[0] - 1
        marks = self.marks.get(chain, {})
        while True:
            rows = sql.run(_WALK, (chain, after, limit or BATCH)).fetchall()
            wanted = [i for row in rows for i in _parse_ids(row[10])] if self.bind_history else []
            stored = _history_rows(wanted) if wanted else {}
            for event_id, centre_id, dossier_id, actor_id, action, element_id, detail, at, seq, digest, ids in rows:
                if seq != expected:
                    raise _Stop(Broken(chain, expected, None, f"missing: the chain jumps to number {seq}"))
                bound = []
                if self.bind_history:
                    for history_id in _parse_ids(ids):
                        if history_id not in stored:
                            raise _Stop(Broken(chain, seq, event_id, f"history row {history_id} it binds is gone"))
                        bound.append(stored[history_id])
                if self.mac(previous, chain, seq, centre_id, dossier_id, actor_id, action, element_id, detail,
                            AuditEvent.at.python_value(at), _history_content(bound)) != digest:
                    why = "altered: its content (or the history rows it binds) does not match its MAC"
                    if self.events == 0:  # nothing verified yet: perhaps nothing can be under this key
                        why += f" (or the trail was written under another key than this one, id {_keys().key_id})"
                    raise _Stop(Broken(chain, seq, event_id, why))
                mark = marks.get(seq)
                if mark is not None:
                    self.compared += 1
                    if mark[0] != digest:
                        raise _Stop(Broken(chain, seq, event_id, f"replaced: it differs from the checkpoint of "
                                                                 f"{mark[1]}"))
                self.bound.extend(row[0] for row in bound)
                previous, expected = digest, expected + 1
                self.events, self.history = self.events + 1, self.history + len(bound)
            if limit is not None:
                return expected - 1, previous
            if len(rows) < BATCH:
                break
            after = rows[-1][8]
        last = expected - 1
        beyond = [seq for seq in marks if seq > last]
        if beyond:
            seen = max(beyond)
            raise _Stop(Broken(chain, last + 1, None, f"removed: the chain ends at number {last} but the "
                                                      f"checkpoint of {marks[seen][1]} saw number {seen}"))
        if head is None or head.seq != last or head.hash != previous:
            removed = head is not None and head.seq > last
            raise _Stop(Broken(chain, last + 1, None, "removed: the chain's last events are gone" if removed
                               else "the chain's head does not match its last event"))
        return last, previous


def _outside_any_chain():
    row = sql.run('SELECT "id", "chain", "seq" FROM "auditevent" WHERE "chain" IS NULL OR "seq" IS NULL '
                  'OR "hash" IS NULL ORDER BY "id" LIMIT 1').fetchone()
    if row is not None:
        raise _Stop(Broken(row[1], row[2], row[0], "outside the chain: its chain, number or MAC is empty"))


def _missing_chains(chains, marks):
    for chain in sorted(set(marks) - chains):
        seen = max(marks[chain])
        raise _Stop(Broken(chain, None, None, f"missing: the checkpoint of {marks[chain][seen][1]} saw it at "
                                              f"number {seen}, the database has no such chain"))
    for (centre_id,) in sql.run('SELECT DISTINCT "centre_id" FROM "dossier" ORDER BY "centre_id"').fetchall():
        if centre_id not in chains:
            raise _Stop(Broken(centre_id, None, None, "missing: the centre has dossiers but no chain"))
    row = sql.run('SELECT d."id", d."code", d."centre_id" FROM "dossier" d WHERE NOT EXISTS '
                  '(SELECT 1 FROM "auditevent" e WHERE e."dossier_id" = d."id") ORDER BY d."id" LIMIT 1').fetchone()
    if row is not None:
        raise _Stop(Broken(row[2], None, None, f"missing: dossier {row[1]} has no event in the trail"))


def _unbound_history(walk):
    """Every history row must be bound by exactly one event: more rows than bound ones were added
    outside a step (or bound ones removed with their event, which the chain already shows)."""
    (total,) = sql.run('SELECT COUNT(*) FROM "historyentry"').fetchone()
    if total == len(walk.bound):
        return
    bound = sorted(walk.bound)
    at, after = 0, 0
    while True:
        rows = sql.run('SELECT "id", "dossier_id" FROM "historyentry" WHERE "id" > ? ORDER BY "id" LIMIT ?',
                       (after, BATCH)).fetchall()
        for history_id, dossier_id in rows:
            while at < len(bound) and bound[at] < history_id:
                at += 1
            if at >= len(bound) or bound[at] != history_id:
                raise _Stop(Broken(None, None, None, f"history row {history_id} (dossier id {dossier_id}) is bound "
                                                     "to no event: it was added outside a step"))
        if len(rows) < BATCH:
            break
        after = rows[-1][0]


@contextlib.contextmanager
def _snapshot():
    """One consistent view of the database for a whole check, so that steps written meanwhile do
    not look like a head ahead of its chain (SQLite's deferred transaction reads one snapshot in WAL
    mode; PostgreSQL needs REPEATABLE READ). Inside a transaction already (a migration), that one."""
    db = database.obj
    if db.in_transaction():
        yield
        return
    with db.atomic():
        if not isinstance(db, SqliteDatabase):
            db.execute_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        yield


def verify(checkpoints=None) -> Verified:
    """Walk every chain from its first event, reading each event and the history rows it binds as
    stored; compare the chains with the signed checkpoints read from `checkpoints` (paths of
    checkpoint files); stop at the first broken link. Reads one snapshot of the database."""
    with _snapshot():
        return _verify(checkpoints)


def _verify(checkpoints) -> Verified:
    heads = {h.chain: h for h in AuditHead.select()}
    chains = set(heads) | {c for (c,) in AuditEvent.select(AuditEvent.chain).where(
        AuditEvent.chain.is_null(False)).distinct().tuples()}
    walk = _Walk(link)
    try:
        walk.marks = read_checkpoints(checkpoints or ())
        _outside_any_chain()
        for chain in sorted(chains):
            walk.chain(chain, heads.get(chain))
        _missing_chains(chains, walk.marks)
        _unbound_history(walk)
    except _Stop as stop:
        return Verified(len(chains), walk.events, stop.broken, walk.history, walk.compared)
    return Verified(len(chains), walk.events, None, walk.history, walk.compared)


def key_fits() -> bool:
    """Whether the last event written verifies under the bound key (a process started with another
    key than the trail's would write links nobody can verify); True when there is none."""
    row = sql.run('SELECT "id", "chain", "seq" FROM "auditevent" WHERE "chain" IS NOT NULL AND "seq" IS NOT NULL '
                  'ORDER BY "id" DESC LIMIT 1').fetchone()
    if row is None:
        return True
    _event_id, chain, seq = row
    before = sql.run('SELECT "hash" FROM "auditevent" WHERE "chain" = ? AND "seq" = ?', (chain, seq - 1)).fetchone()
    walk = _Walk(link)
    try:
        walk.check_one(chain, seq, before[0] if before else GENESIS)
    except _Stop:
        return False
    return True


# --- checkpoints outside the database ------------------------------------------------------------

def _checkpoint_mac(chain, seq, digest, at, key_id) -> str:
    message = f"{chain}|{seq}|{digest}|{at}|{key_id}".encode()
    return hmac.new(_keys().checkpoint, message, hashlib.sha256).hexdigest()


def checkpoint(path=None) -> int:
    """Append a signed line (chain, number, MAC, time, key id, HMAC of them) to the checkpoint
    file for every chain whose head moved since the last line written there; returns how many.

    The lines go in one append (several processes may share the file) and to the log as well, so
    a log shipped elsewhere keeps a copy."""
    keys = _keys()
    path = Path(path) if path is not None else keys.checkpoints
    if path is None:
        raise RuntimeError("no checkpoint file bound")
    heads = sql.run('SELECT "chain", "seq", "hash" FROM "audithead" WHERE "seq" > 0 ORDER BY "chain"').fetchall()
    with keys.lock:
        marked = keys.marked.get(path)
        if marked is None:
            marked = keys.marked[path] = {chain: max(seqs) for chain, seqs in _read_lines(path, strict=False).items()}
        at = utcnow().replace(microsecond=0).isoformat() + "Z"
        lines = []
        for chain, seq, digest in heads:
            if marked.get(chain) == seq:
                continue
            line = {"chain": chain, "seq": seq, "hash": digest, "at": at, "key": keys.key_id}
            line["mac"] = _checkpoint_mac(chain, seq, digest, at, keys.key_id)
            lines.append(json.dumps(line, separators=(",", ":")))
        if not lines:
            return 0
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, ("\n".join(lines) + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        for chain, seq, _digest in heads:
            marked[chain] = seq
    for line in lines:
        log.info("audit checkpoint %s", line)
    return len(lines)


class CheckpointError(ValueError):
    """A checkpoint file that cannot be trusted: a line not signed with this key."""


def _read_lines(path: Path, strict=True) -> dict:
    """{chain: {seq: (hash, time)}} of the latest checkpoint of each chain in a checkpoint file;
    strict: any bad line is an error.

    Every line is checked, but only the latest of a chain is kept: the chain being keyed, its MAC
    at that number vouches for every event before it, so memory stays one entry per chain however
    long the file grows (and a file may be compacted to the last line of each chain)."""
    latest = {}
    if not path.exists():
        if strict:
            raise CheckpointError(f"checkpoint file {path} does not exist")
        return {}
    with open(path, encoding="utf-8", errors="replace") as fh:
        for number, text in enumerate(fh, 1):
            if not text.strip():
                continue
            try:
                line = json.loads(text)
                chain, seq, digest, at, key = (line["chain"], line["seq"], line["hash"], line["at"], line["key"])
                valid = isinstance(chain, int) and isinstance(seq, int) and hmac.compare_digest(
                    str(line["mac"]), _checkpoint_mac(chain, seq, digest, at, key))
            except (ValueError, KeyError, TypeError, AttributeError):
                valid, key = False, None
            if not valid:
                if strict:
                    reason = (f"signed with another key (its key id is {key}, this key's is {_keys().key_id}) or forged"
                              if isinstance(key, str) and key != _keys().key_id
                              else "not signed with this key (forged or damaged)")
                    raise CheckpointError(f"{path} line {number} is {reason}")
                continue
            known = latest.get(chain)
            if known is None or seq > known[0]:
                latest[chain] = (seq, digest, at)
            elif seq == known[0] and digest != known[1] and strict:
                raise CheckpointError(f"{path} line {number}: number {seq} of chain {chain} was checkpointed with "
                                      "two different MACs")
    return {chain: {seq: (digest, at)} for chain, (seq, digest, at) in latest.items()}


def read_checkpoints(paths) -> dict:
    """{chain: {seq: (hash, time)}} of the latest checkpoint of each chain in these checkpoint
    files; a line that is not signed with this key breaks the verification (it is named)."""
    marks = {}
    for path in paths:
        try:
            found = _read_lines(Path(path))
        except CheckpointError as exc:
            raise _Stop(Broken(None, None, None, f"checkpoint: {exc}")) from None
        for chain, seqs in found.items():
            [(seq, mark)] = seqs.items()
            [(known, known_mark)] = marks.get(chain, {-1: None}).items()
            if seq == known and known_mark[0] != mark[0]:
                raise _Stop(Broken(chain, seq, None, "checkpoint: two checkpoint files disagree about it"))
            if seq > known:
                marks[chain] = {seq: mark}
    return marks
