"""Versioned, idempotent schema migrations. `onestop init` and the first start run them.

Each migration is (version, name, function(db)); applied versions are recorded in
schema_migration so running them again changes nothing.
"""

import json

from peewee import (
    CharField,
    DateField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    NotSupportedError,
    PostgresqlDatabase,
    TextField,
)
from playhouse.migrate import SchemaMigrator
from playhouse.migrate import migrate as migrate_schema

from .db import database, write_transaction
from .models import (
    ALL_MODELS,
    PARTIAL_INDEXES,
    Attachment,
    AuditHead,
    CacheVersion,
    CalendarDay,
    CatalogueImport,
    Centre,
    CitizenDocument,
    CitizenDossier,
    ConnectorSecret,
    ConnectorSettings,
    DayFigure,
    DayRating,
    DayStep,
    DayUnit,
    DossierCounter,
    Draft,
    DraftTestRun,
    FormSubmission,
    LocalOverride,
    LookupTable,
    MonthStep,
    Notification,
    OfficialDay,
    Paper,
    Payment,
    PortalDossier,
    PortalPush,
    PortalReconciliation,
    PortalRefusal,
    PracticeDossier,
    ProcedureVersion,
    QueueBoard,
    QueueGroup,
    QueueSequence,
    QueueTicket,
    Rating,
    SchemaMigration,
    ServiceCall,
    ServiceCounter,
    SignedDocument,
    SignInSession,
    Sitting,
    Unit,
    User,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSecret,
    WebhookSubscription,
)

# Any fixed number: PostgreSQL advisory lock that serialises processes migrating at once.
_LOCK_KEY = 4_657_201


def _initial(db):
    db.create_tables(ALL_MODELS, safe=True)


def _add_column(db, table, name, field):
    if name not in {c.name for c in db.get_columns(table)}:
        migrate_schema(SchemaMigrator.from_database(db).add_column(table, name, field))


def _compiled_models(db):
    _add_column(db, "procedureversion", "compiled", TextField(null=True))


def _worklist_index(db):
    db.execute_sql('CREATE INDEX IF NOT EXISTS "workitem_centre_id_created_at_id" '
                   'ON "workitem" ("centre_id", "created_at", "id")')


def _front_doors(db):
    """What the portal and the desk need: attachments, the citizen's lookup key, claimed tasks."""
    db.create_tables([Attachment], safe=True)
    _add_column(db, "dossier", "lookup_hash", CharField(max_length=64, null=True))
    db.execute_sql('CREATE INDEX IF NOT EXISTS "dossier_lookup_hash" ON "dossier" ("lookup_hash")')
    _add_column(db, "workitem", "claimed_by_id", ForeignKeyField(User, null=True, field=User.id))
    _add_column(db, "workitem", "claimed_at", DateTimeField(null=True))


def _sign_in_lockout(db):
    _add_column(db, "user", "failed_sign_ins", IntegerField(default=0))
    _add_column(db, "user", "locked_until", DateTimeField(null=True))


def _task_roles(db):
    _add_column(db, "workitem", "role", CharField(max_length=64, null=True))


def _deadlines(db):
    """Working-time deadlines: the centre's office hours and calendar, the dossier's and each task's due time."""
    _add_column(db, "centre", "office_hours", TextField(null=True))
    _add_column(db, "centre", "cutoff", CharField(max_length=5, null=True))
    db.create_tables([CalendarDay], safe=True)
    _add_column(db, "dossier", "received_at", DateTimeField(null=True))
    _add_column(db, "dossier", "due_at", DateTimeField(null=True))
    _add_column(db, "workitem", "due_at", DateTimeField(null=True))
    db.execute_sql('CREATE INDEX IF NOT EXISTS "workitem_centre_id_due_at" ON "workitem" ("centre_id", "due_at")')


def _dossier_counters(db):
    db.create_tables([DossierCounter], safe=True)


def _dossier_status(db):
    _add_column(db, "dossier", "status", CharField(max_length=32, default="received"))
    _add_column(db, "dossier", "paused_at", DateTimeField(null=True))


def _hand_overs(db):
    _add_column(db, "historyentry", "lane", CharField(max_length=255, null=True))
    _add_column(db, "historyentry", "started_at", DateTimeField(null=True))
    _add_column(db, "historyentry", "due_at", DateTimeField(null=True))


def _outbox(db):
    db.create_tables([Notification], safe=True)


def _ledger_index(db):
    db.execute_sql('CREATE INDEX IF NOT EXISTS "dossier_centre_id_created_at" ON "dossier" ("centre_id", "created_at")')


def _start_forms(db):
    _add_column(db, "procedureversion", "start_form", CharField(max_length=255, null=True))
    # Versions stored before: their stored parse result says which element has which form.
    for version_id, compiled in db.execute_sql('SELECT "id", "compiled" FROM "procedureversion" '
                                               'WHERE "compiled" IS NOT NULL').fetchall():
        try:
            stored = json.loads(compiled)
        except ValueError:
            continue
        refs, forms = stored.get("form_refs") or {}, stored.get("element_forms") or {}
        name = next((n for e, n in forms.items() if (refs.get(e) or {}).get("element") == "startEvent"), None)
        if name:
            db.execute_sql('UPDATE "procedureversion" SET "start_form" = ' + db.param + ' WHERE "id" = ' + db.param,
                           (name, version_id))


def _long_procedure_names(db):
    """National procedure names run to several hundred characters (1.013831 has 569)."""
    if isinstance(db, PostgresqlDatabase):
        db.execute_sql('ALTER TABLE "procedure" ALTER COLUMN "name" TYPE VARCHAR(1000)')


def _centres_as_data(db):
    """The centre hierarchy from the national list of units, templates and their adoption."""
    _add_column(db, "centre", "admin_code", CharField(max_length=16, null=True))
    _add_column(db, "centre", "address", CharField(max_length=500, null=True))
    _add_column(db, "centre", "successor_id", ForeignKeyField(Centre, null=True, field=Centre.id))
    _add_column(db, "centre", "closed_on", DateField(null=True))
    _add_column(db, "procedureversion", "template_version_id",
                ForeignKeyField(ProcedureVersion, null=True, field=ProcedureVersion.id))
    _add_column(db, "procedureversion", "published_at", DateTimeField(null=True))
    db.create_tables([LocalOverride], safe=True)
    db.execute_sql('CREATE INDEX IF NOT EXISTS "centre_parent_id" ON "centre" ("parent_id")')


def _units(db):
    """Departments and counters of a centre; users and tasks may belong to one."""
    db.create_tables([Unit], safe=True)
    _add_column(db, "user", "unit_id", ForeignKeyField(Unit, null=True, field=Unit.id))
    _add_column(db, "workitem", "unit_id", ForeignKeyField(Unit, null=True, field=Unit.id))


def _authority(db):
    _add_column(db, "dossier", "authority", CharField(max_length=500, null=True))


def _audit_chain(db):
    """The audit trail becomes a hash chain per centre; events already stored are linked in order."""
    from .services import audit_migrations

    for name, field in (("chain", IntegerField(null=True)), ("seq", IntegerField(null=True)),
                        ("hash", CharField(max_length=64, null=True))):
        _add_column(db, "auditevent", name, field)
    db.create_tables([AuditHead], safe=True)
    db.execute_sql('CREATE UNIQUE INDEX IF NOT EXISTS "auditevent_chain_seq" ON "auditevent" ("chain", "seq")')
    audit_migrations.backfill()


def _drafts(db):
    db.create_tables([Draft], safe=True)


def _dossier_facts(db):
    """What the statistics count, recorded when it happens: channel, result ready, handed over, apology."""
    _add_column(db, "dossier", "channel", CharField(max_length=16, null=True))
    for name in ("resolved_at", "returned_at", "apologised_at"):
        _add_column(db, "dossier", name, DateTimeField(null=True))
    db.execute_sql('CREATE INDEX IF NOT EXISTS "dossier_centre_id_resolved_at" ON "dossier" ("centre_id", "resolved_at")')
    # Dossiers already stored: their facts from the audit trail.
    db.execute_sql('UPDATE "dossier" SET "resolved_at" = "updated_at" WHERE "status" IN (\'resolved\', \'returned\') '
                   'AND "resolved_at" IS NULL')


def _ratings(db):
    db.create_tables([Rating], safe=True)


def _statistics_indexes(db):
    db.execute_sql('CREATE INDEX IF NOT EXISTS "dossier_centre_id_received_at" ON "dossier" ("centre_id", "received_at")')
    db.execute_sql('CREATE INDEX IF NOT EXISTS "historyentry_at" ON "historyentry" ("at")')


def _day_figures(db):
    """Figures by day, kept as events happen (counted from the stored dossiers by migration 24)."""
    db.create_tables([DayFigure], safe=True)


def _official_figures(db):
    """The units' days by procedure, the officials' steps (by day and by month, with the hours'
    histogram) and ratings by day; every kept figure recounted from the stored dossiers."""
    from .services.stats import recount

    db.execute_sql('DROP TABLE IF EXISTS "dayunit"')
    db.create_tables([DayUnit, DayStep, MonthStep, DayRating], safe=True)
    recount.rebuild()


def _ended_at(db):
    """Dossiers record when they ended without a result (the periodic report's pending counts); a
    centre's dossiers in progress are found by (centre, state)."""
    _add_column(db, "dossier", "ended_at", DateTimeField(null=True))
    db.execute_sql('CREATE INDEX IF NOT EXISTS "dossier_centre_id_ended_at" ON "dossier" ("centre_id", "ended_at")')
    db.execute_sql('CREATE INDEX IF NOT EXISTS "dossier_centre_id_state" ON "dossier" ("centre_id", "state")')
    db.execute_sql('UPDATE "dossier" SET "ended_at" = "updated_at" WHERE "status" IN (\'not_accepted\', '
                   '\'withdrawn\', \'stopped\') AND "ended_at" IS NULL')


def _keyed_trail(db):
    """The audit chain becomes keyed (HMAC under a key outside the database) and binds the step
    history: every stored event is re-linked with the key, the history already stored is bound
    to each dossier's last event, and the re-keying is recorded with the unkeyed chain's state."""
    from .services import audit_migrations

    _add_column(db, "auditevent", "history", TextField(null=True))
    audit_migrations.rekey()


def _sign_in_sessions(db):
    db.create_tables([SignInSession], safe=True)


def _cache_versions(db):
    db.create_tables([CacheVersion], safe=True)


def _draft_revisions(db):
    """Drafts edited in the browser: a revision for compare-and-set saving, who saved last and when."""
    _add_column(db, "draft", "revision", IntegerField(default=1))
    _add_column(db, "draft", "edited_by_id", ForeignKeyField(User, null=True, field=User.id, on_delete="SET NULL"))
    _add_column(db, "draft", "edited_at", DateTimeField(null=True))


def _draft_tests(db):
    """Trying a draft before publishing: practice dossiers (never dossier rows) and unit-test runs."""
    db.create_tables([PracticeDossier, DraftTestRun], safe=True)


def _official_calendar(db):
    """One calendar for the country: the official days (a province's too), with the shipped notices."""
    from .services.calendar import load_shipped

    db.create_tables([OfficialDay], safe=True)
    db.execute_sql('CREATE UNIQUE INDEX IF NOT EXISTS "officialday_national_day" ON "officialday" ("day") '
                   'WHERE "province_id" IS NULL')
    load_shipped()


def _agencies_and_mergers(db):
    """Where a centre's identity code came from; merged centres hand their open dossiers over, and a
    handed-over dossier names the centre that received it (its statistics stay there)."""
    _add_column(db, "centre", "agency_code_source", CharField(max_length=255, null=True))
    _add_column(db, "centre", "handed_over_at", DateTimeField(null=True))
    _add_column(db, "dossier", "received_by_id",
                ForeignKeyField(Centre, null=True, field=Centre.id, on_delete="RESTRICT"))
    db.execute_sql('CREATE INDEX IF NOT EXISTS "dossier_received_by_id" ON "dossier" ("received_by_id")')


def _catalogue_imports(db):
    """A catalogue file's records imported as drafts, reviewed in bulk."""
    db.create_tables([CatalogueImport], safe=True)


def _message_correlation(db):
    """Messages find their dossier: a dossier's business key, a message wait's message and correlation."""
    _add_column(db, "dossier", "business_key", CharField(max_length=255, null=True))
    db.execute_sql('CREATE UNIQUE INDEX IF NOT EXISTS "dossier_centre_id_business_key" ON "dossier" ("centre_id", "business_key")')
    _add_column(db, "waitingevent", "message", CharField(max_length=255, null=True))
    _add_column(db, "waitingevent", "correlations", TextField(null=True))
    db.execute_sql('CREATE INDEX IF NOT EXISTS "waitingevent_message" ON "waitingevent" ("message")')


def _lookup_tables(db):
    """Centres' lookup tables, read and written by models' data stores (SpiffArena's JSON data stores)."""
    db.create_tables([LookupTable], safe=True)


def _service_calls(db):
    """Service tasks' pending calls (external tasks, connector calls), and worker tokens scoped to topics."""
    db.create_tables([ServiceCall], safe=True)
    _add_column(db, "apitoken", "topics", TextField(null=True))


def _connectors(db):
    """Connectors of service tasks: each centre's allowed hosts and connector proxy, its encrypted secrets."""
    db.create_tables([ConnectorSettings, ConnectorSecret], safe=True)


def _search(db):
    """Full-text search: the catalogue's procedures and dossiers by applicant, indexed from what is stored."""
    from .services import search

    search.create_tables()
    search.rebuild()


def _form_submissions(db):
    """Application forms carry a one-time token: a form sent twice makes one dossier."""
    db.create_tables([FormSubmission], safe=True)


def _queue(db):
    """The counter floor's queue: service groups, counters, the day's tickets, their numbers, the screens."""
    db.create_tables([QueueGroup, ServiceCounter, QueueTicket, QueueSequence, QueueBoard], safe=True)


def _legacy_dossiers(db):
    """Dossiers imported from the centre's old system keep the switch-over instant (services.legacy)."""
    _add_column(db, "dossier", "switch_over_at", DateTimeField(null=True))
    # The periodic report counts them in progress from the switch-over: found by it, not by a scan.
    db.execute_sql('CREATE INDEX IF NOT EXISTS "dossier_switch_over_at" ON "dossier" ("switch_over_at")')


def _counter_floor(db):
    """Decided on the spot and digitised once: sittings at the counter, papers scanned at intake,
    the citizens' kept documents."""
    db.create_tables([Sitting, CitizenDocument, Paper], safe=True)


def _webhooks(db):
    """Outside systems subscribed to dossier events: subscriptions, secrets, deliveries and their tries."""
    db.create_tables([WebhookSubscription, WebhookSecret, WebhookDelivery, WebhookAttempt], safe=True)


def _payments(db):
    """Fees paid online through the payment gateway: one row per payment request of a dossier."""
    db.create_tables([Payment], safe=True)


def _citizen_dossiers(db):
    """Dossiers submitted by a citizen signed in with their electronic identity ("my dossiers")."""
    db.create_tables([CitizenDossier], safe=True)


def _national_portal(db):
    """The national public service portal: the dossiers it pushed, the outbox of their status
    changes, the pushes refused and the reconciliation runs."""
    db.create_tables([PortalDossier, PortalPush, PortalRefusal, PortalReconciliation], safe=True)


def _signed_documents(db):
    """Signed results and the codes of their public verification page (services.signing)."""
    db.create_tables([SignedDocument], safe=True)


def _lean_indexes(db):
    """Indexes a new dossier writes fewer pages of: those of a column empty in most rows hold only the
    rows where it is set (models.PARTIAL_INDEXES); those of the centre alone go (every query by centre
    is served by an index that starts with it), as do that of a task's creation time alone (the
    worklists read it after the centre, the dossier's pages after the dossier) and that of the lookup
    key's hash (a dossier is found by its code, then its hash compared: no query looked a hash up)."""
    for name in ("dossier_centre_id", "workitem_centre_id", "workitem_created_at", "dossier_lookup_hash"):
        db.execute_sql(f'DROP INDEX IF EXISTS "{name}"')
    for model, columns, unique, kept in PARTIAL_INDEXES:
        table = model._meta.table_name
        names = [getattr(model, c).column_name for c in columns]
        name = "_".join([table, *names])
        db.execute_sql(f'DROP INDEX IF EXISTS "{name}"')  # the full one of an older database (or this one)
        db.execute_sql(f'CREATE {"UNIQUE " if unique else ""}INDEX "{name}" ON "{table}" ('
                       + ", ".join(f'"{n}"' for n in names) + f') WHERE "{getattr(model, kept).column_name}" IS NOT NULL')


def _sharded_figures(db):
    """The kept figures' unique keys take a `shard` (0 for every row kept so far): concurrent writers
    of one centre's day add to different rows instead of queueing on one (services.stats.counters)."""
    for model in (DayFigure, DayUnit, DayStep, MonthStep, DayRating):
        table = model._meta.table_name
        if "shard" not in {c.name for c in db.get_columns(table)}:
            db.execute_sql(f'ALTER TABLE "{table}" ADD COLUMN "shard" INTEGER NOT NULL DEFAULT 0')
        for index in db.get_indexes(table):
            if index.unique and "shard" not in index.columns and index.columns != ["id"]:
                db.execute_sql(f'DROP INDEX "{index.name}"')
        model._schema.create_indexes(safe=True)


def _version_sources(db):
    _add_column(db, "procedureversion", "source_key", CharField(max_length=64, null=True))


# The dossier's columns every step writes anew, compressed by PostgreSQL when a row outgrows ~2 kB (the
# workflow state, ~5 kB of JSON, always does; the data with it). pglz, the server's default, took 14 % of the
# backend's instructions of a submission and a completion (callgrind, docs/perfpg.md); lz4 compresses the same
# text several times faster, and reads it back faster too.
LZ4_COLUMNS = (("dossier", "workflow"), ("dossier", "data"))


def _lz4_state(db):
    """PostgreSQL (14 and later, when built with lz4, as the distributions' packages are): the dossier's
    state and data are compressed with lz4 from now on. A value already stored stays as it is (each one says
    how it was compressed, and the next step writes it anew). A server without lz4 keeps pglz; SQLite does
    not compress."""
    if not isinstance(db, PostgresqlDatabase) or db.server_version < 140000:
        return
    try:
        with db.atomic():  # a savepoint: a server built without lz4 refuses, and the migration goes on
            for table, column in LZ4_COLUMNS:
                db.execute_sql(f'ALTER TABLE "{table}" ALTER COLUMN "{column}" SET COMPRESSION lz4')
    except NotSupportedError:
        pass


# The rows every unit of work writes (the kept figures' too, a new day's or shard's row), and the rows of the
# registry they name: a centre, an account, a procedure and its version, none of which onestop ever deletes (a
# merged centre is closed, an account deactivated, a version superseded; no service or admin view deletes them).
HOT_TABLES = ("dossier", "workitem", "historyentry", "auditevent", "dayfigure", "dayunit", "daystep", "monthstep",
              "dayrating")
REGISTRY_TABLES = ("centre", "user", "procedure", "procedureversion")


def _registry_references(db) -> list:
    """(table, constraint) of PostgreSQL's foreign keys from HOT_TABLES to REGISTRY_TABLES."""
    return db.execute_sql(
        "SELECT c.conrelid::regclass::text, c.conname FROM pg_constraint c WHERE c.contype = 'f' "
        "AND c.connamespace = current_schema()::regnamespace "
        "AND trim(both '\"' from c.conrelid::regclass::text) = ANY(%s) "
        "AND trim(both '\"' from c.confrelid::regclass::text) = ANY(%s) ORDER BY 1, 2",
        (list(HOT_TABLES), list(REGISTRY_TABLES))).fetchall()


def _registry_unlocked(db):
    """PostgreSQL: the foreign keys from the rows every step writes (dossier, task, history, audit event) to
    the registry's rows (centre, account, procedure, version) go. PostgreSQL checks each one by reading the
    registry row and locking it FOR KEY SHARE, which writes that lock into the row: every concurrent step of
    a centre locked the same centre, account and procedure rows, and each lock over another live one made a
    multixact of all their lockers (2,157 multixacts of 7 members on average in a 4 s run at 16 clients). The
    checks were ~10 % of the server's instructions per request. onestop deletes none of those rows and writes
    ids it has just read; the foreign keys to the dossier itself (ON DELETE CASCADE) stay. SQLite keeps all of
    its foreign keys: its checks lock nothing, and dropping one means rebuilding the table."""
    if not isinstance(db, PostgresqlDatabase):
        return
    for table, name in _registry_references(db):
        db.execute_sql(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')


# Indexes no query reads: written by every intake, step and audit event for nothing. Each served only its foreign
# key to the account (an account deleted would have its references found by it; onestop deletes none, and on
# PostgreSQL those foreign keys are gone: migration 52). Nothing looks dossiers up by who took them in, nor audit
# events by who did them (the back office filters the trail by action and time, reads the actor by the event).
UNREAD_INDEXES = ("dossier_created_by_id", "auditevent_actor_id")


def _unread_indexes(db):
    for name in UNREAD_INDEXES:
        db.execute_sql(f'DROP INDEX IF EXISTS "{name}"')


MIGRATIONS = [
    (1, "initial schema", _initial),
    (2, "procedure versions keep their parse result", _compiled_models),
    (3, "worklist index by centre and age", _worklist_index),
    (4, "attachments, lookup keys and claimed tasks", _front_doors),
    (5, "sign-in lockout after repeated wrong passwords", _sign_in_lockout),
    (6, "tasks carry the role their lane maps to", _task_roles),
    (7, "working-time deadlines of dossiers and tasks", _deadlines),
    (8, "each agency's daily sequence of dossier codes", _dossier_counters),
    (9, "the national status of a dossier and its stopped clock", _dossier_status),
    (10, "each finished task keeps its unit, start and deadline (the control sheet)", _hand_overs),
    (11, "the notifications outbox", _outbox),
    (12, "the centre's ledger of dossiers by day received", _ledger_index),
    (13, "versions name their application form (the catalogue need not load every model)", _start_forms),
    (14, "procedure names as long as the national catalogue's", _long_procedure_names),
    (15, "centres as data: hierarchy, templates, local overrides", _centres_as_data),
    (16, "units of a centre: lanes done by one unit's officers", _units),
    (17, "a dossier names its competent authority apart from its receiving centre", _authority),
    (18, "the audit trail as a tamper-evident hash chain per centre", _audit_chain),
    (19, "drafts: uploads reviewed in the back office before publishing", _drafts),
    (20, "dossiers record their channel, result, hand-over and apology times", _dossier_facts),
    (21, "citizens rate their dossiers", _ratings),
    (22, "indexes for the figures by period", _statistics_indexes),
    (23, "figures by day, kept as events happen", _day_figures),
    (24, "units', officials' and steps' figures by day, with their hours", _official_figures),
    (25, "dossiers record when they ended without a result", _ended_at),
    (26, "the audit trail keyed, binding the step history, with checkpoints outside the database", _keyed_trail),
    (27, "signed-in sessions kept on the server", _sign_in_sessions),
    (28, "a version per kind of cached rows, so every process sees a change", _cache_versions),
    (29, "drafts edited in the browser keep a revision and who saved last", _draft_revisions),
    (30, "drafts tried before publishing: practice dossiers and unit-test runs", _draft_tests),
    (31, "one calendar for the country: official days off and day swaps with their notices", _official_calendar),
    (32, "agency codes keep their source; merged centres hand over their open dossiers", _agencies_and_mergers),
    (33, "catalogue files imported as drafts", _catalogue_imports),
    (34, "messages find their dossier by business key, message and correlation", _message_correlation),
    (35, "lookup tables: the centre's values of the models' data stores", _lookup_tables),
    (36, "service tasks' pending calls and external-task workers' tokens", _service_calls),
    (37, "connectors: allowed hosts, connector proxy and encrypted secrets per centre", _connectors),
    (38, "full-text search of the catalogue and of dossiers by applicant", _search),
    (39, "application forms sent twice make one dossier", _form_submissions),
    (40, "queue tickets, counters and hall screens", _queue),
    (41, "dossiers taken over from an old system count from the switch-over", _legacy_dossiers),
    (42, "sittings decided on the spot, papers digitised at intake, citizens' kept documents", _counter_floor),
    (43, "webhooks: subscriptions, their secrets, the deliveries outbox and its log", _webhooks),
    (44, "fees paid online through the payment gateway, with their receipts and refunds", _payments),
    (45, "dossiers of citizens signed in with their electronic identity", _citizen_dossiers),
    (46, "the national portal: pushed dossiers, their status outbox, refusals, reconciliations", _national_portal),
    (47, "signed results and their verification codes", _signed_documents),
    (48, "columns empty in most rows indexed only where set, unread indexes dropped: a submission writes less",
     _lean_indexes),
    (49, "the kept figures' rows sharded: a centre's concurrent steps do not queue on one row", _sharded_figures),
    (50, "versions remember the files and compiler they were loaded from: an unchanged bundled folder is not parsed",
     _version_sources),
    (51, "the dossier's state and data compressed with lz4 on PostgreSQL: a step costs the server less", _lz4_state),
    (52, "a step's rows do not lock the centre's, account's and procedure's rows on PostgreSQL", _registry_unlocked),
    (53, "indexes of who took a dossier in and who did an audited act dropped: no query reads them", _unread_indexes),
]


def migrate() -> list:
    """Apply every pending migration; returns the names applied.

    Safe when several processes start at once (gunicorn workers): each migration runs in a
    transaction holding the database's write lock (SQLite) or an advisory lock (PostgreSQL).
    """
    db = database.obj
    if _all_applied(db):
        return []  # the usual start: one query, not a locked transaction per migration
    applied = []
    for version, name, step in MIGRATIONS:
        with write_transaction():
            if isinstance(db, PostgresqlDatabase):
                db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            db.create_tables([SchemaMigration], safe=True)
            if SchemaMigration.get_or_none(SchemaMigration.version == version):
                continue
            step(db)
            SchemaMigration.create(version=version, name=name)
            applied.append(name)
    return applied


def _all_applied(db) -> bool:
    """Whether every migration is recorded already (read without a lock: a migration found missing is
    still checked again, under the lock, before it runs)."""
    if not db.table_exists(SchemaMigration._meta.table_name):
        return False
    recorded = {row.version for row in SchemaMigration.select(SchemaMigration.version)}
    return recorded.issuperset(version for version, _name, _step in MIGRATIONS)


def current_version() -> int:
    row = SchemaMigration.select().order_by(SchemaMigration.version.desc()).first()
    return row.version if row else 0
