"""What a process pays to start: a command or a server on SQLite (the embedded default) does not import
PostgreSQL's drivers, and peewee, handed them when a PostgreSQL database is opened, holds what its own
import would have given it (onestop/__init__.py, onestop.db.postgresql_drivers)."""

import json
import os
import subprocess
import sys

DRIVERS = ("psycopg", "psycopg2", "psycopg2cffi")

# What the drivers' presence changes in peewee and playhouse.postgres_ext: every module-level name (the
# drivers, their types and functions, or peewee's stand-ins) and the attributes of peewee's adapters
# (their transaction states), each described by what it is and where it was defined.
_FINGERPRINT = r"""
import inspect, json, re, sys
import peewee
from playhouse import postgres_ext

def what(value):
    if inspect.ismodule(value):
        return f"module {value.__name__}"
    kind = type(value)
    named = getattr(value, "__qualname__", getattr(value, "__name__", repr(value) if kind in (int, str) else ""))
    return re.sub(" at 0x[0-9a-f]+", "", f"{kind.__module__}.{kind.__qualname__}:{getattr(value, '__module__', None)}.{named}")

print(json.dumps({
    "peewee": {name: what(value) for name, value in vars(peewee).items() if not name.startswith("__")},
    "postgres_ext": {name: what(value) for name, value in vars(postgres_ext).items() if not name.startswith("__")},
    "adapters": {cls.__name__: {name: what(value) for name, value in vars(cls).items() if name.startswith("txn_")}
                 for cls in vars(peewee).values() if inspect.isclass(cls) and cls.__name__.endswith("Adapter")},
}))
"""


def _python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, ONESTOP_DATABASE_URL=""))
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_command_and_a_web_process_on_sqlite_import_no_postgresql_driver(tmp_path):
    """Importing both drivers was 0.11 s of CPU of each command's and server's start (a quarter of an
    `onestop init`), for a database they never open."""
    shown = _python(
        "import os, sys\n"
        f"os.environ['ONESTOP_HOME'] = {str(tmp_path)!r}\n"
        "from onestop import cli\n"
        "assert cli.main(['init']) == 0\n"
        "from onestop.app import create_app, import_modules\n"
        "import_modules(True)\n"  # the web layer, the admin (wtfpeewee) and the simulators, as a server's master
        f"print(sorted(m for m in {DRIVERS!r} if m in sys.modules))\n")
    assert shown.splitlines()[-1] == "[]"


def test_peewee_handed_the_drivers_holds_what_its_own_import_gives_it():
    plain = json.loads(_python("import psycopg, psycopg2\n" + _FINGERPRINT))
    assert plain["peewee"]["psycopg"] == "module psycopg"  # the drivers are installed here
    assert plain["adapters"]["Psycopg3Adapter"]["txn_idle"]
    handed = json.loads(_python(
        "import sys\n"
        "import onestop.db\n"
        f"assert not [m for m in {DRIVERS!r} if m in sys.modules]\n"
        "onestop.db.open_database('postgresql://nobody@127.0.0.1:9/none')\n"  # made, not connected
        "assert onestop.db._PipelinedCursor.__mro__[1] is sys.modules['psycopg'].Cursor\n"
        + _FINGERPRINT))
    assert handed == plain


def test_the_drivers_are_handed_over_once():
    shown = _python(
        "import onestop.db, peewee\n"
        "onestop.db.postgresql_drivers()\n"
        "first = (peewee.psycopg, peewee.Json_pg3, onestop.db._PipelinedCursor)\n"
        "onestop.db.postgresql_drivers()\n"
        "print((peewee.psycopg, peewee.Json_pg3, onestop.db._PipelinedCursor) == first)\n")
    assert shown.strip() == "True"


def test_a_server_makes_a_simulator_and_its_state_at_its_first_request_only(tmp_path, sqlite_url, engine):
    """Most servers that mount the simulators (the embedded default) never call them: each web process
    made all three at its start (~45 ms of CPU), and the master their state (~0.13 s on a first start)."""
    from tests.conftest import _close_pool, _make_app, _release

    app = _make_app(sqlite_url, tmp_path, engine, simulators=True)
    try:
        key = tmp_path / "home" / "simulators" / "identity" / "signing-key.json"
        assert not key.exists()
        client = app.test_client()
        jwks = client.get("/simulators/identity/jwks")
        assert jwks.status_code == 200
        assert [k["kid"] for k in jwks.get_json()["keys"]] == [json.loads(key.read_text())["kid"]]
        assert client.get("/simulators/identity/jwks").get_json() == jwks.get_json()  # the same app, made once
    finally:
        _close_pool()
        _release(app)
