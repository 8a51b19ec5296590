"""Onboarding a procedure in the back office: upload the files as a draft, read the validation
report and the compliance lint, compare with the version in force, publish, roll out.

Nothing reaches the engine's tables before `publish`: a draft is the files as uploaded.
"""

from dataclasses import dataclass, field

from ..db import write_transaction
from ..models import Centre, Draft, Procedure, ProcedureVersion
from . import audit, connectors, deadlines, templates, testrun, unittests
from .drafts import pack, unpacked
from .errors import Forbidden, Invalid, NotFound
from .procedures import (
    checked_model,
    current_version,
    lane_role_known,
    procedure_code,
    store_version,
    unpack,
)

# What a finding is about; the one place deciding what blocks which way in.
STRUCTURE = "structure"  # the model cannot carry a dossier to an end or to the people who must act
CATALOGUE = "catalogue"  # the catalogue record is incomplete (documents, fee, processing time)
# onestop's rule for its centres' own models, stricter than BPMN: every path ends at an end event
# (BPMN lets a path stop at an element without an outgoing flow, and third-party models do).
CONVENTION = "convention"


@dataclass
class Finding:
    level: str  # "error" blocks publishing; "warning" is for the administrator to judge
    message: str
    element_id: str | None = None
    kind: str = CATALOGUE

    @property
    def blocks_publishing(self) -> bool:
        """The back office publishes nothing while the lint finds an error of any kind."""
        return self.level == "error"

    @property
    def blocks_upload(self) -> bool:
        """An upload through the API (a third party's bare model) is refused only for a structural error:
        an incomplete catalogue record, or a path left without an end event, is reported with the new
        version, not refused."""
        return self.level == "error" and self.kind == STRUCTURE

    def as_dict(self) -> dict:
        return {"level": self.level, "kind": self.kind, "message": self.message, "element_id": self.element_id}


@dataclass
class Review:
    draft_id: int
    code: str | None = None
    name: str = ""
    problems: list = field(default_factory=list)  # the validation report: [{element_id, message, file, ...}]
    findings: list = field(default_factory=list)  # the compliance lint
    model: object = None  # the compiled model, when it compiled
    diff: dict | None = None  # against the version in force
    current_version: int | None = None
    tests: object = None  # the draft's last unit-test run (unittests.TestReport), if it has test files
    previous: object = None  # the compiled model of the version in force, to draw the diff against

    @property
    def publishable(self) -> bool:
        return self.model is not None and not any(f.blocks_publishing for f in self.findings)

    @property
    def marked(self) -> set:
        """The elements the report or the lint names: marked on the diagram."""
        return {p.get("element_id") for p in self.problems if p.get("element_id")} | {
            f.element_id for f in self.findings if f.element_id}


def submit(actor, uploads, max_bytes=5 * 1024 * 1024) -> Review:
    """Keep the uploaded files as a draft of the actor's centre and review them."""
    files = unpack(uploads, max_bytes)
    if not files:
        raise Invalid("choose the procedure's files (BPMN, forms, procedure.json) or one .zip")
    with write_transaction():
        draft = Draft.create(centre=actor.centre_id, created_by=actor.id, files=pack(files))
        audit.record("draft.uploaded", actor, detail={"draft": draft.id, "files": sorted(f.name for f in files)})
    unittests.run(actor, draft.id, "upload", max_bytes)  # a SpiffArena folder's test_*.json run on upload
    return review(actor, draft.id, max_bytes)


def _draft(actor, draft_id) -> Draft:
    draft = Draft.get_or_none((Draft.id == draft_id) & (Draft.centre == actor.centre_id))
    if draft is None:
        raise NotFound("no such draft")
    return draft


def review(actor, draft_id, max_bytes=5 * 1024 * 1024) -> Review:
    """The validation report, the compliance lint and the diff of a draft of the actor's centre."""
    draft = _draft(actor, draft_id)
    result = review_files(actor, unpacked(bytes(draft.files)), max_bytes, draft_id=draft.id)
    if result.model is not None and draft.code != result.code:
        Draft.update(code=result.code).where(Draft.id == draft.id).execute()
    return result


def review_files(actor, files, max_bytes=5 * 1024 * 1024, draft_id=None, untried=True) -> Review:
    """What `review` says of a draft, said of `files` (SourceFile) that need not be stored: the
    modeller checks what is on its page before it is saved. Stores nothing. `untried=False` leaves
    out the warnings about paths no test run has reached (the modeller's live check, which would
    otherwise mark every element of a drawing not yet tried)."""
    result, files = Review(draft_id), list(files)
    try:
        model = checked_model(files, max_bytes=max_bytes)
    except Invalid as exc:
        result.problems = exc.details or [{"message": exc.message}]
        return result
    result.model, result.code = model, procedure_code(model)
    result.name = str(model.metadata.get("name") or result.code)
    result.problems = list(model.warnings)
    result.findings = lint(model)
    # The centre's allow list, checked now against the URLs the model writes out (publishing refuses them too).
    result.findings += [Finding("error", p.message, p.element_id, STRUCTURE) for p in
                        connectors.refused_literal_urls(files, connectors.allowed_of(actor.centre_id))]
    if draft_id is not None:
        result.tests = unittests.latest(actor, draft_id)
        if untried:  # before publishing: what no test run has reached yet
            result.findings += [Finding("warning", message, element_id)
                                for element_id, message in testrun.unexercised(draft_id, model)]
    procedure = Procedure.get_or_none((Procedure.centre == actor.centre_id) & (Procedure.code == result.code))
    if procedure is not None and procedure.latest_version:
        from .procedures import model_for
        from .rollout import diff_models

        in_force = current_version(procedure)
        result.current_version = in_force.version
        result.previous = model_for(in_force)
        result.diff = diff_models(result.previous, model, in_force.version, None)
    return result


def lint(model) -> list[Finding]:
    """What a procedure needs before it is put before citizens, beyond what the engine checks."""
    meta, out = model.metadata or {}, []
    lanes = meta.get("lanes") if isinstance(meta.get("lanes"), dict) else {}
    # Once procedure.json maps lanes to roles, a task outside that map is offered to no one: the model
    # is broken. A bare model maps no lane (any officer is offered its tasks): its record is incomplete.
    roles_kind = STRUCTURE if lanes else CATALOGUE
    for element_id, element in sorted(model.elements().items()):
        if element["type"] in ("UserTask", "ManualTask", "NoneTask") and element["lane"] is None and lanes:
            out.append(Finding("error", "a task people do is in no lane: no role is offered it", element_id, STRUCTURE))
        elif element["lane"] is not None and element["type"] in ("UserTask", "ManualTask") \
                and not lane_role_known(lanes.get(element["lane"])):
            out.append(Finding("error", f"its lane {element['lane']!r} maps to no role in procedure.json \"lanes\"",
                               element_id, roles_kind))
    stuck = set(model.dead_ends(implicit_ends=True))  # not even a path that stops: a loop without a way out
    for element_id in model.dead_ends():
        out.append(Finding("error", "no path from here reaches an end: a dossier could be stuck here for ever "
                                    "(a loop without a way out, or a branch that stops short)", element_id,
                           STRUCTURE if element_id in stuck else CONVENTION))
    try:
        plan = deadlines.plan(meta)
    except ValueError as exc:
        plan = None
        out.append(Finding("error", f"procedure.json: {exc}"))
    if plan is None:
        out.append(Finding("warning", "procedure.json sets no processing time (\"deadline\"): no return date is promised"))
    else:
        total = _days(plan.total)
        allotted = sum(_days(d) for key, d in plan.steps.items() if key not in plan.not_counted)
        if total and allotted > total + 1e-9:
            out.append(Finding("warning", f"the steps' allocations add up to {allotted:g} working days, more than "
                                          f"the {total:g} the procedure allows (fine only where steps run in parallel)"))
    if not meta.get("documents"):
        out.append(Finding("error", "procedure.json lists no required documents (\"documents\")"))
    if "fee_vnd" not in meta and "fee" not in meta:
        out.append(Finding("error", "procedure.json states no fee (\"fee_vnd\"; 0 or the text \"Miễn phí\" if none)"))
    for key in templates.placeholders(meta):
        out.append(Finding("warning", f"procedure.json \"{key}\" still holds the template's placeholder "
                                      f"(\"{templates.PLACEHOLDER} ...\"): write the procedure's own value"))
    if model.has_scripts:
        out.append(Finding("warning", "the model runs scripts: they passed the sandbox's check and run with its "
                                      "limits; prefer forms and gateways where possible", kind=CONVENTION))
    return out


def upload(actor, uploads, process_id=None, max_bytes=5 * 1024 * 1024):
    """Store uploaded files as the next version of the actor's centre's procedure, as `POST
    /api/v1/procedures` does: refused (Invalid, per element) while the lint finds a structural error,
    as publishing in the back office is; the other findings come back with the version.
    Returns (version, created, findings, the run of the uploaded test files or None)."""
    files = unpack(uploads, max_bytes)
    model = checked_model(files, process_id, max_bytes)
    findings = lint(model)
    blocking = [f for f in findings if f.blocks_upload]
    if blocking:
        raise Invalid(f"the model was refused: {blocking[0].message}",
                      details=[{"element_id": f.element_id, "message": f.message} for f in blocking])
    version, created = store_version(actor, actor.centre_id, files, model)
    return version, created, findings, unittests.run_uploaded(actor, files, version, max_bytes)


def _days(deadline) -> float:
    """Working days, roughly: 8 office hours a day; 5 working days in 7 calendar days."""
    if deadline.unit == "working_hours":
        return deadline.amount / 8
    return deadline.amount * 5 / 7 if deadline.unit == "calendar_days" else deadline.amount


def publish(actor, draft_id, max_bytes=5 * 1024 * 1024) -> ProcedureVersion:
    """Put a reviewed draft in force at the actor's centre (and offer it as a template to the
    centres below, at a province or the nation). Refused while the review finds errors."""
    result = review(actor, draft_id, max_bytes)
    if result.model is None:
        raise Invalid("the model was refused; fix what the report names and upload it again",
                      details=result.problems)
    blocking = [f for f in result.findings if f.blocks_publishing]
    if blocking:
        raise Invalid(f"not published: {blocking[0].message}",
                      details=[{"element_id": f.element_id, "message": f.message} for f in blocking])
    centre = Centre.get_by_id(actor.centre_id)
    draft = _draft(actor, draft_id)
    version, _ = store_version(actor, centre.id, unpacked(bytes(draft.files)), result.model,
                               published=centre.level in ("province", "nation"))
    with write_transaction():
        Draft.update(published_version=version.version).where(Draft.id == draft.id).execute()
        audit.record("procedure.published", actor, detail={"code": result.code, "version": version.version,
                                                          "draft": draft.id})
    return version


def roll_out(actor, code, selector):
    """Adopt the centre's current version of a procedure, published as a template, at the centres
    the selector names below it (a province administrator within the province)."""
    from . import rollout

    if not actor.has_role("province_admin", "system_admin"):
        raise Forbidden("rolling out is for a province's or the nation's administrators")
    procedure = Procedure.get_or_none((Procedure.centre == actor.centre_id) & (Procedure.code == code))
    if procedure is None or not procedure.latest_version:
        raise NotFound("no such procedure")
    version = current_version(procedure)
    if version.published_at is None:
        raise Invalid("publish the procedure first: only a published version is a template")
    return rollout.rollout(actor, [version], rollout.targets_in_scope(actor, selector))

