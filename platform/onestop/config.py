"""Configuration read from the environment; one place that knows every setting.

The embedded default needs nothing set: data lives under ONESTOP_HOME (./var), the database
is SQLite there. Production sets ONESTOP_DATABASE_URL=postgresql://... and ONESTOP_REDIS_URL.
"""

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit


class SettingsError(ValueError):
    """A setting whose value cannot be used; its message names the variable (the CLI says it in a line)."""


def _number(kind, name, default):
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        return kind(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number; it is {raw!r}") from None


def _int(name, default):
    return _number(int, name, default)


def _float(name, default):
    return _number(float, name, default)


def _at_least(name, default, least, meaning):
    """_float, refused with a message naming the setting when below `least` (what a smaller value
    would do is `meaning`)."""
    value = _float(name, default)
    if not value >= least:
        raise SettingsError(f"{name} must be at least {least:g} ({meaning}); it is {value:g}")
    return value


@dataclass
class Settings:
    """Everything the app factory, the CLI and the worker need to know about their environment."""

    home: Path
    database_url: str
    secret_key: str
    port: int = 8000
    max_upload_bytes: int = 32 * 1024 * 1024
    max_model_bytes: int = 5 * 1024 * 1024
    max_file_bytes: int = 10 * 1024 * 1024
    max_dossier_file_bytes: int = 100 * 1024 * 1024
    # A JSON request body: room for one file of max_file_bytes as a base64 data URL, not for megabytes of data.
    max_json_bytes: int = 16 * 1024 * 1024
    timer_poll_seconds: float = 1.0
    # The longest an external-task worker's fetch waits for a task (long polling holds a server thread).
    external_task_wait_seconds: float = 10.0
    run_timer_thread: bool = True
    script_timeout_seconds: float = 2.0
    script_memory_mb: int = 256
    script_workers: int = 4  # script sandbox workers per process
    script_workers_per_centre: int = 0  # at most this many of them run one centre's scripts; 0: half
    script_queue_seconds: float = 10.0  # how long a script waits for a free worker before failing
    expression_timeout_seconds: float = 1.0  # each gateway/timer/DMN expression
    expression_memory_mb: float = 32  # values one expression may build
    # Budgets of what an uploaded model makes the engine do (engine.budgets).
    max_automatic_steps: int = 1_000  # automatic steps of one advance, without a wait
    max_step_seconds: float = 3.0  # seconds of automatic work in one advance
    max_instances: int = 1_000  # instances of one multi-instance task
    max_timer_years: int = 100  # how far away a timer may be
    min_timer_cycle_seconds: int = 60  # how often a cycle timer may fire at most
    timer_retry_seconds: float = 1.0  # a timer is looked at no sooner than this after the step that set it
    redis_url: str | None = None
    # With a number of seconds, SQLite's WAL is copied into the database file by a thread of each process
    # at most that long apart, beside the requests; once it holds sqlite_wal_pages pages the copy finishes
    # under the writers' lock, so it stays bounded. 0 (the default, by measurement: docs/perftail.md): by
    # SQLite itself, inside the commit that makes it cross sqlite_wal_pages.
    sqlite_checkpoint_seconds: float = 0.0
    sqlite_wal_pages: int = 1000
    # On PostgreSQL, the units of work of a process's threads that come together share one transaction and
    # one commit (one WAL flush; the rows every step writes taken once), as SQLite's always do. Off: each
    # commits alone. docs/deploy.md says when it pays (a durable server whose commits queue on a centre's rows).
    postgres_group_commit: bool = False
    agency_code: str | None = None  # the default centre's electronic identity code (dossier codes)
    code_system: str | None = None  # 2-digit system-owner code: the national-service code variant
    proxies: int = 0  # reverse proxies in front (their X-Forwarded-For is trusted)
    smtp_url: str | None = None  # smtp://user:password@host:587 for email notifications; unset: the log
    mail_from: str = "onestop@localhost"
    sms_url: str | None = None  # an HTTP SMS gateway taking {"to", "text"}; unset: the log
    sms_token: str = ""
    secure_cookies: bool = False  # served over HTTPS (behind the reverse proxy): cookies only go over HTTPS
    # The audit trail's key (services.audit): ONESTOP_AUDIT_KEY, or generated once under home. Losing
    # it means the trail written with it can no longer be verified.
    audit_key: str = ""
    audit_checkpoints: Path | None = None  # the append-only file of signed checkpoints (home/audit-checkpoints)
    audit_checkpoint_seconds: float = 600.0  # how often the timer worker appends checkpoints
    # The key(s) that encrypt connector secrets (services.connectors): ONESTOP_CONNECTOR_KEY (Fernet keys,
    # comma-separated, the first encrypts), or one generated once under home. Losing it loses the secrets.
    connector_key: str = ""
    connector_timeout_seconds: float = 10.0  # each HTTP call of a connector
    connector_attempts: int = 3  # tries of a connector call before its dossier becomes an incident
    connector_backoff_seconds: float = 0.5  # the pause before the 2nd try; doubled before each next one
    connector_ca_file: str | None = None  # authorities HTTPS services may be signed by, besides the system's
    idle_minutes: int = 30  # a signed-in session left alone this long must sign in again (shared counter PCs)
    session_hours: int = 12  # and no session outlives this, however busy
    submissions_per_address: str = "20 per hour"  # anonymous portal submissions (the `limits` notation)
    submissions_per_procedure: str = "300 per hour"  # ... to one procedure of one centre, from everywhere
    # Serve the local simulators of the outside systems under /simulators/<name> (onestop.simulators):
    # on by default for `onestop serve` (the embedded default), never in production.
    simulators: bool = False
    # The address this server is reached at by itself (the adapters' default URL of a mounted simulator).
    local_url: str = "http://127.0.0.1:8000"
    # The payment gateway (services.payments; VNPay's protocol): its base URL, the merchant's terminal
    # code and its hashing secret. Unset URL: the mounted simulator's when `simulators` is on, else none.
    payment_url: str | None = None
    payment_merchant: str = ""
    payment_secret: str = ""
    payment_timeout_seconds: float = 10.0
    # Citizens' sign-in by OpenID Connect (VNeID; services.identity). Unset issuer: the mounted simulator's
    # when `simulators` is on, else no citizen sign-in.
    oidc_issuer: str | None = None
    oidc_client_id: str = ""
    oidc_client_secret: str = ""
    # The national public service portal (services.national_portal): its base URL (unset: the mounted
    # simulator's when simulators are on, else not connected), the secret both sides sign with
    # (ONESTOP_NATIONAL_PORTAL_SECRET, "whsec_" + base64; or one generated once under home), the
    # timeout of each call, how long a change being sent stays claimed (0: 2 × the timeout + 5 s) and
    # how often the worker reconciles.
    national_portal_url: str | None = None
    national_portal_secret: str = ""
    national_portal_timeout_seconds: float = 10.0
    national_portal_lease_seconds: float = 0.0
    national_portal_reconcile_seconds: float = 900.0
    # Signed results (services.signing): the address citizens reach this server at (the QR code of a
    # result's verification page; unset: local_url), the key and certificate (with its chain) to sign
    # with where a centre has none of its own under home/signing/centres/<code>/, the roots trusted
    # besides the local one (PEM files, comma-separated). /verify takes files up to max_file_bytes.
    public_url: str | None = None
    signing_key_file: str | None = None
    signing_cert_file: str | None = None
    signing_trust_roots: tuple = ()
    testing: bool = False
    # An Engine to use instead of building one (tests share one across apps).
    engine: object = None
    # The business time (onestop.clock.Clock) to bind instead of the real one (tests advance it).
    clock: object = None
    # An argon2 PasswordHasher instead of the standard one (tests: the cheapest, so that a sign-in costs
    # no 0.1-0.6 s of hashing); no environment variable: production always hashes with the standard.
    password_hasher: object = None

    def bind_audit(self):
        """Give the current runtime the audit trail's key and checkpoint file these settings name
        (assemble.build_runtime does it when it builds one)."""
        from .services import audit

        audit.bind(self.audit_key, self.audit_checkpoints or self.home / "audit-checkpoints")

    def make_sandbox(self):
        """The script and expression sandbox these settings describe."""
        from .engine import Sandbox

        return Sandbox(timeout=self.script_timeout_seconds, memory_mb=self.script_memory_mb,
                       pool_size=self.script_workers, per_tenant=self.script_workers_per_centre or None,
                       wait_timeout=self.script_queue_seconds, expression_timeout=self.expression_timeout_seconds,
                       expression_memory_mb=self.expression_memory_mb)

    def make_engine(self):
        """The engine (sandbox and budgets) these settings describe; the app factory and the CLI both
        build it here."""
        from .engine import Engine

        return Engine(self.make_sandbox(), budgets=self.budgets())

    def budgets(self):
        """The engine's budgets (engine.budgets.Budgets) these settings configure."""
        from .engine import Budgets

        return Budgets(max_automatic_steps=self.max_automatic_steps, max_step_seconds=self.max_step_seconds,
                       max_instances=self.max_instances, max_timer_years=self.max_timer_years,
                       min_cycle_seconds=self.min_timer_cycle_seconds, timer_retry_seconds=self.timer_retry_seconds)

    def payment_gateway(self) -> tuple[str, str, str] | None:
        """(URL, merchant code, secret) of the payment gateway, or None when there is none: the
        ONESTOP_PAYMENT_* settings, else the simulator mounted under local_url (its demo merchant)."""
        if self.payment_url:
            return self.payment_url.rstrip("/"), self.payment_merchant, self.payment_secret
        if self.simulators:
            return (f"{self.local_url}/simulators/payment", self.payment_merchant or SIMULATOR_MERCHANT,
                    self.payment_secret or SIMULATOR_SECRET)
        return None

    def identity_provider(self):
        """(issuer, client id, client secret) of the citizens' OpenID provider, or None: citizens cannot
        sign in. Unset: the identity simulator mounted on this server, when simulators are on."""
        if self.oidc_issuer:
            return self.oidc_issuer.rstrip("/"), self.oidc_client_id, self.oidc_client_secret
        if self.simulators:
            return f"{self.local_url}/simulators/identity", self.oidc_client_id or "onestop", \
                self.oidc_client_secret or "simulator-secret"
        return None

    @property
    def is_sqlite(self):
        return self.database_url.startswith("sqlite")


# Threads per web server process (granian's blocking threads, gunicorn's gthread threads) unless
# ONESTOP_WEB_THREADS says otherwise, by database; measured with bench/http.py (2 workers, 16 clients on
# 2 cores, rounds alternated, docs/performance.md section 2). SQLite: 8, as its group commit shares one fsync
# among the writes of the threads waiting at once (with 3 or 4 the completions' p99 was 50-59 ms against 48).
# PostgreSQL: 4, as a thread back from a round trip to the server waits for the GIL behind the others (with 8
# the p99 was 83-108 ms against 54-85, for no more requests served).
WEB_THREADS = {"sqlite": 8, "postgresql": 4}


def web_threads(database_url: str, environ=os.environ) -> int:
    """Threads per web server process: ONESTOP_WEB_THREADS (a whole number from 1 to 256), else the
    database's default (WEB_THREADS). SettingsError, saying what is wrong, for any other value."""
    return _count("ONESTOP_WEB_THREADS", 256, environ) or \
        WEB_THREADS["sqlite" if database_url.startswith("sqlite") else "postgresql"]


def web_workers(environ=os.environ) -> int:
    """Web server processes of `onestop serve`: ONESTOP_WEB_WORKERS (a whole number from 1 to 64), else 1.
    SettingsError, saying what is wrong, for any other value."""
    return _count("ONESTOP_WEB_WORKERS", 64, environ) or 1


def _count(name: str, most: int, environ) -> int | None:
    """The whole number from 1 to `most` that the variable `name` gives (ASCII digits only), None if it is unset
    or blank; SettingsError for anything else."""
    given = environ.get(name, "").strip()
    if not given:
        return None
    if not (given.isascii() and given.isdigit()) or not 1 <= int(given) <= most:
        raise SettingsError(f"{name} must be a whole number from 1 to {most}, not {given!r}")
    return int(given)


# The payment simulator's demo merchant (onestop.simulators.payment knows the same pair): used only
# when the simulator is mounted and no gateway is configured.
SIMULATOR_MERCHANT, SIMULATOR_SECRET = "ONESTOP1", "onestop-simulator-hash-secret"


def _secret_key(home: Path) -> str:
    """A stable per-installation key: taken from the environment, or generated once under home."""
    key = os.environ.get("ONESTOP_SECRET_KEY")
    if key:
        return key
    path = home / "secret_key"
    if path.exists():
        return path.read_text().strip()
    home.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


AUDIT_KEY_MIN_LENGTH = 32


def _audit_key(home: Path) -> str:
    """The audit trail's key, kept outside the database: ONESTOP_AUDIT_KEY (the same on every machine
    sharing the database), or a file under home generated once, readable by its owner only."""
    key = os.environ.get("ONESTOP_AUDIT_KEY")
    if key:
        if len(key) < AUDIT_KEY_MIN_LENGTH:
            raise SettingsError(f"ONESTOP_AUDIT_KEY must be at least {AUDIT_KEY_MIN_LENGTH} characters long")
        return key
    path = home / "audit_key"
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        # Written whole under another name, then linked into place: processes starting together
        # all end up reading the one key that won.
        draft = home / f".audit_key.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()


def _connector_key(home: Path) -> str:
    """The key of connector secrets, kept outside the database: ONESTOP_CONNECTOR_KEY (one or more Fernet
    keys, comma-separated: the first encrypts, every one decrypts, so a key can be rotated), or a file
    under home generated once, readable by its owner only."""
    key = os.environ.get("ONESTOP_CONNECTOR_KEY")
    if key:
        from cryptography.fernet import Fernet

        for one in key.split(","):
            try:
                Fernet(one.strip().encode())
            except ValueError:
                raise SettingsError("ONESTOP_CONNECTOR_KEY must be Fernet keys (32 url-safe base64-encoded bytes each), "
                                 "comma-separated") from None
        return key
    path = home / "connector_key"
    if not path.exists():
        from base64 import urlsafe_b64encode

        home.mkdir(parents=True, exist_ok=True)
        draft = home / f".connector_key.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(urlsafe_b64encode(secrets.token_bytes(32)).decode())  # a Fernet key
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(draft, path)  # the first process to get here wins; the others read its key
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()


def _national_portal_secret(home: Path) -> str:
    """The secret shared with the national portal: ONESTOP_NATIONAL_PORTAL_SECRET, or one generated
    once under home (give it to the portal's operator)."""
    key = os.environ.get("ONESTOP_NATIONAL_PORTAL_SECRET")
    if key:
        return key
    path = home / "national_portal_secret"
    if not path.exists():
        from base64 import b64encode
        home.mkdir(parents=True, exist_ok=True)
        draft = home / f".national_portal_secret.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write("whsec_" + b64encode(secrets.token_bytes(32)).decode())
        try:
            os.link(draft, path)  # the first process to get here wins; the others read its secret
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()


# The database URLs onestop.db.open_database opens.
DATABASE_SCHEMES = ("sqlite", "postgresql", "postgres")


def load_settings(**overrides) -> Settings:
    """Settings from ONESTOP_* environment variables, with keyword overrides (used by tests)."""
    home = Path(overrides.pop("home", None) or os.environ.get("ONESTOP_HOME") or "var").resolve()
    database_url = overrides.pop("database_url", None) or os.environ.get("ONESTOP_DATABASE_URL") or (
        f"sqlite:///{home / 'onestop.db'}"
    )
    try:  # the keys are made there on first use, the files kept there: said in a line if it cannot be
        home.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SettingsError(f"ONESTOP_HOME {home} cannot be used: {exc.strerror or exc}") from None
    if not os.access(home, os.W_OK | os.X_OK):
        raise SettingsError(f"ONESTOP_HOME {home} cannot be used: this user may not write in it")
    scheme = urlsplit(database_url).scheme
    if scheme not in DATABASE_SCHEMES:  # (only the scheme is said: the URL may hold a password)
        raise SettingsError("ONESTOP_DATABASE_URL must be sqlite:///FILE or postgresql://USER:PASSWORD@HOST/DATABASE; "
                            f"its scheme is {scheme!r}")
    settings = Settings(
        home=home,
        database_url=database_url,
        secret_key=overrides.pop("secret_key", None) or _secret_key(home),
        audit_key=overrides.pop("audit_key", None) or _audit_key(home),
        audit_checkpoints=Path(os.environ["ONESTOP_AUDIT_CHECKPOINTS"]).resolve()
        if os.environ.get("ONESTOP_AUDIT_CHECKPOINTS") else home / "audit-checkpoints",
        audit_checkpoint_seconds=_float("ONESTOP_AUDIT_CHECKPOINT_SECONDS", 600.0),
        connector_key=overrides.pop("connector_key", None) or _connector_key(home),
        connector_timeout_seconds=_float("ONESTOP_CONNECTOR_TIMEOUT", 10.0),
        connector_attempts=_int("ONESTOP_CONNECTOR_ATTEMPTS", 3),
        connector_backoff_seconds=_float("ONESTOP_CONNECTOR_BACKOFF", 0.5),
        connector_ca_file=os.environ.get("ONESTOP_CONNECTOR_CA_FILE") or None,
        national_portal_url=(os.environ.get("ONESTOP_NATIONAL_PORTAL_URL") or "").rstrip("/") or None,
        national_portal_secret=overrides.pop("national_portal_secret", None) or _national_portal_secret(home),
        national_portal_timeout_seconds=_float("ONESTOP_NATIONAL_PORTAL_TIMEOUT", 10.0),
        national_portal_lease_seconds=_at_least("ONESTOP_NATIONAL_PORTAL_LEASE_SECONDS", 0.0, 0.0,
                                                 "0 means twice the timeout and 5 s"),
        national_portal_reconcile_seconds=_float("ONESTOP_NATIONAL_PORTAL_RECONCILE_SECONDS", 900.0),
        port=_int("ONESTOP_PORT", 8000),
        simulators=os.environ.get("ONESTOP_SIMULATORS", "0") in ("1", "true", "yes"),
        local_url=(os.environ.get("ONESTOP_LOCAL_URL") or f"http://127.0.0.1:{_int('ONESTOP_PORT', 8000)}").rstrip("/"),
        oidc_issuer=os.environ.get("ONESTOP_OIDC_ISSUER") or None,
        oidc_client_id=os.environ.get("ONESTOP_OIDC_CLIENT_ID") or "",
        oidc_client_secret=os.environ.get("ONESTOP_OIDC_CLIENT_SECRET") or "",
        max_upload_bytes=_int("ONESTOP_MAX_UPLOAD_BYTES", 32 * 1024 * 1024),
        max_model_bytes=_int("ONESTOP_MAX_MODEL_BYTES", 5 * 1024 * 1024),
        max_file_bytes=_int("ONESTOP_MAX_FILE_BYTES", 10 * 1024 * 1024),
        max_dossier_file_bytes=_int("ONESTOP_MAX_DOSSIER_FILE_BYTES", 100 * 1024 * 1024),
        max_json_bytes=_int("ONESTOP_MAX_JSON_BYTES", 16 * 1024 * 1024),
        timer_poll_seconds=_float("ONESTOP_TIMER_POLL_SECONDS", 1.0),
        external_task_wait_seconds=_float("ONESTOP_EXTERNAL_TASK_WAIT_SECONDS", 10.0),
        run_timer_thread=os.environ.get("ONESTOP_TIMER_THREAD", "1") not in ("0", "false", "no"),
        script_timeout_seconds=_float("ONESTOP_SCRIPT_TIMEOUT", 2.0),
        script_memory_mb=_int("ONESTOP_SCRIPT_MEMORY_MB", 256),
        script_workers=_int("ONESTOP_SCRIPT_WORKERS", 4),
        script_workers_per_centre=_int("ONESTOP_SCRIPT_WORKERS_PER_CENTRE", 0),
        script_queue_seconds=_float("ONESTOP_SCRIPT_QUEUE_SECONDS", 10.0),
        expression_timeout_seconds=_float("ONESTOP_EXPRESSION_TIMEOUT", 1.0),
        expression_memory_mb=_float("ONESTOP_EXPRESSION_MEMORY_MB", 32),
        max_automatic_steps=_int("ONESTOP_MAX_AUTOMATIC_STEPS", 1_000),
        max_step_seconds=_float("ONESTOP_MAX_STEP_SECONDS", 3.0),
        max_instances=_int("ONESTOP_MAX_INSTANCES", 1_000),
        max_timer_years=_int("ONESTOP_MAX_TIMER_YEARS", 100),
        min_timer_cycle_seconds=_int("ONESTOP_MIN_TIMER_CYCLE_SECONDS", 60),
        timer_retry_seconds=_at_least("ONESTOP_TIMER_RETRY_SECONDS", 1.0, 0.05,
                                       "a due timer that cannot fire would otherwise spin the timer worker"),
        redis_url=os.environ.get("ONESTOP_REDIS_URL") or None,
        sqlite_checkpoint_seconds=_float("ONESTOP_SQLITE_CHECKPOINT_SECONDS", 0.0),
        sqlite_wal_pages=_int("ONESTOP_SQLITE_WAL_PAGES", 1000),
        postgres_group_commit=os.environ.get("ONESTOP_POSTGRES_GROUP_COMMIT", "0") in ("1", "true", "yes"),
        secure_cookies=os.environ.get("ONESTOP_SECURE_COOKIES", "0") in ("1", "true", "yes"),
        idle_minutes=_int("ONESTOP_IDLE_MINUTES", 30),
        session_hours=_int("ONESTOP_SESSION_HOURS", 12),
        submissions_per_address=os.environ.get("ONESTOP_SUBMISSIONS_PER_ADDRESS") or "20 per hour",
        submissions_per_procedure=os.environ.get("ONESTOP_SUBMISSIONS_PER_PROCEDURE") or "300 per hour",
        agency_code=os.environ.get("ONESTOP_AGENCY_CODE") or None,
        proxies=_int("ONESTOP_PROXIES", 0),
        smtp_url=os.environ.get("ONESTOP_SMTP_URL") or None,
        mail_from=os.environ.get("ONESTOP_MAIL_FROM") or "onestop@localhost",
        sms_url=os.environ.get("ONESTOP_SMS_URL") or None,
        sms_token=os.environ.get("ONESTOP_SMS_TOKEN") or "",
        code_system=os.environ.get("ONESTOP_DOSSIER_CODE_SYSTEM") or None,
        payment_url=os.environ.get("ONESTOP_PAYMENT_URL") or None,
        payment_merchant=os.environ.get("ONESTOP_PAYMENT_MERCHANT") or "",
        payment_secret=os.environ.get("ONESTOP_PAYMENT_SECRET") or "",
        payment_timeout_seconds=_float("ONESTOP_PAYMENT_TIMEOUT", 10.0),
        public_url=(os.environ.get("ONESTOP_PUBLIC_URL") or "").rstrip("/") or None,
        signing_key_file=os.environ.get("ONESTOP_SIGNING_KEY") or None,
        signing_cert_file=os.environ.get("ONESTOP_SIGNING_CERT") or None,
        signing_trust_roots=tuple(p.strip() for p in os.environ.get("ONESTOP_SIGNING_TRUST_ROOTS", "").split(",")
                                  if p.strip()),
    )
    for key, value in overrides.items():
        setattr(settings, key, value)
    return settings
