"""Tables of onestop: data plus small composable query classmethods.

Every dossier, work item, user and procedure belongs to a centre; queries that serve an actor
go through the `for_actor`/`visible_to` helpers so that scoping is never forgotten.
"""

import json
from datetime import date

from peewee import (
    SQL,
    AutoField,
    BigIntegerField,
    BlobField,
    BooleanField,
    CharField,
    DateField,
    DateTimeField,
    FieldAccessor,
    FloatField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)

from . import clock, jsontext
from .db import database
from .status import Status


def utcnow():
    """Naive UTC now on the bound clock (onestop.clock): both databases store it alike and
    comparisons stay simple."""
    return clock.current().now()


def local_today() -> date:
    """Today at the service centres (Vietnam's calendar day), whatever the server's time zone: the
    one meaning of "today" in pages, services and the back office."""
    return clock.current().today()


class UnreadJSON:
    """A JSON field's stored text, held by a model instance until the field is first read (sql._build, for a read
    whose callers seldom look at the field: a step's dossier, whose data a step replaces)."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text


class _ReadWhenAsked(FieldAccessor):
    """A field's value that an instance may hold as it was stored (a value of class `kept`) and that is made the
    field's value (`made`) when first read, then kept."""

    kept: type = type(None)

    def made(self, value):
        raise NotImplementedError

    def __get__(self, instance, instance_type=None):
        if instance is None:
            return self.field
        value = instance.__data__.get(self.name)
        if value.__class__ is self.kept:
            value = instance.__data__[self.name] = self.made(value)
        return value


class _JSONAccessor(_ReadWhenAsked):
    """A JSON field's value, read from its stored text (UnreadJSON) when first asked for."""

    kept = UnreadJSON

    def made(self, value):
        return self.field.python_value(value.text)


class JSONField(TextField):
    """JSON stored as text (UTF-8, not ASCII-escaped), the same on SQLite and PostgreSQL."""

    accessor_class = _JSONAccessor

    def db_value(self, value):
        if value.__class__ is UnreadJSON:  # (as read, then written: the value its text holds)
            value = self.python_value(value.text)
        return None if value is None else jsontext.dumps(value)  # the standard library's text, through orjson

    def python_value(self, value):
        return None if value is None else json.loads(value)


class _TextOrItsUtf8(_ReadWhenAsked):
    """A field's value that may be set as its UTF-8 (bytes) and is read as its text, decoded when first read."""

    kept = bytes

    def made(self, value):
        return value.decode()


class Utf8TextField(TextField):
    """Text that a model instance may be given as its UTF-8 (a dossier's workflow state after a step on SQLite, as
    orjson wrote it and the step stored it): decoded only if read (~10 instructions a byte of a state's Vietnamese
    data), which the service answering the step does not do. Stored and read back as TextField's text (a bytes
    value is written as its UTF-8 text: TextField.adapt)."""

    accessor_class = _TextOrItsUtf8


class BaseModel(Model):
    class Meta:
        database = database


class Centre(BaseModel):
    """A public administrative service centre (province, commune, or the default embedded one)."""

    id = AutoField()
    code = CharField(unique=True, max_length=64)
    name = CharField(max_length=255)
    parent = ForeignKeyField("self", null=True, backref="children", on_delete="RESTRICT")
    level = CharField(max_length=16, default="centre")
    agency_code = CharField(max_length=64, null=True)
    agency_code_source = CharField(max_length=255, null=True)  # where the code came from (national list file, an edit)
    admin_code = CharField(max_length=16, null=True)  # the administrative unit's code (province 22, ward 07090)
    address = CharField(max_length=500, null=True)
    successor = ForeignKeyField("self", null=True, on_delete="SET NULL")  # after a merge: where its work went
    closed_on = DateField(null=True)  # merged or dissolved: from this day it takes no new dossiers
    handed_over_at = DateTimeField(null=True)  # when its open dossiers and tasks went to its successor
    office_hours = JSONField(null=True)  # [["07:30", "11:30"], ["13:30", "17:00"]]; None: the default
    cutoff = CharField(max_length=5, null=True)  # "15:00": received later counts from the next working day
    created_at = DateTimeField(default=utcnow)

    @classmethod
    def default(cls):
        return cls.get(cls.code == "default")

    @classmethod
    def under(cls, centre_id):
        """The centres whose parent is that centre (a province's communes)."""
        return cls.select().where(cls.parent == centre_id)

    def closed(self, today) -> bool:
        """Merged (or dissolved) by `today`: it takes no new dossiers."""
        return self.closed_on is not None and self.closed_on <= today


class Unit(BaseModel):
    """A department, division or counter of a centre; a lane may be done by one unit's officers."""

    id = AutoField()
    centre = ForeignKeyField(Centre, backref="units", on_delete="CASCADE")
    code = CharField(max_length=32)
    name = CharField(max_length=255)
    kind = CharField(max_length=16, default="department")  # department | counter

    class Meta:
        indexes = ((("centre", "code"), True),)


class User(BaseModel):
    id = AutoField()
    centre = ForeignKeyField(Centre, backref="users", on_delete="RESTRICT")
    unit = ForeignKeyField(Unit, null=True, on_delete="SET NULL")
    username = CharField(unique=True, max_length=150)
    display_name = CharField(max_length=255, default="")
    roles = CharField(max_length=255, default="")
    password_hash = CharField(max_length=255, null=True)
    # No longer written: an account is never locked (a stranger could lock its officer out); failed
    # sign-ins are throttled per browser and address instead (web/throttle.py). Kept for old rows.
    failed_sign_ins = IntegerField(default=0)
    locked_until = DateTimeField(null=True)
    active = BooleanField(default=True)
    created_at = DateTimeField(default=utcnow)

    @property
    def role_set(self):
        return {r for r in self.roles.split(",") if r}

    def has_role(self, *roles):
        return bool(self.role_set & set(roles))

    @property
    def is_admin(self):
        return self.has_role("admin")


class ApiToken(BaseModel):
    """A bearer token; only its SHA-256 is stored, the token itself is shown once."""

    id = AutoField()
    user = ForeignKeyField(User, backref="tokens", on_delete="CASCADE")
    token_hash = CharField(unique=True, max_length=64)
    label = CharField(max_length=150, default="")
    created_at = DateTimeField(default=utcnow)
    revoked = BooleanField(default=False)
    # An external-task worker's token: the topics (JSON list) it may fetch, and nothing else of the
    # API; None for an ordinary token (services.external_tasks).
    topics = JSONField(null=True)


class SignInSession(BaseModel):
    """A signed-in browser, kept on the server. The cookie carries only a random token whose hash
    is kept here, so signing out, a new password or an idle spell ends the session for every copy
    of the cookie."""

    id = AutoField()
    token_hash = CharField(max_length=64, unique=True)
    user = ForeignKeyField(User, backref="sign_ins", on_delete="CASCADE")
    created_at = DateTimeField(default=utcnow)
    last_seen_at = DateTimeField(default=utcnow)
    address = CharField(max_length=64, default="")  # where it signed in from (for the administrator's eyes)


class Procedure(BaseModel):
    """An administrative procedure of a centre; its runnable content lives in versions."""

    id = AutoField()
    centre = ForeignKeyField(Centre, backref="procedures", on_delete="RESTRICT")
    code = CharField(max_length=128)
    name = CharField(max_length=1000, default="")
    latest_version = IntegerField(default=0)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("centre", "code"), True),)

    @classmethod
    def for_actor(cls, actor):
        return cls.select().where(cls.centre == actor.centre_id)


class ProcedureVersion(BaseModel):
    """One immutable upload of a procedure: its files, the process to start, its parse result."""

    id = AutoField()
    procedure = ForeignKeyField(Procedure, backref="versions", on_delete="CASCADE")
    version = IntegerField()
    content_hash = CharField(max_length=64, index=True)
    dialect = CharField(max_length=16)
    start_kind = CharField(max_length=16, default="process")
    start_id = CharField(max_length=255)
    process_ids = JSONField(default=list)
    warnings = JSONField(default=list)
    metadata = JSONField(default=dict)
    has_scripts = BooleanField(default=False)
    # The parse result (ParsedModel.dumps): a worker that has not seen the version loads it from
    # here instead of parsing the files again.
    compiled = TextField(null=True)
    start_form = CharField(max_length=255, null=True)  # the application form's name: open for online submission
    # Adopted from a province's or the nation's template: the model is the template's (not stored
    # again); the metadata carries the centre's allowed local overrides.
    template_version = ForeignKeyField("self", null=True, on_delete="RESTRICT")
    published_at = DateTimeField(null=True)  # offered as a template to the centres below
    created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = DateTimeField(default=utcnow)
    # What a loader that reads the same files again and again (the bundled procedures, at every start)
    # found this version to be made from: its files and the code that compiled them
    # (procedures.source_key). Equal next time: the files need not be parsed again.
    source_key = CharField(max_length=64, null=True)

    class Meta:
        indexes = ((("procedure", "version"), True),)


class ModelFile(BaseModel):
    """A file of a procedure version (BPMN, DMN, form JSON, procedure.json), stored verbatim."""

    id = AutoField()
    version = ForeignKeyField(ProcedureVersion, backref="files", on_delete="CASCADE")
    name = CharField(max_length=255)
    kind = CharField(max_length=16)
    content = BlobField()

    class Meta:
        indexes = ((("version", "name"), True),)


RATING_LEVELS = ("rat_hai_long", "hai_long", "khong_hai_long")  # very satisfied, satisfied, not satisfied


class Dossier(BaseModel):
    """A citizen's dossier (hồ sơ): one running instance of a procedure version.

    `serial` is the compare-and-set guard: every write of a step bumps it and only succeeds if
    nobody else bumped it since the state was read.
    """

    id = AutoField()
    # The centre handling it. Not indexed alone: the indexes below that start with it serve its lookups.
    centre = ForeignKeyField(Centre, backref="dossiers", on_delete="RESTRICT", index=False)
    # Set when a merger handed it over: the centre that received it, which keeps its statistics.
    received_by = ForeignKeyField(Centre, null=True, on_delete="RESTRICT", index=False)  # partial index below
    code = CharField(unique=True, max_length=64)
    procedure = ForeignKeyField(Procedure, backref="dossiers", on_delete="RESTRICT")
    version = ForeignKeyField(ProcedureVersion, backref="dossiers", on_delete="RESTRICT")
    state = CharField(max_length=16, default="active", index=True)
    data = JSONField(default=dict)
    applicant = JSONField(null=True)
    workflow = Utf8TextField()
    serial = IntegerField(default=1)
    error_element = CharField(max_length=255, null=True)
    error_message = TextField(null=True)
    next_timer_at = DateTimeField(null=True)  # partial index below
    # sha256 of the citizen's lookup key. Not indexed: a dossier is found by its code, then its hash compared.
    lookup_hash = CharField(max_length=64, null=True)
    status = CharField(max_length=32, default=Status.RECEIVED.value)  # the national status (onestop.status)
    paused_at = DateTimeField(null=True)  # the clock stopped here: waiting on the citizen
    received_at = DateTimeField(null=True)  # when the clock started (UTC)
    due_at = DateTimeField(null=True)  # the promised return (UTC); None: the procedure sets no deadline
    # The competent authority that decides, as the procedure names it at the receiving centre: a
    # citizen may file at any centre of the province, the decision is the authority's.
    authority = CharField(max_length=500, null=True)
    channel = CharField(max_length=16, null=True)  # how it came in: online, counter, api
    resolved_at = DateTimeField(null=True)  # when the result was ready (first "resolved", or "returned")
    returned_at = DateTimeField(null=True)  # when the result was handed over
    apologised_at = DateTimeField(null=True)  # the first apology: the dossier is late whatever happens next
    ended_at = DateTimeField(null=True)  # when it ended without a result: not accepted, withdrawn, stopped
    # Who took it in. Not indexed: no query looks dossiers up by it (an index would be written by every intake and
    # step that moves the row, for nothing: migration 53).
    created_by = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)
    # The key another system knows it by (Camunda's business key): given by the message that
    # started it, or read from its data by the procedure's "business_key". Messages find it by it.
    business_key = CharField(max_length=255, null=True)
    # Taken over from the centre's old system (services.legacy): the switch-over instant (UTC), from
    # which it counts in the statistics (received before it: not counted as received). None: not imported.
    switch_over_at = DateTimeField(null=True)  # partial index below

    class Meta:
        # (centre, business_key), unique: a message correlated by its business key finds one dossier; partial, below.
        indexes = ((("centre", "created_at"), False),  # the centre's ledger: dossiers received by day
                   (("centre", "resolved_at"), False),  # statistics: results by period
                   (("centre", "received_at"), False),  # statistics: intake by period
                   (("centre", "ended_at"), False),  # statistics: dossiers ended without a result
                   (("centre", "state"), False))  # statistics: a centre's dossiers in progress now

    @classmethod
    def for_actor(cls, actor):
        return cls.select().where(cls.centre == actor.centre_id)

    @classmethod
    def timers_due(cls, now):
        return cls.select(cls.id).where(
            (cls.state == "active") & cls.next_timer_at.is_null(False) & (cls.next_timer_at <= now)
        )


class WorkItem(BaseModel):
    """A ready human task, denormalised so that worklists never load a workflow."""

    id = CharField(primary_key=True, max_length=36)
    dossier = ForeignKeyField(Dossier, backref="work_items", on_delete="CASCADE")
    centre = ForeignKeyField(Centre, on_delete="RESTRICT", index=False)  # served by the indexes that start with it
    element_id = CharField(max_length=255)
    name = CharField(max_length=500, default="")
    lane = CharField(max_length=255, null=True)
    form = CharField(max_length=255, null=True)
    role = CharField(max_length=64, null=True)  # who may do it (the lane's role); None: any officer
    unit = ForeignKeyField(Unit, null=True, on_delete="SET NULL", index=False)  # and, if set, only that unit's officers
    due_at = DateTimeField(null=True)  # this step's deadline (UTC); None: not counted
    created_at = DateTimeField(default=utcnow)  # every query by it is by centre or dossier first: no index alone
    claimed_by = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False)  # partial index below
    claimed_at = DateTimeField(null=True)

    class Meta:
        # The worklist: a centre's tasks, oldest first, paged by (created_at, id); the desk's, by deadline.
        indexes = ((("centre", "created_at", "id"), False), (("centre", "due_at"), False))

    @classmethod
    def for_actor(cls, actor):
        """The centre's tasks the actor may do: those of their roles' lanes and those of no role."""
        query = cls.select().where(cls.centre == actor.centre_id)
        return query if actor.has_role("admin") else query.where(cls.offered_to(actor))

    @classmethod
    def offered_to(cls, actor):
        by_role = cls.role.is_null() | cls.role.in_(sorted(actor.role_set) or [""])
        by_unit = cls.unit.is_null() | (cls.unit == actor.unit_id) if actor.unit_id else cls.unit.is_null()
        return by_role & by_unit


class WaitingEvent(BaseModel):
    """An event a dossier waits for (timer, message, signal...), for display and delivery."""

    id = AutoField()
    dossier = ForeignKeyField(Dossier, backref="waiting", on_delete="CASCADE")
    task_id = CharField(max_length=36)
    element_id = CharField(max_length=255)
    type = CharField(max_length=32)
    name = CharField(max_length=500, null=True)
    due_at = DateTimeField(null=True)
    message = CharField(max_length=255, null=True, index=True)  # a message wait: the message's name
    # A message wait of a correlated workflow: the correlation keys' values it expects.
    correlations = JSONField(null=True)


class ServiceCall(BaseModel):
    """A service task's pending call (engine.ServiceCall): an external task waiting for a worker of
    its topic, or a connector call. The row goes once the task has its answer, failed for good or
    was cancelled; `id` is the id workers see (the external-task API's)."""

    id = CharField(max_length=36, primary_key=True)
    dossier = ForeignKeyField(Dossier, backref="service_calls", on_delete="CASCADE")
    centre = ForeignKeyField(Centre, on_delete="RESTRICT")
    task_id = CharField(max_length=36)  # the engine's task
    element_id = CharField(max_length=255)
    name = CharField(max_length=500, null=True)
    kind = CharField(max_length=16)  # external | connector
    topic = CharField(max_length=255, null=True)  # external
    operator = CharField(max_length=255, null=True)  # connector
    params = JSONField(default=dict)
    variables = JSONField(default=dict)  # the task's data when the call was made
    result_variable = CharField(max_length=255, null=True)
    priority = IntegerField(default=0)
    retries = IntegerField(null=True)  # what the worker last said is left (None: not said yet)
    error_message = TextField(null=True)
    error_details = TextField(null=True)
    worker_id = CharField(max_length=255, null=True)  # who locked it last
    lock_expires_at = DateTimeField(null=True)
    available_at = DateTimeField(null=True)  # a failed attempt's retry timeout: not handed out before
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("centre", "kind", "topic", "created_at"), False),  # fetch-and-lock by topic, oldest first
                   (("dossier", "task_id"), False))


class HistoryEntry(BaseModel):
    """A BPMN element that finished (completed or cancelled), in order, with who did it."""

    id = AutoField()
    dossier = ForeignKeyField(Dossier, backref="history", on_delete="CASCADE")
    task_id = CharField(max_length=36)
    element_id = CharField(max_length=255)
    name = CharField(max_length=500, null=True)
    state = CharField(max_length=16)
    at = DateTimeField(default=utcnow)
    actor = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False)  # partial index below
    lane = CharField(max_length=255, null=True)  # for a person's task: the unit that did it
    started_at = DateTimeField(null=True)  # when the task reached that unit
    due_at = DateTimeField(null=True)  # its deadline then: on time or late

    class Meta:
        indexes = ((("at",), False),)  # statistics: steps finished in a period


class AuditEvent(BaseModel):
    """Append-only audit trail: who did what to which dossier or procedure, and when."""

    id = AutoField()
    centre = ForeignKeyField(Centre, null=True, on_delete="RESTRICT")
    dossier = ForeignKeyField(Dossier, null=True, backref="events", on_delete="CASCADE")
    actor = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False)  # no query looks events up by it
    action = CharField(max_length=64)
    element_id = CharField(max_length=255, null=True)
    detail = JSONField(null=True)
    at = DateTimeField(default=utcnow, index=True)
    # Tamper evidence: each event's place in its centre's chain and the keyed MAC linking it to the
    # one before (services.audit); altering or removing a stored row breaks the chain.
    chain = IntegerField(null=True)
    seq = IntegerField(null=True)
    hash = CharField(max_length=64, null=True)
    history = TextField(null=True)  # ids of the history rows the step wrote, bound by the MAC ("12,13")

    class Meta:
        indexes = ((("chain", "seq"), True),)


class AuditHead(BaseModel):
    """The last link of each audit chain (one per centre; 0 for events of no centre)."""

    chain = IntegerField(primary_key=True)
    seq = IntegerField(default=0)
    hash = CharField(max_length=64)


class Rating(BaseModel):
    """A citizen's rating of a dossier once its result is ready: one per dossier."""

    id = AutoField()
    dossier = ForeignKeyField(Dossier, unique=True, on_delete="CASCADE")
    level = CharField(max_length=16)  # one of RATING_LEVELS
    comment = TextField(null=True)
    channel = CharField(max_length=16, default="portal")  # portal (incl. the counter's QR) | api
    at = DateTimeField(default=utcnow)


def _shard_field():
    """The kept figures' `shard`: part of each figure table's unique key, so that concurrent writers
    of one key add to different rows (services.stats.counters picks one); every reader sums over it.
    Its SQL default 0 is what the recount and older rows get."""
    return IntegerField(default=0, constraints=[SQL("DEFAULT 0")])


class DayFigure(BaseModel):
    """A centre's figures of one procedure on one local day, kept as the events happen (and
    rebuilt from the dossiers by services.stats.rebuild): the dashboards add days up."""

    id = AutoField()
    centre = ForeignKeyField(Centre, on_delete="CASCADE")
    procedure = ForeignKeyField(Procedure, on_delete="CASCADE")
    day = DateField()
    received = IntegerField(default=0)
    online = IntegerField(default=0)
    not_accepted = IntegerField(default=0)
    supplemented = IntegerField(default=0)
    resolved = IntegerField(default=0)
    early = IntegerField(default=0)
    on_time = IntegerField(default=0)
    late = IntegerField(default=0)
    without_deadline = IntegerField(default=0)
    returned = IntegerField(default=0)
    rated_1 = IntegerField(default=0)  # very satisfied
    rated_2 = IntegerField(default=0)  # satisfied
    rated_3 = IntegerField(default=0)  # not satisfied
    shard = _shard_field()

    class Meta:
        indexes = ((("centre", "day", "procedure", "shard"), True),)


class DayUnit(BaseModel):
    """Steps a unit (lane) of a centre finished on one local day for one procedure, how many of them
    late, and the ratings of the dossiers it had handled (the public unit lines)."""

    id = AutoField()
    centre = ForeignKeyField(Centre, on_delete="CASCADE")
    procedure = ForeignKeyField(Procedure, on_delete="CASCADE")
    day = DateField()
    lane = CharField(max_length=255)
    done = IntegerField(default=0)
    late = IntegerField(default=0)
    rated_1 = IntegerField(default=0)
    rated_2 = IntegerField(default=0)
    rated_3 = IntegerField(default=0)
    shard = _shard_field()

    class Meta:
        indexes = ((("centre", "day", "procedure", "lane", "shard"), True),)


class StepTally(BaseModel):
    """The columns DayStep and MonthStep share (no table of its own): human steps finished, by
    centre, procedure, unit, BPMN element, official and hours bucket (services.stats.bucket)."""

    id = AutoField()
    centre = ForeignKeyField(Centre, on_delete="CASCADE")
    procedure = ForeignKeyField(Procedure, on_delete="CASCADE")
    lane = CharField(max_length=255)  # '': a step of no lane
    element_id = CharField(max_length=255)
    actor_id = IntegerField()  # 0: nobody signed (not a foreign key: it is part of the unique key)
    bucket = IntegerField()
    name = CharField(max_length=500, default="")
    done = IntegerField(default=0)
    late = IntegerField(default=0)
    rework = IntegerField(default=0)
    seconds = BigIntegerField(default=0)
    shard = _shard_field()


class DayStep(StepTally):
    """The steps of one local day: the scorecard's counts, total time and the histogram its 9-in-10
    hours are read from, whatever the period."""

    day = DateField()

    class Meta:
        indexes = ((("centre", "day", "procedure", "lane", "element_id", "actor_id", "bucket", "shard"), True),)


class MonthStep(StepTally):
    """DayStep added up by month (the first day of the month): a year's scorecard reads twelve
    months of these and the days around them instead of every day."""

    month = DateField()

    class Meta:
        indexes = ((("centre", "month", "procedure", "lane", "element_id", "actor_id", "bucket", "shard"), True),)


class DayRating(BaseModel):
    """Ratings given on one local day of dossiers an official had handled, by centre and procedure."""

    id = AutoField()
    centre = ForeignKeyField(Centre, on_delete="CASCADE")
    procedure = ForeignKeyField(Procedure, on_delete="CASCADE")
    day = DateField()
    actor_id = IntegerField()
    rated_1 = IntegerField(default=0)
    rated_2 = IntegerField(default=0)
    rated_3 = IntegerField(default=0)
    shard = _shard_field()

    class Meta:
        indexes = ((("centre", "day", "procedure", "actor_id", "shard"), True),)


class DossierCounter(BaseModel):
    """An agency's sequence of dossiers received in one (local) day: the last number given."""

    id = AutoField()
    agency = CharField(max_length=64)
    day = DateField()
    value = IntegerField(default=0)

    class Meta:
        indexes = ((("agency", "day"), True),)


class LocalOverride(BaseModel):
    """What a centre adapts of a procedure it adopted from a template, within what the law allows
    (which role does each lane's tasks, local fees, its own agency's name): kept apart from the
    versions, so the next template version keeps it."""

    id = AutoField()
    centre = ForeignKeyField(Centre, on_delete="CASCADE")
    procedure = ForeignKeyField(Procedure, on_delete="CASCADE")
    values = JSONField(default=dict)
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("centre", "procedure"), True),)


class Draft(BaseModel):
    """Files an administrator uploaded for review in the back office, before publishing them."""

    id = AutoField()
    centre = ForeignKeyField(Centre, on_delete="CASCADE")
    created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = DateTimeField(default=utcnow)
    files = BlobField()  # a zip of the uploaded files, as uploaded
    code = CharField(max_length=128, null=True)  # the procedure it compiles to, once it does
    published_version = IntegerField(null=True)
    # Edited in the browser: each save bumps the revision, so a second administrator saving over a
    # revision they did not see is told who saved in between, and nothing is lost.
    revision = IntegerField(default=1)
    edited_by = ForeignKeyField(User, null=True, on_delete="SET NULL", backref="edited_drafts")
    edited_at = DateTimeField(null=True)


class PracticeDossier(BaseModel):
    """A dossier of a draft tried in the back office (services.practice): a sandbox that is never a
    dossier row, so no code, figure, notification or dossier audit event ever sees it."""

    id = AutoField()
    draft = ForeignKeyField(Draft, backref="practices", on_delete="CASCADE")
    centre = ForeignKeyField(Centre, on_delete="CASCADE")
    created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)
    revision = IntegerField()  # the draft's revision it started on
    compiled = TextField()  # the draft's model then (ParsedModel.dumps): it runs to its end on that model
    state = CharField(max_length=16)  # active, completed, error, abandoned
    workflow = TextField()
    serial = IntegerField(default=1)  # compare-and-set, as a dossier's
    data = JSONField(default=dict)
    ready = JSONField(default=list)  # the tasks offered: [{id, element_id, name, lane, form, due_at}]
    waiting = JSONField(default=list)  # [{element_id, type, name, due_at}]
    journal = JSONField(default=list)  # what was submitted, in order: [{element_id, lane, data}]
    reached = JSONField(default=list)  # element ids reached, for the draft's coverage
    due_at = DateTimeField(null=True)  # the promised return, on the centre's calendar
    clock_shift = FloatField(default=0)  # seconds its clock jumped ahead over waits
    error = JSONField(null=True)


class DraftTestRun(BaseModel):
    """One run of a draft's unit-test files (services.unittests): each case's result and reach."""

    id = AutoField()
    draft = ForeignKeyField(Draft, backref="test_runs", on_delete="CASCADE")
    ran_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    ran_at = DateTimeField(default=utcnow)
    revision = IntegerField()
    origin = CharField(max_length=16)  # upload, page
    passed = IntegerField(default=0)
    failed = IntegerField(default=0)
    results = JSONField(default=list)  # [CaseResult.as_dict()], and {"file", "problem"} for unreadable files


class CatalogueImport(BaseModel):
    """One catalogue file imported (services.catalogue): the drafts it made or updated, one entry a
    record, with what their automatic review and test run found."""

    id = AutoField()
    centre = ForeignKeyField(Centre, on_delete="CASCADE")
    imported_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    imported_at = DateTimeField(default=utcnow)
    file_name = CharField(max_length=255)
    # [{row, code, name, draft, outcome, pattern, revision, errors, warnings, passed, failed, notes}]
    entries = JSONField(default=list)


class ConnectorSettings(BaseModel):
    """A centre's connector settings (services.connectors): the hosts its models' HTTP connectors may
    call, one a line, and the URL of a SpiffArena connector proxy serving the operators it has no
    built-in connector for."""

    centre = ForeignKeyField(Centre, primary_key=True, on_delete="CASCADE")
    allowed_hosts = TextField(default="")  # "thue.gov.vn", "*.gdt.gov.vn", "10.1.2.3", "api.local:8443"
    proxy_url = CharField(max_length=500, null=True)
    updated_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    updated_at = DateTimeField(default=utcnow)


class ConnectorSecret(BaseModel):
    """A secret a centre's service tasks name in their parameters (SPIFF_SECRET:name), stored encrypted
    with the installation's connector key; its value is never shown again after it is saved."""

    id = AutoField()
    centre = ForeignKeyField(Centre, on_delete="CASCADE")
    name = CharField(max_length=64)
    ciphertext = TextField()
    updated_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("centre", "name"), True),)


class CalendarDay(BaseModel):
    """A centre's exception to the national calendar: an extra closure, or a day it works."""

    id = AutoField()
    centre = ForeignKeyField(Centre, backref="calendar_days", on_delete="CASCADE")
    day = DateField()
    working = BooleanField()
    note = CharField(max_length=255, default="")

    class Meta:
        indexes = ((("centre", "day"), True),)


class OfficialDay(BaseModel):
    """A day of the official calendar above the centres: for the whole country (province None), kept
    by a system administrator from the government's notices, or for one province and every centre
    under it. A day off (a holiday, the day off of a swap) or a working day (the Saturday worked in
    exchange), with the notice that decided it."""

    id = AutoField()
    province = ForeignKeyField(Centre, null=True, on_delete="CASCADE")  # None: the whole country
    day = DateField()
    working = BooleanField()
    name = CharField(max_length=255)
    source = CharField(max_length=255)  # the decision or notice, e.g. "Công văn 12729/VPCP-KGVX"
    source_date = DateField(null=True)
    source_url = CharField(max_length=500, null=True)
    confirmed = BooleanField(default=True)  # False: the notice itself was not seen (see the note)
    note = CharField(max_length=500, default="")
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("province", "day"), True),)  # the country's days: a partial index (migration 31)


class Attachment(BaseModel):
    """A file a dossier carries (a required document, a result): the bytes live under ONESTOP_HOME,
    content-addressed by sha256; the row says whose it is, under which field, and what it is."""

    id = AutoField()
    centre = ForeignKeyField(Centre, on_delete="RESTRICT")
    dossier = ForeignKeyField(Dossier, backref="attachments", on_delete="CASCADE")
    field = CharField(max_length=255)
    name = CharField(max_length=255)
    media_type = CharField(max_length=100)
    size = IntegerField()
    sha256 = CharField(max_length=64, index=True)
    task_id = CharField(max_length=36, null=True)
    created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = DateTimeField(default=utcnow)

    @classmethod
    def of_dossier(cls, dossier_id):
        return cls.select().where(cls.dossier == dossier_id).order_by(cls.id)


class FormSubmission(BaseModel):
    """A rendered application form that became a dossier: the hash of the form's one-time token,
    and the dossier's lookup key sealed with that token (only whoever holds the form can unseal it),
    so sending the same form again shows the first dossier instead of making a second one."""

    id = AutoField()
    token_hash = CharField(max_length=64, unique=True)
    dossier = ForeignKeyField(Dossier, on_delete="CASCADE")
    sealed_key = CharField(max_length=128)
    created_at = DateTimeField(default=utcnow, index=True)


class Sitting(BaseModel):
    """A dossier of a procedure decided on the spot, handled at the counter in one sitting: when the
    officer began taking it in, when it was received, when a leader was asked for the decision and
    gave it, and when the result was handed over (services.sittings)."""

    id = AutoField()
    centre = ForeignKeyField(Centre, on_delete="RESTRICT")
    dossier = ForeignKeyField(Dossier, unique=True, on_delete="CASCADE")
    procedure = ForeignKeyField(Procedure, on_delete="CASCADE")
    officer = ForeignKeyField(User, null=True, on_delete="SET NULL")
    started_at = DateTimeField()  # the officer opened the intake form
    received_at = DateTimeField()
    asked_at = DateTimeField(null=True)  # a leader's decision became due
    decided_at = DateTimeField(null=True)
    decided_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    returned_at = DateTimeField(null=True)  # the result handed over

    class Meta:
        indexes = ((("centre", "received_at"), False),)


class CitizenDocument(BaseModel):
    """A citizen's digitised paper or result, kept for reuse by the centres of one province (the
    law lets a digitised result be reused there instead of asking again): keyed by the citizen's ID
    number; the bytes are the attachment store's (content-addressed)."""

    id = AutoField()
    province = ForeignKeyField(Centre, on_delete="RESTRICT")  # the province-level centre it is shared under
    citizen_id = CharField(max_length=32)
    kind = CharField(max_length=16, default="component")  # component | result
    title = CharField(max_length=500)  # the document slot it was taken for
    name = CharField(max_length=255)
    media_type = CharField(max_length=100)
    size = IntegerField()
    sha256 = CharField(max_length=64)
    pages = IntegerField(default=1)
    dossier = ForeignKeyField(Dossier, null=True, on_delete="SET NULL")  # the dossier it was taken in
    kept_at = DateTimeField(default=utcnow)
    kept_by = ForeignKeyField(User, null=True, on_delete="SET NULL")

    class Meta:
        indexes = ((("province", "citizen_id"), False),)


class CitizenDossier(BaseModel):
    """A dossier submitted by a citizen signed in with their electronic identity (services.identity):
    their "my dossiers", across every centre, by the citizen ID number the identity vouched for."""

    id = AutoField()
    citizen_id = CharField(max_length=32, index=True)
    dossier = ForeignKeyField(Dossier, unique=True, on_delete="CASCADE")
    linked_at = DateTimeField(default=utcnow)


class Paper(BaseModel):
    """A paper handed in at the counter for one document slot of the procedure: scanned (or a kept
    copy reused) and confirmed by the officer as matching the original seen, or received on paper
    only. Decision 766's digitisation share counts these."""

    id = AutoField()
    centre = ForeignKeyField(Centre, on_delete="RESTRICT")
    dossier = ForeignKeyField(Dossier, backref="papers", on_delete="CASCADE")
    slot = IntegerField()
    title = CharField(max_length=500)
    attachment = ForeignKeyField(Attachment, null=True, on_delete="SET NULL")
    pages = IntegerField(default=0)
    original_seen = BooleanField(default=False)
    confirmed_by = ForeignKeyField(User, null=True, on_delete="SET NULL")  # the copy matches: who said so
    confirmed_at = DateTimeField(null=True)
    reused_from = ForeignKeyField(CitizenDocument, null=True, on_delete="SET NULL")
    received_at = DateTimeField(default=utcnow)


class PortalDossier(BaseModel):
    """A dossier the national public service portal pushed (services.national_portal): its id
    there, the codes it came with, and the sequence of its status changes told back to the portal
    (`last_seq` queued, `acked_seq` confirmed received)."""

    id = AutoField()
    centre = ForeignKeyField(Centre, on_delete="RESTRICT")
    dossier = ForeignKeyField(Dossier, unique=True, on_delete="CASCADE")
    portal_id = CharField(max_length=128, unique=True)
    procedure_code = CharField(max_length=128)
    agency_code = CharField(max_length=64)
    last_seq = IntegerField(default=0)
    acked_seq = IntegerField(default=0)
    created_at = DateTimeField(default=utcnow, index=True)


class PortalPush(BaseModel):
    """An outbox row: one status change of a portal dossier, written in the transaction of the
    change and sent to the portal by the worker, in `seq` order per dossier (the portal dedupes by
    its dossier id and seq)."""

    id = AutoField()
    centre = ForeignKeyField(Centre, on_delete="RESTRICT")
    link = ForeignKeyField(PortalDossier, backref="pushes", on_delete="CASCADE")
    seq = IntegerField()
    status = CharField(max_length=32)
    changed_at = DateTimeField(default=utcnow)
    state = CharField(max_length=16, default="pending")  # pending, sending, sent, failed
    attempts = IntegerField(default=0)
    next_attempt_at = DateTimeField(default=utcnow)
    last_error = TextField(null=True)
    sent_at = DateTimeField(null=True)
    resent = IntegerField(default=0)  # times the reconciliation found the portal had lost it

    class Meta:
        indexes = ((("link", "seq"), True), (("state", "next_attempt_at"), False), (("centre", "state"), False))


class PortalRefusal(BaseModel):
    """A push of the national portal that onestop refused (a forged or expired signature, an unknown
    agency or procedure code, a dossier its procedure would not take), shown in the back office."""

    id = AutoField()
    centre = ForeignKeyField(Centre, null=True, on_delete="SET NULL")
    reason = CharField(max_length=32)  # forged, unknown_agency, unknown_procedure, invalid
    portal_id = CharField(max_length=128, null=True)
    agency_code = CharField(max_length=64, null=True)
    procedure_code = CharField(max_length=128, null=True)
    message = TextField(default="")
    address = CharField(max_length=64, null=True)
    at = DateTimeField(default=utcnow, index=True)


class PortalReconciliation(BaseModel):
    """One run of the reconciliation with the national portal for a centre: how many dossiers were
    compared, how many status changes the portal had lost and were sent again, or why it failed."""

    id = AutoField()
    centre = ForeignKeyField(Centre, on_delete="CASCADE")
    at = DateTimeField(default=utcnow)
    checked = IntegerField(default=0)
    repaired = IntegerField(default=0)
    error = TextField(null=True)

    class Meta:
        indexes = ((("centre", "at"), False),)


class Notification(BaseModel):
    """An outbox row: a message to an applicant, written in the transaction of the event it tells
    of, and sent afterwards by the worker (at most once)."""

    id = AutoField()
    centre = ForeignKeyField(Centre, on_delete="RESTRICT")
    dossier = ForeignKeyField(Dossier, null=True, backref="notifications", on_delete="CASCADE")
    event = CharField(max_length=64)
    channel = CharField(max_length=16)  # email, sms
    recipient = CharField(max_length=255)
    subject = CharField(max_length=255, default="")
    body = TextField()
    status = CharField(max_length=16, default="pending")  # pending, sending, sent, failed
    attempts = IntegerField(default=0)
    next_attempt_at = DateTimeField(default=utcnow)
    last_error = TextField(null=True)
    created_at = DateTimeField(default=utcnow)
    sent_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("status", "next_attempt_at"), False),)


class Payment(BaseModel):
    """A fee the applicant owes on a dossier and its way through the payment gateway (services.payments):
    requested at submission or before the result, paid (the gateway's notification or the
    reconciliation's query said so), refunded when the dossier is refused. `order_ref` is the
    merchant's order (the gateway's vnp_TxnRef); the gateway's own transaction number and the
    receipt number given to the applicant are set once paid."""

    id = AutoField()
    centre = ForeignKeyField(Centre, on_delete="RESTRICT")
    dossier = ForeignKeyField(Dossier, backref="payments", on_delete="CASCADE")
    order_ref = CharField(max_length=64, unique=True)
    amount = IntegerField()  # VND, whole dong
    stage = CharField(max_length=16)  # submission, before_result
    state = CharField(max_length=16, default="pending")  # pending, paid, refund_due, refunded
    resumes = CharField(max_length=32, null=True)  # the dossier's status once paid
    refund_on_refusal = BooleanField(default=False)
    receipt_no = CharField(max_length=32, null=True, unique=True)
    transaction_no = CharField(max_length=64, null=True)  # the gateway's vnp_TransactionNo
    bank_code = CharField(max_length=32, null=True)
    paid_at = DateTimeField(null=True)
    refunded_at = DateTimeField(null=True)
    incident = TextField(null=True)  # the last failure to reach the gateway, shown to the officers
    attempts = IntegerField(default=0)  # failed calls to the gateway since the last success
    next_check_at = DateTimeField(null=True, index=True)  # when the reconciliation asks the gateway next
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("centre", "paid_at"), False),)


class LookupTable(BaseModel):
    """A centre's lookup table (a fee table, a code list): the value a SpiffArena data store of the
    same name holds for the centre's models (services.lookup_tables). Uploaded in the back office;
    a model's task may write it too."""

    id = AutoField()
    centre = ForeignKeyField(Centre, on_delete="CASCADE")
    name = CharField(max_length=128)
    value = JSONField()
    source = CharField(max_length=255, default="")  # the file it was uploaded from, or "dossier CODE"
    updated_at = DateTimeField(default=utcnow)
    updated_by = ForeignKeyField(User, null=True, on_delete="SET NULL")

    class Meta:
        indexes = ((("centre", "name"), True),)


class QueueGroup(BaseModel):
    """A service group of a centre's queue (a field, or a group of counters): its tickets carry its
    letter (A001) and, if it takes bookings, slots of `slot_minutes` with `slot_capacity` each."""

    id = AutoField()
    centre = ForeignKeyField(Centre, on_delete="CASCADE")
    letter = CharField(max_length=2)
    name = CharField(max_length=255)
    slot_minutes = IntegerField(default=15)
    slot_capacity = IntegerField(default=0)  # 0: no online booking
    active = BooleanField(default=True)

    class Meta:
        indexes = ((("centre", "letter"), True),)


class ServiceCounter(BaseModel):
    """A counter of a centre's hall: the groups it serves, and the officer who opened it (None: closed)."""

    id = AutoField()
    centre = ForeignKeyField(Centre, on_delete="CASCADE")
    number = CharField(max_length=16)  # what the hall screen says: "3", "12B"
    name = CharField(max_length=255, default="")
    groups = JSONField(default=list)  # QueueGroup ids
    officer = ForeignKeyField(User, null=True, on_delete="SET NULL")
    opened_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("centre", "number"), True),)


class QueueTicket(BaseModel):
    """A citizen's number of the day for a group, from its issue (kiosk, phone or booking) to its end
    (done, skipped or cancelled), with every time the figures need."""

    id = AutoField()
    centre = ForeignKeyField(Centre, on_delete="CASCADE")
    group = ForeignKeyField(QueueGroup, on_delete="CASCADE")
    day = DateField()  # the centre's (local) day of the number
    number = IntegerField()
    label = CharField(max_length=16)  # A001
    token = CharField(max_length=32, unique=True)  # the ticket page's address, unguessable
    channel = CharField(max_length=16)  # kiosk, phone, booking
    priority = CharField(max_length=32, null=True)  # elderly, disability, pregnant, small_child
    state = CharField(max_length=16, default="waiting")  # waiting, called, serving, done, skipped, cancelled
    issued_at = DateTimeField(default=utcnow)
    queued_at = DateTimeField()  # its place in the line: issued_at, or a booking's slot start
    booked_for = DateTimeField(null=True)
    called_at = DateTimeField(null=True)  # the latest call (a recall moves it)
    first_called_at = DateTimeField(null=True)
    calls = IntegerField(default=0)
    served_at = DateTimeField(null=True)
    finished_at = DateTimeField(null=True)
    counter = ForeignKeyField(ServiceCounter, null=True, on_delete="SET NULL")
    officer = ForeignKeyField(User, null=True, on_delete="SET NULL")
    dossier = ForeignKeyField(Dossier, null=True, on_delete="SET NULL")

    class Meta:
        indexes = ((("group", "day", "number"), True), (("centre", "day", "state"), False),
                   (("centre", "called_at"), False))


class QueueSequence(BaseModel):
    """A group's last ticket number of a day: taken by an upsert, so two kiosks never share a number."""

    id = AutoField()
    group = ForeignKeyField(QueueGroup, on_delete="CASCADE")
    day = DateField()
    value = IntegerField(default=0)

    class Meta:
        indexes = ((("group", "day"), True),)


class QueueBoard(BaseModel):
    """A centre's hall screen version: bumped in the transaction of every call, so a screen's poll
    costs one indexed read when nothing changed."""

    centre = ForeignKeyField(Centre, primary_key=True, on_delete="CASCADE")
    version = IntegerField(default=0)


class CacheVersion(BaseModel):
    """One row per kind of cached rows (agency codes, units, local overrides): a write that changes
    such rows bumps its kind's version in the same transaction, and every process empties its cache
    of that kind when it sees the version move (onestop.services.runtime.SharedCache)."""

    kind = CharField(max_length=32, primary_key=True)
    version = IntegerField(default=0)


class SignedDocument(BaseModel):
    """A document this installation signed (a dossier's result): the code its QR names on the public
    verification page, and the signed file (the attachment store's bytes, by sha256)."""

    id = AutoField()
    code = CharField(unique=True, max_length=32)
    centre = ForeignKeyField(Centre, on_delete="RESTRICT")
    dossier = ForeignKeyField(Dossier, null=True, on_delete="CASCADE")
    kind = CharField(max_length=16, default="result")
    name = CharField(max_length=255)
    sha256 = CharField(max_length=64, index=True)
    size = IntegerField()
    signer = CharField(max_length=500)
    signed_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("dossier", "kind"), True),)


class SchemaMigration(BaseModel):
    version = IntegerField(primary_key=True)
    name = CharField(max_length=255)
    applied_at = DateTimeField(default=utcnow)


class WebhookSubscription(BaseModel):
    """An outside system a centre's administrator subscribed to its dossiers' events (services.webhooks):
    where they are posted, which events, and whether it is on. Its secrets are WebhookSecret rows."""

    id = AutoField()
    centre = ForeignKeyField(Centre, on_delete="CASCADE")
    url = CharField(max_length=500)
    description = CharField(max_length=255, default="")
    events = TextField(default="")  # event types, comma-separated
    active = BooleanField(default=True)
    created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("centre", "active"), False),)


class WebhookSecret(BaseModel):
    """A signing secret of a subscription (whsec_..., encrypted with the connector key). Every one of
    a subscription's secrets signs each delivery: two while one is rotated to the other."""

    id = AutoField()
    subscription = ForeignKeyField(WebhookSubscription, backref="secrets", on_delete="CASCADE")
    ciphertext = TextField()
    fingerprint = CharField(max_length=16)  # safe to show: which secret this is
    created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = DateTimeField(default=utcnow)


class WebhookDelivery(BaseModel):
    """An outbox row: one event for one subscription, written in the event's transaction with the
    exact body to post, and sent by the worker (claimed first, retried with growing pauses)."""

    id = AutoField()
    subscription = ForeignKeyField(WebhookSubscription, backref="deliveries", on_delete="CASCADE")
    centre = ForeignKeyField(Centre, on_delete="CASCADE")
    dossier = ForeignKeyField(Dossier, null=True, on_delete="SET NULL")
    event = CharField(max_length=64)
    message_id = CharField(max_length=64, unique=True)  # the webhook-id header: the same on every try
    payload = TextField()
    status = CharField(max_length=16, default="pending")  # pending, sending, delivered, failed
    attempts = IntegerField(default=0)
    next_attempt_at = DateTimeField(default=utcnow)
    claimed_at = DateTimeField(null=True)
    created_at = DateTimeField(default=utcnow)
    delivered_at = DateTimeField(null=True)
    last_status_code = IntegerField(null=True)
    last_error = TextField(null=True)
    replayed_by = ForeignKeyField(User, null=True, on_delete="SET NULL")  # a replay asked, not yet tried

    class Meta:
        indexes = ((("status", "next_attempt_at"), False), (("subscription", "created_at"), False))


class WebhookAttempt(BaseModel):
    """One try of a delivery, as the back office's delivery log shows it."""

    id = AutoField()
    delivery = ForeignKeyField(WebhookDelivery, backref="tries", on_delete="CASCADE")
    attempt = IntegerField()
    at = DateTimeField(default=utcnow)
    status_code = IntegerField(null=True)
    duration_ms = IntegerField(null=True)
    error = TextField(null=True)
    replayed_by = ForeignKeyField(User, null=True, on_delete="SET NULL")  # a replay asked in the back office


# Columns empty in most rows get PARTIAL indexes (of the rows where they are set): a new dossier, task or
# history row then writes no index page for them, and a submission's commit writes fewer pages (issue 22;
# migration 48 turns the full indexes of older databases into these). A query comparing the column
# (`= ?`, `<= ?`, `IN`, `IS NOT NULL`) uses them on SQLite and PostgreSQL alike; `IS NULL` never needed them.
PARTIAL_INDEXES = (
    # (model, columns, unique, the column that must be set)
    (Dossier, ("centre", "business_key"), True, "business_key"),
    (Dossier, ("received_by",), False, "received_by"),
    (Dossier, ("next_timer_at",), False, "next_timer_at"),
    (Dossier, ("switch_over_at",), False, "switch_over_at"),
    (WorkItem, ("unit",), False, "unit"),
    (WorkItem, ("claimed_by",), False, "claimed_by"),
    (HistoryEntry, ("actor",), False, "actor"),
)
for _model, _columns, _unique, _set in PARTIAL_INDEXES:
    _fields = [getattr(_model, c) for c in _columns]
    _model.add_index(_model.index(*_fields, unique=_unique, where=getattr(_model, _set).is_null(False),
                                  name="_".join([_model._meta.table_name, *(f.column_name for f in _fields)])))


ALL_MODELS = [
    Centre,
    Unit,
    User,
    ApiToken,
    Procedure,
    ProcedureVersion,
    ModelFile,
    Dossier,
    WorkItem,
    WaitingEvent,
    HistoryEntry,
    AuditEvent,
    Attachment,
    FormSubmission,
    CalendarDay,
    OfficialDay,
    DossierCounter,
    Notification,
    LocalOverride,
    AuditHead,
    Draft,
    PracticeDossier,
    DraftTestRun,
    Rating,
    DayFigure,
    DayRating,
    DayStep,
    DayUnit,
    MonthStep,
    SignInSession,
    CacheVersion,
    LookupTable,
    CatalogueImport,
    ServiceCall,
    ConnectorSettings,
    ConnectorSecret,
    QueueGroup,
    ServiceCounter,
    QueueTicket,
    QueueSequence,
    QueueBoard,
    Sitting,
    CitizenDocument,
    Paper,
    WebhookSubscription,
    WebhookSecret,
    WebhookDelivery,
    WebhookAttempt,
    Payment,
    CitizenDossier,
    PortalDossier,
    PortalPush,
    PortalRefusal,
    PortalReconciliation,
    SignedDocument,
]
