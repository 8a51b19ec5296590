"""What the public tracking page shows of a dossier, for whoever holds its code and lookup key:
its progress and promised date, what the centre asks of the applicant, why it ended, and the
procedure's diagram with the steps done and under way. Nothing about officers beyond their unit."""

from dataclasses import dataclass

from ..models import Dossier
from ..status import WITH_RESULT
from . import attachments, lifecycle, papers, payments, slips
from .dossiers import page_rows
from .lookup import track
from .procedures import model_for


@dataclass
class PublicView:
    dossier: Dossier
    page: dict
    asked: str | None  # what the applicant is asked to supply, while the dossier waits for it
    ended: str | None  # why it was withdrawn, stopped or not accepted
    diagram: dict | None  # engine.diagram data of the procedure, if it was drawn
    done: frozenset  # element ids completed
    current: frozenset  # element ids under way (ready tasks, waits)
    steps: list  # slips.HandOver rows without the officers' names
    late_units: list
    rating: object = None  # the citizen's rating, once given
    papers: list = None  # the papers taken in at the counter: digitised or on paper only
    payments: list = None  # the fees asked online (services.payments), oldest first


def public_view(code, key) -> PublicView:
    """The page of a dossier by its code and lookup key; NotFound for any mismatch."""
    dossier = track(code, key)
    page = page_rows(dossier)
    done = frozenset(h.element_id for h in page["history"] if h.state == "completed")
    current = frozenset([t.element_id for t in page["tasks"]] + [w.element_id for w in page["waiting"]])
    steps = slips.hand_over_rows(dossier, with_people=False)
    return PublicView(dossier, page, lifecycle.supplement_request_of(dossier), lifecycle.ending_of(dossier),
                      model_for(dossier.version).diagram, done, current, steps, slips.late_units(steps),
                      lifecycle.rating_of(dossier) if dossier.status in WITH_RESULT else None,
                      papers.of_dossier(dossier.id), payments.of_dossier(dossier))


def paper_copy(code, key, paper_id) -> tuple:
    """The digitised copy of one of a dossier's papers, for whoever holds its code and lookup key
    (the citizen's own dossier): (name, media type, bytes); NotFound otherwise."""
    dossier = track(code, key)
    paper = next((p for p in papers.of_dossier(dossier.id) if p.id == paper_id and p.attachment_id), None)
    if paper is None:
        return None
    return paper.attachment.name, paper.attachment.media_type, attachments.store().read(paper.attachment.sha256)
