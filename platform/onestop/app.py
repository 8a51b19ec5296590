"""The application factory: the one place that wires the layers together."""

import atexit
import logging
from importlib.metadata import entry_points

from flask import Flask

from . import db, migrations, ratelimit, timers
from .config import Settings, load_settings
from .services import attachments, audit, codes, runtime, schedule
from .services.users import ensure_default_centre


def create_app(config: Settings | dict | None = None) -> Flask:
    """Build the Flask app from settings (environment by default, a dict of overrides in tests)."""
    settings = config if isinstance(config, Settings) else load_settings(**(config or {}))
    settings.home.mkdir(parents=True, exist_ok=True)
    app = Flask(__name__)
    if settings.proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # Behind that many reverse proxies: the client's address is the one they report.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.proxies, x_proto=settings.proxies, x_host=settings.proxies)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_upload_bytes,
        TESTING=settings.testing,
        JSON_SORT_KEYS=False,
        ONESTOP=settings,
    )
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    settings.bind_clock()
    settings.bind_audit()
    db.bind(settings.database_url)
    runtime.forget_caches()
    db.database.connect(reuse_if_open=True)
    try:
        migrations.migrate()
        if not audit.key_fits():
            logging.getLogger("onestop.audit").error(
                "the last audit event does not verify under this audit key: the key is not the one the trail "
                "was written with (set ONESTOP_AUDIT_KEY to it on every machine), or the trail was tampered "
                "with; run `onestop audit verify`")
        ensure_default_centre(settings.agency_code)
    finally:
        db.database.close()
    db.init_app(app)

    engine = settings.engine
    if engine is None:
        engine = settings.make_engine()
        atexit.register(engine.close)
    runtime.bind_engine(engine)
    codes.configure(settings.code_system)
    ratelimit.bind(settings.redis_url)
    settings.bind_senders()
    attachments.bind_store(attachments.FileStore(settings.home / "files", settings.max_file_bytes,
                                                 settings.max_dossier_file_bytes))
    app.extensions["onestop.engine"] = engine
    if settings.redis_url:
        from . import jobs

        app.extensions["onestop.jobs"] = jobs.bind(settings.redis_url)
    else:
        schedule.bind_scheduler(None)

    from .web import init_app as init_web

    init_web(app)
    for extension in entry_points(group="onestop.extensions"):
        extension.load()(app)

    if settings.run_timer_thread and not settings.testing:
        app.extensions["onestop.timer_stop"] = timers.start_thread(settings.timer_poll_seconds,
                                                                   settings.audit_checkpoint_seconds)
    return app
