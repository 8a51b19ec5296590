"""The outbox of status changes told to the national portal: a row written in the transaction
that changes the status of a dossier the portal pushed, numbered per dossier (`seq`, from 1) so the
portal can put them in order and drop one it already has. Services call `status_changed` inside
their unit of work wherever a dossier's status moves (services.steps, services.lifecycle, services.payments); a
dossier that did not come from the portal costs one indexed read, and only when its status moves."""

from __future__ import annotations

from ... import sql
from ...models import PortalDossier, PortalPush


def link_new_dossier(dossier, portal_id: str, procedure_code: str, agency_code: str, now) -> PortalDossier:
    """Inside the transaction storing a dossier the portal pushed: remember its id there (a unique
    index: the same portal dossier stored twice at once rolls the second back) and queue its first
    status."""
    link = PortalDossier.create(centre=dossier.centre_id, dossier=dossier.id, portal_id=portal_id,
                                procedure_code=procedure_code, agency_code=agency_code, created_at=now)
    _queue(link.id, dossier.centre_id, dossier.status, now)
    return link


UNREAD = object()  # status_changed's `link` when the caller has not read it


def status_changed(dossier_id: int, status, now, link=UNREAD) -> None:
    """Inside the transaction that moved the dossier to `status`: queue the change for the portal,
    if the portal pushed this dossier. `link`: the dossier's link as the caller read it with the
    dossier ((id, centre_id) or None: sql.work_item_in_centre; a link is made in its dossier's first
    transaction and never changes), else read here."""
    row = link if link is not UNREAD else sql.run(
        'SELECT "id", "centre_id" FROM "portaldossier" WHERE "dossier_id" = ?', (dossier_id,)).fetchone()
    if row is not None:
        _queue(row[0], row[1], str(status), now)


def _queue(link_id: int, centre_id: int, status: str, now) -> None:
    # The dossier's row is locked by the change being stored, so the numbers cannot interleave.
    PortalDossier.update(last_seq=PortalDossier.last_seq + 1).where(PortalDossier.id == link_id).execute()
    seq = PortalDossier.select(PortalDossier.last_seq).where(PortalDossier.id == link_id).scalar()
    PortalPush.create(centre=centre_id, link=link_id, seq=seq, status=str(status), changed_at=now, next_attempt_at=now)
