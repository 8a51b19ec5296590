"""The layers import each other only downwards; SpiffWorkflow stays inside the engine."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "platform" / "onestop"


def _imports(path):
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = path.relative_to(PACKAGE.parent).with_suffix("").parts[: -node.level]
                base = ".".join(parts + ((node.module,) if node.module else ()))
                names.add(base)
                names.update(f"{base}.{alias.name}" for alias in node.names)
            else:
                names.add(node.module)
    return names


def _modules(sub=""):
    return sorted((PACKAGE / sub).rglob("*.py"))


def _offenders(files, forbidden):
    return {str(f.relative_to(ROOT)): sorted(n for n in _imports(f) if any(n == x or n.startswith(x + ".") for x in forbidden))
            for f in files if any(n == x or n.startswith(x + ".") for n in _imports(f) for x in forbidden)}


def test_only_the_engine_imports_spiffworkflow():
    outside = [f for f in _modules() if "engine" not in f.relative_to(PACKAGE).parts]
    assert _offenders(outside, ["SpiffWorkflow"]) == {}


def test_the_engine_knows_nothing_of_flask_peewee_or_the_layers_above():
    assert _offenders(_modules("engine"), ["flask", "peewee", "playhouse", "onestop.models", "onestop.db",
                                           "onestop.services", "onestop.web", "onestop.app"]) == {}


def test_services_know_nothing_of_the_web():
    assert _offenders(_modules("services"), ["flask", "werkzeug", "onestop.web", "onestop.app", "onestop.cli"]) == {}


def test_models_and_db_sit_at_the_bottom():
    files = [PACKAGE / "models.py", PACKAGE / "db.py"]
    assert _offenders(files, ["onestop.services", "onestop.web", "onestop.engine", "onestop.app", "flask"]) == {}


def test_onestop_never_imports_the_back_office():
    assert _offenders(_modules(), ["onestop_admin"]) == {}


def test_form_definitions_know_nothing_of_flask_peewee_spiffworkflow_or_the_layers_above():
    assert _offenders(_modules("formdefs"), ["flask", "peewee", "SpiffWorkflow", "onestop.models", "onestop.db",
                                             "onestop.services", "onestop.web", "onestop.engine"]) == {}


def test_working_time_is_pure_arithmetic():
    assert _offenders([PACKAGE / "workdays.py", PACKAGE / "text.py"],
                      ["flask", "peewee", "SpiffWorkflow", "onestop.models", "onestop.db", "onestop.services",
                       "onestop.web", "onestop.engine"]) == {}


def test_the_bounded_json_reader_stands_alone_so_every_layer_may_use_it():
    assert _offenders([PACKAGE / "boundedjson.py"], ["flask", "werkzeug", "peewee", "SpiffWorkflow", "onestop"]) == {}


def test_the_status_machine_stands_alone_so_every_layer_may_use_it():
    assert _offenders([PACKAGE / "status.py"], ["flask", "werkzeug", "peewee", "SpiffWorkflow", "onestop"]) == {}
