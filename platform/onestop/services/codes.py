"""Dossier codes as Decree 61/2018 Art. 26 and Circular 03/2025/TT-VPCP Art. 13 lay them out: the
receiving agency's electronic identity code, the receipt date (YYMMDD, Vietnam's date), and the
agency's sequence number of that day, at least 4 digits — `H15.50.05.13-261008-0975`. For a
centrally provided national service (Circular 04/2025 clause 3) a 2-digit code of the system's
owner precedes the number: `H15.50.05.13-261008-010975`.

The identity code is the centre's own (`Centre.agency_code`), from the national list of agencies'
electronic identity codes (QCVN 102:2016/BTTTT), imported per administrative unit
(`services.agencies.import_codes`) or entered in the back office; `Centre.agency_code_source`
says which. A centre without one is not ready: its dossier codes start with DEFAULT_AGENCY.
"""

import re

from .. import sql
from ..models import Centre
from ..workdays import to_local
from . import runtime

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
    """The next dossier code of the centre's agency for that receipt; call inside the intake's
    transaction. Its counter row is locked with the intake's own rows, before the kept figures and
    the audit chain's head (the lock order of onestop.db)."""
    agency = agency_of(centre_id)
    day = to_local(received_utc).date()
    return f"{agency}-{day:%y%m%d}-{runtime.current().code_system}{sql.next_sequence(agency, day):04d}"
