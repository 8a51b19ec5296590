"""The audit chain's head read ahead by a new dossier's unit (services.audit_head), on PostgreSQL where
it is read in the pipeline of the unit's deferred writes."""

import pytest

from onestop.db import LOCK_CODE, defer, run_write
from onestop.models import AuditHead, User
from onestop.services import audit, audit_bulk, audit_head

ON_POSTGRESQL = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


def _unit_reading_ahead(actor, bulk_first=False):
    """A unit that reads the head of the actor's chain (its centre's; chain 0 without an actor) ahead, as
    a new dossier's code does, then appends to it two events (one append) and a bulk of two, the bulk
    first or last: each append goes on from where the one before left it."""
    chain = actor.centre_id if actor is not None else 0

    def work():
        defer((LOCK_CODE, "agency", 1), lambda: audit_head.read_head_ahead(chain))
        if bulk_first:
            audit_bulk.record_many("test.bulk", actor, chain or None, [(None, "a", None), (None, "b", None)])
        audit.record("test.first", actor)
        audit.record("test.last", actor)
        if not bulk_first:
            audit_bulk.record_many("test.bulk", actor, chain or None, [(None, "a", None), (None, "b", None)])

    run_write(work)


@ON_POSTGRESQL
def test_a_chain_with_no_head_yet_read_ahead_is_started_by_its_first_event_and_verifies(app):
    with app.app_context():
        assert AuditHead.get_or_none(AuditHead.chain == 0) is None  # no event of no centre yet
        _unit_reading_ahead(None)
        assert AuditHead.get(AuditHead.chain == 0).seq == 4
        checked = audit.verify()
        assert checked.broken is None, checked.broken


@ON_POSTGRESQL
def test_a_head_read_ahead_then_appended_to_by_events_and_a_bulk_in_one_unit_leaves_a_chain_that_verifies(
        app, admin_api):
    with app.app_context():
        actor = User.get(User.username == "admin1")
        chain = actor.centre_id
        _unit_reading_ahead(actor)  # the chain's head exists from here on
        seq = AuditHead.get(AuditHead.chain == chain).seq
        _unit_reading_ahead(actor)
        _unit_reading_ahead(actor, bulk_first=True)  # (the bulk's advance makes the unit forget what it read)
        assert AuditHead.get(AuditHead.chain == chain).seq == seq + 8
        checked = audit.verify()
        assert checked.broken is None, checked.broken
