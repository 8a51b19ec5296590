"""Catalogue import: a province's published catalogue of procedures (records in the national
procedures database's shape, JSON or XLSX) turned into generated drafts, each linted and
test-run, reviewed and published in bulk in the back office, then rolled out.

One job a module: `records` reads and checks the file row by row, `pattern` picks the template a
record implies and names its lanes, `allowances` shares the legal time among the steps,
`startform` and `cases` write the application form and the tests, `generate` puts one draft's
files together, `batch` imports (all or nothing), checks, lists and publishes.
"""

from .batch import FILTERS, Timings, check, entries_of, import_file, imports, publish_many, roll_out
from .records import Problem, Record, read

__all__ = ["FILTERS", "Problem", "Record", "Timings", "check", "entries_of", "import_file", "imports",
           "publish_many", "read", "roll_out"]
