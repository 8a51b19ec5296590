"""Dossiers taken over from a centre's old system on the day it switches over to onestop.

A legacy file (CSV or XLSX, one dossier a row under a header row whose titles may be Vietnamese or
English) lists the dossiers still being processed there: code, procedure, applicant (name, ID
number, phone, address), received date, due date, current step (the task's name or element id)
and unit. Each row becomes a dossier of the centre's published procedure standing AT that step: the
engine walks a new workflow to it (engine.Engine.position) once per (procedure version, step) and
copies the result per dossier with the row's data (engine.Engine.copy_positioned). The dossier
keeps its legacy code (one that does not fit the national layout, services.codes, is kept and
flagged), its received and due dates (not recomputed), and the switch-over instant
(`Dossier.switch_over_at`): it counts in the statistics from then on (received before it, it is
not counted as received; finished after it, it counts as finished, on time or late against its
legacy due date).

Every row is checked before anything is written (`Problem`s by line); then all of them are written
in one transaction, in multi-row inserts: a file with a bad row imports nothing, and a row whose
code is already an imported dossier of the centre is skipped (running the same file again imports
nothing twice).
"""


from .checking import Row, code_fits
from .importing import CHANNEL, Report, data_of, import_file, keep_file, kept_file
from .reading import MESSAGES, TITLES, Problem, parse_when, read_rows

__all__ = ["CHANNEL", "MESSAGES", "TITLES", "Problem", "Report", "Row", "code_fits", "data_of", "import_file",
           "keep_file", "kept_file", "parse_when", "read_rows"]
