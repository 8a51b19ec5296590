"""Dossier codes as Decree 61/2018 Art. 26 and Circular 03/2025/TT-VPCP Art. 13 lay them out: the
receiving agency's electronic identity code, the receipt date (YYMMDD, Vietnam's date), and the
agency's sequence number of that day, at least 4 digits — `H15.50.05.13-261008-0975`. For a
centrally provided national service (Circular 04/2025 clause 3) a 2-digit code of the system's
owner precedes the number: `H15.50.05.13-261008-010975`.

The identity code is the centre's own (`Centre.agency_code`), from the national list of agencies'
electronic identity codes (QCVN 102:2016/BTTTT), imported per administrative unit
(`services.agencies.import_codes`) or entered in the back office; `Centre.agency_code_source`
says which. A centre without one is not ready: its dossier codes start with DEFAULT_AGENCY.

The sequence is gapless (a rolled-back intake gives its number back) because the agency's day
counter is advanced inside the intake's transaction, so concurrent intakes of an agency queue on
its row until the holder commits. On PostgreSQL a new dossier is therefore inserted with a `provisional()`
stand-in and gets its real code at the very end of its unit of work (`assign_at_end`, rank
db.LOCK_CODE, after the kept figures, before the audit chain's head): the counter is held for the
unit's last statements only, and the numbers follow the order of the commits. On PostgreSQL the
centre's audit chain head is locked and read in the same exchange as the counter
(`audit_head.read_head_ahead`), so the counter is held for one wait of this thread and the COMMIT. What names the code
(the search row, a payment's reference, the notification, the audit event...) is written then too
(`once_coded`). The stand-in is never seen outside the transaction: the unit commits only with the
real code set. On SQLite, whose writers' lock holds the whole database for the unit anyway, the
dossier is inserted with its real code (`first_code`).
"""

import re
import secrets

from .. import sql
from ..db import LOCK_CODE, defer, on_sqlite
from ..models import Centre
from ..workdays import to_local
from . import audit_head, runtime

DEFAULT_AGENCY = "000.00.00.H00"  # an unset identity code: set the real one per centre
AGENCY_CODE_LENGTH = 40  # the dossier code adds "-YYMMDD-", the system code and the sequence: 64 in all
# The shapes an identity code of the national list takes (docs/centres.md):
AGENCY_SHAPES = (
    re.compile(r"^\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2}$"),  # 000.00.21.H56: QCVN 102:2016, as the national list writes it
    re.compile(r"^[A-Z]\d{2}\.\d{2}\.\d{2}\.\d{2,3}$"),  # H15.50.05.13: the same groups from level 1 down
    re.compile(r"^[A-Z]\d{2}\.\d{3}\.\d{2}$"),  # H15.500.05: MX1X2.Y1Y2Y3.Z1Z2 of Circular 04/2025 Art. 23
)
_agencies = runtime.SharedCache("agency", seconds=300.0)  # centre id -> its identity code


def system_code(setting: str | None = None) -> str:
    """The 2-digit system-owner code of the national-service variant as a runtime keeps it ("" for
    the ordinary variant: the setting None); ValueError if it is not two digits."""
    if setting and not re.fullmatch(r"\d{2}", setting):
        raise ValueError("the system-owner code is two digits")
    return setting or ""


def valid_agency_code(code) -> bool:
    """Whether `code` has the shape of an identity code of the national list (AGENCY_SHAPES)."""
    return isinstance(code, str) and any(shape.match(code) for shape in AGENCY_SHAPES)


def agency_of(centre_id) -> str:
    return _agencies.get(centre_id, lambda: Centre.select(Centre.agency_code).where(
        Centre.id == centre_id).scalar() or DEFAULT_AGENCY)


def changed():
    """Call inside the transaction that changes a centre's identity code: every process forgets it."""
    _agencies.changed()


def next_code(centre_id, received_utc) -> str:
    """The next dossier code of the centre's agency for that receipt, taken now; call inside the
    intake's transaction, which then holds the agency's counter row until it ends (an intake takes
    it at its end instead: `assign_at_end`)."""
    agency = agency_of(centre_id)
    return _take(agency, to_local(received_utc).date())


def _take(agency, day) -> str:
    return f"{_prefix(agency, day)}{sql.next_sequence(agency, day):04d}"


def _prefix(agency, day) -> str:
    """A code of that agency and day up to its sequence number."""
    return f"{agency}-{day:%y%m%d}-{runtime.current().code_system}"


PROVISIONAL = "~"  # the first character of a stand-in code: no agency code (AGENCY_SHAPES, DEFAULT_AGENCY) starts with it


def first_code(centre_id, received_utc) -> str:
    """The code to insert a new dossier with, inside its intake's unit of work: on SQLite its real one, taken
    now (`next_code`): a unit there holds the writers' lock, which keeps every other writer of the database
    out until its commit anyway, so the counter is held no longer, and the dossier's row is not written
    twice (an UPDATE of it rewrites the whole row, its workflow state's overflow pages with it). On
    PostgreSQL a `provisional()` stand-in, so that the counter's row is held for the unit's last
    statements only (`assign_at_end`)."""
    if on_sqlite():
        return next_code(centre_id, received_utc)
    return provisional()


def provisional() -> str:
    """A unique stand-in code to insert a new dossier with until `assign_at_end` gives it its real
    one in the same transaction; it can never be a real code."""
    return PROVISIONAL + secrets.token_hex(16)


def is_provisional(code) -> bool:
    return isinstance(code, str) and code.startswith(PROVISIONAL)


def assign_at_end(dossier, received_utc, at_once=False) -> None:
    """Give a dossier inserted with a `provisional()` code its real one (`next_code`) at the end of the
    current unit of work, then write what waits for it (`once_coded`), in that order. The counter is
    taken at rank LOCK_CODE, by agency and day: after the unit's own rows and the kept figures, before
    the audit chain's head (the lock order of onestop.db). `at_once`: now instead (the unit runs
    inside another one, whose caller may read the code before its end). A dossier inserted with its real
    code (`first_code`) has nothing to wait for."""
    if not is_provisional(dossier.code):
        return
    agency, day = agency_of(dossier.centre_id), to_local(received_utc).date()
    waiting = _waiting(dossier)

    def assign():
        # The new dossier's start is recorded in its centre's audit chain at the end of this unit: its head
        # is locked and read ahead, in the same exchange as the counter (one wait under both, not two).
        code = sql.set_next_code(agency, day, _prefix(agency, day), dossier.id,
                                 meanwhile=lambda: audit_head.read_head_ahead(dossier.centre_id or 0))
        dossier.code, dossier.awaiting_code = code, None
        for write in waiting:
            write()

    if at_once:
        assign()
    else:
        defer((LOCK_CODE, agency, day.toordinal(), dossier.id), assign)


def once_coded(dossier, write) -> None:
    """Run `write()` once the dossier has its real code: now, or right after `assign_at_end` gave it
    (in the order they were asked for, before or after assign_at_end was called) — for the writes that record
    the code."""
    if is_provisional(dossier.code):
        _waiting(dossier).append(write)
    else:
        write()


def _waiting(dossier) -> list:
    """The writes waiting for a provisional dossier's real code (once_coded), in order."""
    waiting = getattr(dossier, "awaiting_code", None)
    if waiting is None:
        waiting = dossier.awaiting_code = []
    return waiting
