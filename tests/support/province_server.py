"""One `onestop serve` shared by a test module: province 22's communes imported, so that each test
can take communes of its own and see nothing of another test's dossiers, users or procedures.

A server's start costs ~3 s of CPU; a module that needs a real server process (two web workers)
but not a fresh database per test starts one per database kind with this and hands each test its
own communes (`next(served.communes)`).
"""

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from tests.support.postgres import admin_url_or_skip, drop_test_database
from tests.support.servers import onestop_serve


class ProvinceServer(NamedTuple):
    url: str  # the database's
    base: str  # the server's
    env: dict  # the environment it runs with (for CLI commands against the same home and database)
    log: Path
    communes: Iterator[str]  # codes of province 22's communes, each to be taken by one test


@contextlib.contextmanager
def province_server(kind: str, folder: Path, database_templates, engine):
    """A migrated database of `kind` ("sqlite" or "postgresql") holding province 22's units, served
    by `onestop serve` with two workers and no timer thread; the database goes with the server."""
    from onestop.models import Centre
    from onestop.services import centres
    from tests.conftest import _close_pool, _make_app, make_user  # the suite's own app factory

    if kind == "sqlite":
        url = database_templates.sqlite(folder / "onestop.db")
    else:
        url = database_templates.postgres(admin_url_or_skip())
    with _make_app(url, folder / "setup", engine).app_context():
        system, _ = make_user("system", ("system_admin",))
        centres.import_units(system, [22])
        communes = iter([c.code for c in Centre.select(Centre.code).where(Centre.level == "commune")
                         .order_by(Centre.code)])
    _close_pool()
    try:
        with onestop_serve(folder, ONESTOP_DATABASE_URL=url, ONESTOP_TIMER_THREAD="0",
                           ONESTOP_WEB_WORKERS="2") as (base, _home, env, log):
            yield ProvinceServer(url, base, env, log, communes)
    finally:
        _close_pool()
        if kind == "postgresql":
            drop_test_database(url)
