"""The `onestop` command: serve, worker, init, import, validate, user create, centres, pack, rollout,
catalogue import, search rebuild, dossiers import, keys create."""

import argparse
import logging
import os
import secrets
import signal
import socket
import sys
import threading
from pathlib import Path
from urllib.parse import urlparse

from . import db, migrations
from .config import load_settings, web_threads, web_workers

# The bundled procedures ship inside the package (a link to the checkout's process_models/ that a
# build copies), so a `pip install .` serves them as the checkout does.
BUNDLED = Path(__file__).with_name("process_models")


def _runtime(settings, *, engine=False, worker=False, database=True):
    """This command's runtime (assemble.build_runtime, as the app factory builds its own), made the
    process's; with database, connected and migrated."""
    from .assemble import build_runtime
    from .services import runtime

    built = runtime.install(build_runtime(settings, engine=engine, worker=worker))
    if database:
        db.database.connect(reuse_if_open=True)
        migrations.migrate()
    return built


def _system_actor():
    from .services.users import system_user

    return system_user()


def _country_actor():
    """The system user acting over the whole country: the command line reaches every centre, the
    country's calendar and every province's (it runs on the server, as its operator)."""
    actor = _system_actor()
    actor.roles = "system_admin"
    return actor


def _uploads_from(path: Path):
    from .services.procedures import Upload

    if path.is_file():
        return [Upload(path.name, path.read_bytes())]
    if path.is_dir():
        return [Upload(p.name, p.read_bytes()) for p in sorted(path.iterdir())
                if p.is_file() and p.suffix.lower() in (".bpmn", ".dmn", ".json", ".zip")]
    raise SystemExit(f"error: {path} does not exist")


def _print_problems(details, out=None):
    """Each problem on its own line, to `out` (the standard error of the moment: not the one the
    module was imported under, which a caller may have replaced and closed since)."""
    out = out or sys.stderr
    for d in details or []:
        where = d.get("element_id") or d.get("file") or (f"row {d['row']}" if "row" in d else "-")
        print(f"  {where}: {d['message']}", file=out)


def _import(actor, path: Path, process_id=None, quiet=False, again=False):
    """Import a procedure's files; `again`: files imported at every start, not parsed when unchanged."""
    from .services.errors import ServiceError
    from .services.procedures import upload_procedure, upload_unless_loaded

    try:
        if again:
            version, created = upload_unless_loaded(actor, _uploads_from(path))
        else:
            version, created = upload_procedure(actor, _uploads_from(path), process_id)
    except ServiceError as exc:
        print(f"{path}: {exc.message}", file=sys.stderr)
        _print_problems(exc.details)
        return False
    if created or not quiet:
        state = "imported" if created else "unchanged"
        print(f"{path.name}: {state} as {version.procedure.code} v{version.version}")
    for w in version.warnings if created else []:
        print(f"  warning {w.get('element_id') or '-'}: {w['message']}")
    return True


def load_bundled(actor, root: Path = BUNDLED):
    """Import every bundled procedure folder; unchanged ones keep their version (and are not parsed
    again: services.procedures.upload_unless_loaded)."""
    if not root.is_dir():
        return 0
    ok = 0
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        ok += _import(actor, folder, quiet=True, again=True)
    return ok


def cmd_init(args):
    settings = load_settings()
    _runtime(settings)
    from .services.users import ensure_default_centre

    ensure_default_centre()
    print(f"database ready at {settings.database_url} (schema version {migrations.current_version()})")


def cmd_import(args):
    settings = load_settings()
    _runtime(settings, engine=True)
    return 0 if _import(_system_actor(), Path(args.path), args.process_id) else 1


def cmd_validate(args):
    from .services.errors import ServiceError
    from .services.procedures import parse_uploads

    settings = load_settings()
    engine = _runtime(settings, engine=True, database=False).engine
    uploads = [u for path in args.files for u in _uploads_from(Path(path))]
    try:
        parsed = parse_uploads(uploads, args.process_id, settings.max_model_bytes)
    except ServiceError as exc:
        if exc.details:  # the engine refused the model: each problem on its own line
            print("invalid:", file=sys.stderr)
            _print_problems(exc.details)
        else:
            print(f"invalid: {exc.message}", file=sys.stderr)
        return 1
    finally:
        engine.close()
    print(f"valid: starts {parsed.start_kind} {parsed.start_id} ({parsed.dialect} dialect)")
    for w in parsed.warnings:
        print(f"  warning {w.get('element_id') or '-'}: {w['message']}")
    return 0


def cmd_user_create(args):
    from .services.errors import ServiceError
    from .services.users import create_user, issue_token

    settings = load_settings()
    _runtime(settings)
    from .services.centres import by_code

    centre = None
    if args.centre:
        centre = by_code(args.centre)
        if centre is None:
            print(f"error: no centre {args.centre!r} (onestop centres list)", file=sys.stderr)
            return 1
    try:
        user = create_user(args.name, args.role, password=args.password, centre=centre)
    except ServiceError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    print(f"user {user.username} created with roles {user.roles}")
    if args.topic:
        from .services.external_tasks import issue_worker_token

        try:
            token = issue_worker_token(user, args.topic, label="cli")
        except ServiceError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return 1
        print(f"worker token for the topics {', '.join(args.topic)} (shown once; only its hash is stored):")
        print(token)
    elif args.token:
        print("API token (shown once; only its hash is stored):")
        print(issue_token(user, label="cli"))
    return 0


def cmd_centres_import(args):
    from .services import centres

    settings = load_settings()
    _runtime(settings)
    report = centres.import_units(_system_actor(), None if args.all else args.province)
    print(f"{report.provinces} province centre(s) and {report.communes} commune centre(s) created; "
          f"{report.existing} province(s) were there already")
    return 0


def cmd_centres_list(args):
    import json

    from .services import centres

    settings = load_settings()
    _runtime(settings)
    actor = _country_actor()
    listed = centres.describe(centres.list_centres(actor, parent=args.parent, level=args.level))
    if args.json:
        print(json.dumps(listed, ensure_ascii=False, indent=1))
        return 0
    for c in listed:
        print(f"{c['code']:<10} {c['level']:<9} {c['parent'] or '-':<8} {c['agency_code'] or '-':<16} {c['name']}")
    print(f"{len(listed)} centre(s)", file=sys.stderr)
    return 0


def cmd_centres_merge(args):
    from datetime import date

    from .services import mergers
    from .services.errors import ServiceError

    settings = load_settings()
    _runtime(settings)
    actor = _country_actor()
    try:
        done = mergers.merge_centres(actor, args.codes, args.into, date.fromisoformat(args.on))
    except ValueError:
        print(f"error: {args.on!r} is not a date (YYYY-MM-DD)", file=sys.stderr)
        return 1
    except ServiceError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    for m in done:
        then = (f"{m.handed_over} open dossier(s) handed over now" if m.handed_over is not None
                else "its open dossiers are handed over on that date by the worker")
        print(f"{m.merged} merged into {m.successor} from {m.on:%Y-%m-%d}: {then}")
    return 0


def cmd_centres_codes_import(args):
    from .services import agencies
    from .services.errors import ServiceError

    settings = load_settings()
    _runtime(settings)
    path = Path(args.file)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"error: cannot read {path} as UTF-8 text: {exc}", file=sys.stderr)
        return 1
    actor = _country_actor()
    try:
        report = agencies.import_codes(actor, text, path.name)
    except ServiceError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        for problem in (exc.details or [])[1:]:
            where = f"row {problem['row']}: " if problem.get("row") else ""
            print(f"  {where}{problem['message']}", file=sys.stderr)
        return 1
    print(f"{report.changed} centre(s) got their identity code, {report.unchanged} had it already; "
          f"{agencies.count_not_ready()} open centre(s) still have none")
    return 0


def cmd_calendar_import(args):
    from .services import calendar

    settings = load_settings()
    _runtime(settings)
    actor = _country_actor()
    path = Path(args.file)
    if not path.is_file():
        raise SystemExit(f"error: {path} does not exist")
    report = calendar.import_days(actor, path.read_bytes(), path.name, args.province)
    print(f"{report.added} day(s) added, {report.updated} replaced in the "
          f"{'calendar of ' + args.province if args.province else 'national calendar'}")
    return 0


def cmd_audit_verify(args):
    from .services import audit

    settings = load_settings()
    _runtime(settings)
    files = args.checkpoint or audit.written_checkpoints()
    result = audit.verify(checkpoints=files)
    if result.broken is not None:
        print(f"audit trail BROKEN at {result.broken} ({result.events} events verified before it)", file=sys.stderr)
        return 1
    compared = (f"; {result.checkpoints} checkpoint(s) matched from {', '.join(str(f) for f in files)}" if files
                else "; no checkpoint file: a removed tail cannot be told from a shorter trail")
    print(f"audit trail intact: {result.events} events in {result.chains} chain(s), "
          f"{result.history} history rows bound{compared}")
    return 0


def cmd_audit_checkpoint(args):
    from .services import audit

    settings = load_settings()
    _runtime(settings)
    written = audit.checkpoint(args.file)
    print(f"{written} checkpoint(s) appended to {args.file or audit.checkpoint_file()} (key id {audit.key_id()})")
    return 0


def cmd_search_rebuild(args):
    from .services import search

    _runtime(load_settings())
    made = search.rebuild()
    print(f"search index rebuilt: {made['procedures']} procedures, {made['dossiers']} dossiers")
    return 0


def _progress(done, total, width=40):
    filled = width * done // max(total, 1)
    if done != total and filled == width * (done - 1) // max(total, 1):
        return  # redraw only when the bar moves
    print(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} centres", end="", file=sys.stderr, flush=True)
    if done == total:
        print(file=sys.stderr)


def cmd_pack_export(args):
    from .services import centres, rollout

    settings = load_settings()
    _runtime(settings)
    actor = _system_actor()
    centre = centres.by_code(args.centre)
    if centre is None:
        print(f"error: no centre {args.centre!r}", file=sys.stderr)
        return 1
    actor.centre_id = centre.id
    data = rollout.export_pack(actor, args.codes or None)
    Path(args.output).write_bytes(data)
    print(f"{args.output}: {len(data)} bytes")
    return 0


def cmd_rollout(args):
    from .services import centres, rollout
    from .services.errors import ServiceError

    settings = load_settings()
    _runtime(settings, engine=True)
    if not Path(args.pack).is_file():
        print(f"error: {args.pack} is not a file", file=sys.stderr)
        return 1
    actor = _country_actor()
    province = args.to.removeprefix("province:").split("/")[0] if args.to.startswith("province:") else None
    try:
        source_code = args.source or (centres.province_code(province) if province else centres.NATION)
    except ValueError:
        source_code = args.source or centres.NATION  # select() below says what is wrong with the selector
    source = centres.by_code(source_code)
    if source is None:
        print(f"error: no centre {source_code!r} to publish from (onestop centres import first)", file=sys.stderr)
        return 1
    try:
        source, templates, targets = rollout.publish_pack(actor, Path(args.pack).read_bytes(), args.to, source,
                                                          max_bytes=settings.max_model_bytes)
        print(f"{len(templates)} template(s) published at {source.code}; rolling out to {len(targets)} centre(s)",
              file=sys.stderr)
        report = rollout.rollout(actor, templates, targets, force=args.force, progress=_progress)
    except ServiceError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        _print_problems(exc.details)
        return 1
    for o in report.outcomes:
        if o.outcome == "conflict" or args.verbose:
            print(f"{o.centre:<10} {o.code:<12} {o.outcome:<14} {('v' + str(o.version)) if o.version else '-':<5} {o.detail}")
    counts = ", ".join(f"{n} {k}" for k, n in sorted(report.counts().items()))
    print(f"done in {report.seconds:.1f} s: {counts}")
    return 0


def _import_arguments(args):
    """(the file to import, the system actor at --centre or at the default centre); (None, None),
    said on stderr, when the file or the centre does not exist."""
    from .services import centres

    path = Path(args.file)
    if not path.is_file():
        print(f"error: {path} is not a file", file=sys.stderr)
        return None, None
    actor = _system_actor()
    if args.centre:
        centre = centres.by_code(args.centre)
        if centre is None:
            print(f"error: no centre {args.centre!r}", file=sys.stderr)
            return None, None
        actor.centre_id = centre.id
    return path, actor


def cmd_catalogue_import(args):
    from .services import catalogue
    from .services.errors import Invalid

    settings = load_settings()
    _runtime(settings, engine=True)
    path, actor = _import_arguments(args)
    if path is None:
        return 1
    try:
        batch = catalogue.import_file(actor, path.name, path.read_bytes(), run_tests=not args.no_tests,
                                      max_bytes=settings.max_model_bytes)
    except Invalid as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        for d in exc.details or []:
            where = f"row {d['row']}" if d.get("row") else "file"
            column = f", column {d['column']}" if d.get("column") else ""
            code = f" ({d['code']})" if d.get("code") else ""
            print(f"  {where}{code}{column}: {d['message']}", file=sys.stderr)
        return 1
    return _catalogue_report(actor, batch, args.publish, settings.max_model_bytes)


def _catalogue_report(actor, batch, publish, max_bytes):
    from .services import catalogue

    for e in batch.entries:
        tests = f"tests {e.get('passed', 0)} passed, {e.get('failed', 0)} failed" if "passed" in e else ""
        print(f"row {e['row']:<4} {e['code']:<14} {e['outcome']:<9} draft {e['draft']:<6} {e['pattern']:<22} "
              f"{e.get('errors', 0)} error(s), {e.get('warnings', 0)} warning(s); {tests}")
        if e.get("first_error"):
            print(f"     {e['first_error']}")
    counts = {k: sum(1 for e in batch.entries if e["outcome"] == k) for k in ("created", "updated", "unchanged")}
    print(f"import {batch.id}: {len(batch.entries)} record(s): " + ", ".join(f"{n} {k}" for k, n in counts.items()))
    if not publish:
        print(f"review them at /admin/catalogue/{batch.id}", file=sys.stderr)
        return 0
    clean = [e["draft"] for e in batch.entries if not e.get("errors") and not e.get("failed")]
    done = catalogue.publish_many(actor, clean, max_bytes)
    for draft_id, _, refusal in done:
        if refusal:
            print(f"draft {draft_id} not published: {refusal}", file=sys.stderr)
    print(f"{sum(1 for _, v, _ in done if v)} draft(s) published; "
          f"{len(batch.entries) - len(clean)} left for review (errors or failed tests)")
    return 0


def cmd_dossiers_import(args):
    """Bring in the dossiers an old system is still processing (services.legacy)."""
    from datetime import date

    from .services import legacy
    from .services.errors import Invalid

    settings = load_settings()
    _runtime(settings, engine=True)
    path, actor = _import_arguments(args)
    if path is None:
        return 1
    switch_over = None
    if args.switch_over:
        try:
            switch_over = date.fromisoformat(args.switch_over)
        except ValueError:
            print(f"error: --switch-over {args.switch_over!r} is not a date (YYYY-MM-DD)", file=sys.stderr)
            return 1
    try:
        report = legacy.import_file(actor, path.name, path.read_bytes(), switch_over=switch_over,
                                    dry_run=args.dry_run)
    except Invalid as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        for d in exc.details or []:
            where = f"line {d['row']}" if d.get("row") else "file"
            print(f"  {where}: {d['message_vi']} / {d['message']}", file=sys.stderr)
        return 1
    for line, code in report.flagged:
        print(f"line {line}: code {code} kept as given; it does not fit the national layout "
              "(agency code-YYMMDD-sequence)", file=sys.stderr)
    for (procedure, element), n in sorted(report.by_step.items()):
        print(f"{procedure:<20} {element:<30} {n}")
    verb = "would import" if report.dry_run else "imported"
    print(f"{verb} {len(report.imported)} dossier(s), {len(report.skipped)} already imported, "
          f"{len(report.flagged)} code(s) flagged; switch-over {report.switch_over.isoformat()}; "
          f"{report.seconds:.1f} s")
    return 0


def _first_start(settings):
    """Create the first administrator on an empty installation and say how to sign in."""
    from .services.users import create_user, has_accounts, issue_token

    if has_accounts():
        return None
    password = secrets.token_urlsafe(12)
    user = create_user("admin", ["admin"], password=password, display_name="Quản trị viên")
    token = issue_token(user, label="first start")
    token_file = settings.home / "admin-token.txt"
    fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(f"user: admin\npassword: {password}\napi token: {token}\n")
    return token_file


# The servers `onestop serve` runs the app in (ONESTOP_WEB_SERVER), the default first.
WEB_SERVERS = ("granian", "gunicorn")


def _cannot_listen(host: str, port: int) -> str | None:
    """Why a server could not listen at host:port (another one holds it, the host is no address of this machine), or
    None. (Bound as the web servers bind, with SO_REUSEADDR: a port left in TIME_WAIT is free.)"""
    try:
        family, kind, proto, _name, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                                 flags=socket.AI_PASSIVE)[0]
    except (socket.gaierror, UnicodeError) as exc:
        return getattr(exc, "strerror", None) or str(exc)
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


def cmd_serve(args):
    server = os.environ.get("ONESTOP_WEB_SERVER", "") or "granian"
    if server not in WEB_SERVERS:
        print(f"ONESTOP_WEB_SERVER must be one of {', '.join(WEB_SERVERS)}, not {server!r}", file=sys.stderr)
        return 2
    # The embedded default serves the outside systems' simulators too, unless told not to.
    os.environ.setdefault("ONESTOP_SIMULATORS", "1")
    if args.port:
        os.environ.setdefault("ONESTOP_LOCAL_URL", f"http://127.0.0.1:{args.port}")
    settings = load_settings()
    port = args.port or settings.port
    workers, threads = web_workers(), web_threads(settings.database_url)  # (a SettingsError before anything starts)
    taken = _cannot_listen(args.host, port)
    if taken:  # said before the start-up's work, not as the web server's traceback after it
        print(f"error: cannot listen on {args.host}:{port}: {taken} (is another server there? ONESTOP_PORT or --port "
              "chooses another)", file=sys.stderr)
        return 1
    _runtime(settings, engine=True)
    from .services.users import ensure_default_centre

    ensure_default_centre()
    loaded = load_bundled(_system_actor())
    credentials = _first_start(settings)
    if not settings.signing_key_file:  # the embedded default signs with a key of its own, made once
        from .services import signing

        made = signing.create_keys()
        if made.created:
            print(f"signing key of the default centre created in {made.folder} (onestop keys create)")
    db.database.close()

    host = args.host
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/"
    print(f"onestop serving {url}  (data in {settings.home}, {loaded} bundled procedures)")
    if credentials:
        print(f"first start: administrator 'admin' created; password and API token are in {credentials}")
    else:
        print("sign in with your account; new users: onestop user create NAME --role officer --token")

    if workers > 1:  # imported once here, before the server forks: each worker then only builds its app
        from .app import import_modules

        import_modules(settings.simulators)
    if server == "granian":
        # The default since it served more requests for less CPU than gunicorn on the same app
        # (docs/performance.md, section 2): HTTP in Rust, the app's code in its blocking threads.
        # Each worker imports onestop.wsgi, which builds the app and freezes it as below; a worker
        # that dies (killed, out of memory) is replaced, as gunicorn's master replaces its own.
        from granian import Granian
        from granian.constants import Interfaces

        _keep_start_up()
        try:
            Granian("onestop.wsgi:app", address=host, port=port, interface=Interfaces.WSGI, workers=workers,
                    blocking_threads=threads, websockets=False, respawn_failed_workers=True).serve()
        except RuntimeError as exc:  # granian could not start (its address taken since the check, say): its reason
            print(f"error: the web server could not start: {str(exc).splitlines()[0]}", file=sys.stderr)
            return 1
        return 0

    from gunicorn.app.base import BaseApplication

    class Server(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("threads", threads)
            self.cfg.set("timeout", 60)
            self.cfg.set("accesslog", None)
            # gunicorn's control socket sits at one fixed path per user: two servers would clash.
            self.cfg.set("control_socket_disable", True)

        def load(self):
            import gc

            from .app import create_app

            app = create_app()
            # What start-up built lives as long as the process: keeping it out of the collector's
            # full passes turns their pause of every request thread from ~100 ms into a few ms.
            gc.freeze()
            return app

    _keep_start_up()
    Server().run()
    return 0


def _keep_start_up():
    """What the process has built so far (modules, runtime) lives as long as it does: kept out of the
    collector's passes. Its last passes, at exit, walked all of it: stopping a server whose master had
    imported the web layer cost ~0.3 s of CPU after its workers were gone, and a command that ran a
    model 0.1-0.17 s after its work was done (half as much as its work). Forked workers inherit it."""
    import gc

    gc.freeze()


def cmd_worker(args):
    settings = load_settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    built = _runtime(settings, engine=True, worker=True)
    db.database.close()
    if settings.redis_url:
        from . import jobs

        print(f"onestop worker: consuming jobs from {_without_password(settings.redis_url)} "
              f"({args.threads} threads); sweeping for due timers every minute", flush=True)
        jobs.run_consumer(built.queue, workers=args.threads)
        print("onestop worker: stopped", flush=True)
        return 0

    from . import timers

    print(f"onestop worker: firing due timers every {settings.timer_poll_seconds}s", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    timers.run_forever(settings.timer_poll_seconds, stop, settings.audit_checkpoint_seconds)
    print("onestop worker: stopped", flush=True)
    return 0


def cmd_keys_create(args):
    from .services import signing

    settings = load_settings()
    _runtime(settings)
    made = signing.create_keys(args.centre, replace=args.replace)
    if made.created:
        print(f"signing key and certificate of {made.subject} written to {made.folder} (issued by the local "
              f"root {made.root})")
    else:
        print(f"{made.subject} has a signing key already ({made.folder}); kept (--replace makes a new one)")
    return 0


def cmd_simulator(args):
    from . import simulators

    settings = load_settings()
    if args.name not in simulators.names():
        print(f"no simulator named {args.name!r}; there are: {', '.join(simulators.names()) or 'none'}", file=sys.stderr)
        return 2
    print(f"onestop simulator {args.name}: serving http://{args.host}:{args.port}/", flush=True)
    simulators.run(args.name, settings.home / "simulators" / args.name, args.host, args.port)
    return 0


def _without_password(url):
    parsed = urlparse(url)
    if parsed.password:
        return url.replace(f":{parsed.password}@", ":***@")
    return url


def build_parser():
    parser = argparse.ArgumentParser(prog="onestop", description="onestop: BPMN platform for one-stop service centres")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the web server and timer worker (embedded default)")
    serve.add_argument("--host", default=os.environ.get("ONESTOP_HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=None, help="default: ONESTOP_PORT or 8000")
    serve.set_defaults(func=cmd_serve)

    simulator = sub.add_parser("simulator", help="run one local simulator of an outside system alone")
    simulator.add_argument("name", help="portal, identity, payment, ... (onestop.simulators)")
    simulator.add_argument("--host", default="127.0.0.1")
    simulator.add_argument("--port", type=int, required=True)
    simulator.set_defaults(func=cmd_simulator)

    worker = sub.add_parser("worker", help="run the worker (timers; jobs from Redis when ONESTOP_REDIS_URL is set)")
    worker.add_argument("--threads", type=int, default=int(os.environ.get("ONESTOP_WORKER_THREADS", "4")))
    worker.set_defaults(func=cmd_worker)
    sub.add_parser("init", help="create or migrate the database").set_defaults(func=cmd_init)

    imp = sub.add_parser("import", help="import a procedure folder, zip or file")
    imp.add_argument("path")
    imp.add_argument("--process-id", default=None)
    imp.set_defaults(func=cmd_import)

    val = sub.add_parser("validate", help="check model files and print the report (exit 1 if invalid)")
    val.add_argument("files", nargs="+")
    val.add_argument("--process-id", default=None)
    val.set_defaults(func=cmd_validate)

    user = sub.add_parser("user", help="manage users").add_subparsers(dest="user_command", required=True)
    create = user.add_parser("create", help="create a user")
    create.add_argument("name")
    create.add_argument("--role", action="append", required=True, help="admin, officer, leader, citizen, integration")
    create.add_argument("--password", default=None)
    create.add_argument("--token", action="store_true", help="also issue an API token (printed on the last line)")
    create.add_argument("--centre", default=None, help="the centre's code (default: the embedded setup's centre)")
    create.add_argument("--topic", action="append", default=[],
                        help="issue a worker token for this external-task topic instead (repeatable; printed on the "
                             "last line): it serves those topics of the user's centre and nothing else of the API")
    create.set_defaults(func=cmd_user_create)

    centres = sub.add_parser("centres", help="the centres: import from the national list, list")
    centres = centres.add_subparsers(dest="centres_command", required=True)
    imp = centres.add_parser("import", help="create province and commune centres from the national list of units")
    which = imp.add_mutually_exclusive_group(required=True)
    which.add_argument("--province", type=int, action="append", help="a province's code (22: Quảng Ninh); repeatable")
    which.add_argument("--all", action="store_true", help="the whole country: 34 provinces, 3,321 communes")
    imp.set_defaults(func=cmd_centres_import)
    listing = centres.add_parser("list", help="list centres")
    listing.add_argument("--json", action="store_true")
    listing.add_argument("--parent", default=None, help="only those under this centre (a code such as P22)")
    listing.add_argument("--level", default=None, help="nation, province, commune, district or centre")
    listing.set_defaults(func=cmd_centres_list)
    merging = centres.add_parser("merge", help="merge centres into another of their province from a date (today or "
                                               "later): closed for new dossiers, open ones handed over that day")
    merging.add_argument("codes", nargs="+")
    merging.add_argument("--into", required=True)
    merging.add_argument("--on", required=True, help="the date the merge takes effect (YYYY-MM-DD)")
    merging.set_defaults(func=cmd_centres_merge)
    agency_codes = centres.add_parser("codes", help="the centres' electronic identity codes").add_subparsers(
        dest="codes_command", required=True)
    codes_import = agency_codes.add_parser(
        "import", help="set identity codes from a CSV of the national list: administrative unit code, identity code "
                       "(all or nothing; every wrong row is reported)")
    codes_import.add_argument("file")
    codes_import.set_defaults(func=cmd_centres_codes_import)

    cal = sub.add_parser("calendar", help="the official calendar: days off and day swaps with their notices")
    cal = cal.add_subparsers(dest="calendar_command", required=True)
    cal_import = cal.add_parser("import", help="import official days from a CSV or JSON file (all rows or none)",
                                description="Columns: date, working, name, source (the decision or notice), "
                                            "source_date, source_url, confirmed, note. A day already there is "
                                            "replaced; a file with any bad row changes nothing.")
    cal_import.add_argument("file")
    cal_import.add_argument("--province", default=None, help="a province centre's code (P22): its own days")
    cal_import.set_defaults(func=cmd_calendar_import)

    audit = sub.add_parser("audit", help="the audit trail").add_subparsers(dest="audit_command", required=True)
    verify = audit.add_parser(
        "verify", help="check every centre's keyed audit chain, the step history it binds and the signed "
                       "checkpoints (exit 1 naming the first broken link)",
        description="Walks every chain with the audit key (ONESTOP_AUDIT_KEY or ONESTOP_HOME/audit_key: without "
                    "the key the trail was written with, it cannot be verified; back the key up). Compares the "
                    "chains with the signed checkpoints of the checkpoint file, so a chain whose last events were "
                    "removed (and its head rolled back) is found; events written since the last checkpoint are "
                    "not covered by it.")
    verify.add_argument("--checkpoint", action="append", metavar="FILE",
                        help="a checkpoint file to compare with (repeatable; default: ONESTOP_AUDIT_CHECKPOINTS or "
                             "ONESTOP_HOME/audit-checkpoints when it exists)")
    verify.set_defaults(func=cmd_audit_verify)
    mark = audit.add_parser("checkpoint", help="append a signed checkpoint of every chain whose head moved to the "
                                               "checkpoint file (the timer worker does it every "
                                               "ONESTOP_AUDIT_CHECKPOINT_SECONDS)")
    mark.add_argument("--file", type=Path, help="the checkpoint file (default: ONESTOP_AUDIT_CHECKPOINTS or "
                                                "ONESTOP_HOME/audit-checkpoints)")
    mark.set_defaults(func=cmd_audit_checkpoint)

    pack = sub.add_parser("pack", help="procedure packs").add_subparsers(dest="pack_command", required=True)
    export = pack.add_parser("export", help="write a centre's procedures as a pack (zip with a sha256 manifest)")
    export.add_argument("codes", nargs="*", help="procedure codes (default: all)")
    export.add_argument("--centre", default="default")
    export.add_argument("-o", "--output", required=True)
    export.set_defaults(func=cmd_pack_export)

    cat = sub.add_parser("catalogue", help="a catalogue of procedures").add_subparsers(dest="catalogue_command",
                                                                                      required=True)
    cimp = cat.add_parser("import", help="generate a draft per record of a catalogue file (JSON or XLSX in the "
                                         "national procedures database's shape), lint and test-run each",
                          description="All or nothing: a file with a bad row (missing column, unknown unit, "
                                      "impossible time limit, duplicate code) is reported row by row and nothing "
                                      "is imported. A record imported before updates its draft; a published "
                                      "version is never changed.")
    cimp.add_argument("file")
    cimp.add_argument("--centre", default=None, help="the centre's code (default: the embedded setup's centre)")
    cimp.add_argument("--no-tests", action="store_true", help="do not run the generated tests")
    cimp.add_argument("--publish", action="store_true",
                      help="publish the drafts whose review found no error and whose tests passed")
    cimp.set_defaults(func=cmd_catalogue_import)

    find = sub.add_parser("search", help="the search index of the catalogue and of dossiers by applicant")
    find = find.add_subparsers(dest="search_command", required=True)
    find.add_parser("rebuild", help="make the index again from the tables (it is kept up to date as they change; "
                                    "rebuild after rows were changed by hand in SQL)").set_defaults(func=cmd_search_rebuild)
    dossiers = sub.add_parser("dossiers", help="dossiers").add_subparsers(dest="dossiers_command", required=True)
    dimp = dossiers.add_parser(
        "import", help="bring in the dossiers an old system is still processing (CSV or XLSX), each at its step",
        description="Columns (Vietnamese or English titles): code (mã hồ sơ), procedure (mã thủ tục), applicant "
                    "(người nộp), id number (số giấy tờ), phone (số điện thoại), address (địa chỉ), received "
                    "(ngày tiếp nhận), due (ngày hẹn trả), current step (bước hiện tại: the task's name or element "
                    "id), unit (đơn vị). All or nothing: every bad line is reported and nothing is imported. A "
                    "code imported before is skipped, so running the same file again imports nothing twice.")
    dimp.add_argument("file")
    dimp.add_argument("--centre", default=None, help="the centre's code (default: the embedded setup's centre)")
    dimp.add_argument("--switch-over", default=None,
                      help="the day the centre switches over (YYYY-MM-DD, default today): the imported dossiers "
                           "count in the statistics from then")
    dimp.add_argument("--dry-run", action="store_true", help="check every line and say what would be imported")
    dimp.set_defaults(func=cmd_dossiers_import)

    keys = sub.add_parser("keys", help="the keys that sign results").add_subparsers(dest="keys_command",
                                                                                  required=True)
    make = keys.add_parser("create", help="a centre's signing key and certificate, issued by this installation's "
                                          "local root (made once) under ONESTOP_HOME/signing: the embedded default's")
    make.add_argument("--centre", help="the centre's code (default: the default centre)")
    make.add_argument("--replace", action="store_true", help="make a new key even if the centre has one")
    make.set_defaults(func=cmd_keys_create)

    roll = sub.add_parser("rollout", help="publish a pack as templates and adopt it at many centres")
    roll.add_argument("pack")
    roll.add_argument("--to", required=True, help="nation, province:NN, province:NN/*, or centre codes with commas")
    roll.add_argument("--from", dest="source", default=None,
                      help="the centre that publishes the templates (default: the province for province:NN/*, "
                           "else the nation)")
    roll.add_argument("--force", action="store_true", help="replace versions the centres uploaded themselves")
    roll.add_argument("--verbose", action="store_true", help="a line per centre and procedure")
    roll.set_defaults(func=cmd_rollout)
    return parser


def main(argv=None):
    from .config import SettingsError
    from .services.errors import ServiceError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except SettingsError as exc:  # a setting that cannot be used: named in a line, not a traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ServiceError as exc:  # what a command refuses is said in a line, never as a traceback
        print(f"error: {exc.message}", file=sys.stderr)
        _print_problems(exc.details)
        return 1
    except db.DatabaseUnusable as exc:  # the database not reached, or not usable: the driver's reason, in a line
        reason = next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
        print(f"error: the database could not be used: {reason}", file=sys.stderr)
        return 1
    finally:
        if db.database.obj is not None and not db.database.is_closed():
            db.database.close()
        if argv is None:  # the `onestop` script's call: the process ends with the command
            _keep_start_up()


if __name__ == "__main__":
    sys.exit(main())
