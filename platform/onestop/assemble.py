"""What a running onestop holds, built from its settings: `build_runtime` is the one function that
builds the runtime (services/runtime.py); the app factory (`app.create_app`) and every CLI command call
it. Kept apart from the app factory so that a command imports no web framework."""

from . import db, ratelimit
from .clock import Clock
from .config import Settings
from .services import attachments, audit, codes, connectors, notify, payment_gateway, runtime, signing
from .services.national_portal import options as national_portal


def build_runtime(settings: Settings, *, engine: bool = True, worker: bool = False) -> runtime.Runtime:
    """What a running onestop holds, from its settings (the one place that builds it). engine=False
    leaves the engine out (commands that run no model); worker=True gives the job queue the audit
    checkpoints' schedule too (`onestop worker`)."""
    built = runtime.Runtime(
        database=db.open_database(settings.database_url, checkpoint_seconds=settings.sqlite_checkpoint_seconds,
                                  wal_pages=settings.sqlite_wal_pages, group_commit=settings.postgres_group_commit),
        clock=settings.clock or Clock(),
        files=attachments.FileStore(settings.home / "files", settings.max_file_bytes, settings.max_dossier_file_bytes),
        senders=notify.senders(notify.SmtpSender(settings.smtp_url, settings.mail_from) if settings.smtp_url else None,
                               notify.HttpSmsSender(settings.sms_url, settings.sms_token) if settings.sms_url else None),
        limiter=ratelimit.Limiter(settings.redis_url),
        audit_keys=audit.Keys(settings.audit_key, settings.audit_checkpoints or settings.home / "audit-checkpoints"),
        code_system=codes.system_code(settings.code_system), passwords=settings.password_hasher,
        connectors=connectors.Options(keys=settings.connector_key, timeout_seconds=settings.connector_timeout_seconds,
                                      attempts=settings.connector_attempts,
                                      backoff_seconds=settings.connector_backoff_seconds,
                                      ca_file=settings.connector_ca_file),
        signing=signing.Options(settings.home / "signing", public_url=settings.public_url or settings.local_url,
                                key_file=settings.signing_key_file, cert_file=settings.signing_cert_file,
                                trust_roots=tuple(settings.signing_trust_roots),
                                max_bytes=settings.max_file_bytes))
    gateway = settings.payment_gateway()
    if gateway is not None:
        built.payments = payment_gateway.Gateway(*gateway, timeout_seconds=settings.payment_timeout_seconds)
    built.national_portal = national_portal.Options(
        url=settings.national_portal_url or (f"{settings.local_url}/simulators/portal" if settings.simulators else ""),
        secret=settings.national_portal_secret, timeout_seconds=settings.national_portal_timeout_seconds,
        lease=settings.national_portal_lease_seconds, reconcile_seconds=settings.national_portal_reconcile_seconds)
    if engine:
        built.engine = settings.engine if settings.engine is not None else settings.make_engine()
    if settings.redis_url:
        from . import jobs

        built.queue = jobs.build(settings.redis_url, settings.audit_checkpoint_seconds if worker else None)
        built.scheduler = jobs.scheduler(built.queue)
    return built
