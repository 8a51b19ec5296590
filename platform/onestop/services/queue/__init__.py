"""The counter floor's queue (issue 20): service groups and counters per centre (`setup`), tickets
taken at a kiosk, on a phone or booked for a slot (`tickets`), counters calling them (`floor`) and
the hall screens that show the calls (`screen`). The figures they make are read by
services.stats.queue.

Every verb of an officer is scoped to the officer's centre; the citizen's verbs name the centre by
its public code and the ticket by its unguessable token. Calls are audited and bump the centre's
board version in their transaction, which is all a hall screen's poll reads when nothing changed.
"""

from .floor import (
    attach_dossier,
    call_next,
    call_ticket,
    close_counter,
    counter_page,
    finish,
    open_counter,
    recall,
    serve,
    serving_ticket,
    skip,
)
from .screen import board_version, screen, version_of
from .setup import (
    counters,
    groups,
    public_centre,
    save_counter,
    save_group,
)
from .tickets import PRIORITIES, book, issue, slots, ticket_status

__all__ = [
    "PRIORITIES", "attach_dossier", "board_version", "book", "call_next", "call_ticket", "close_counter",
    "counter_page", "counters", "finish", "groups", "issue", "open_counter", "public_centre", "recall",
    "save_counter", "save_group", "screen", "serve", "serving_ticket", "skip", "slots", "ticket_status", "version_of",
]
