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

# -- size: a module holds one concept, a function one step a reader can follow (issue 15) ----------

MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 50
# Known exceptions in web/, to be split, never added to: (module, function) or (module, None) for a
# whole module. The OpenAPI document is a hand-written dict until it is generated from code.
WEB_EXCEPTIONS = {("web/openapi.py", "openapi_document")}


def _too_long(sub):
    """(module, None) for each module of `sub` over MAX_MODULE_LINES lines and (module, function) for
    each function (or method) over MAX_FUNCTION_LINES, paths relative to the package."""
    found = set()
    for path in _modules(sub):
        text, name = path.read_text(), str(path.relative_to(PACKAGE))
        if text.count("\n") > MAX_MODULE_LINES:
            found.add((name, None))
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) \
                    and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES:
                found.add((name, node.name))
    return found


def test_no_service_module_runs_over_500_lines_nor_any_of_its_functions_over_50():
    assert _too_long("services") == set()


def test_the_web_layer_keeps_to_the_same_sizes_but_for_known_exceptions_that_only_shrink():
    assert _too_long("web") - WEB_EXCEPTIONS == set()


def test_the_size_check_finds_a_long_function_and_a_long_module(tmp_path, monkeypatch):
    body = "".join(f"    x = {i}\n" for i in range(MAX_FUNCTION_LINES - 1))  # with its `def`: the most allowed
    (tmp_path / "long").mkdir()
    (tmp_path / "long" / "one.py").write_text(f"def long():\n{body}    x = 0\n" + "\n" * MAX_MODULE_LINES)
    (tmp_path / "long" / "two.py").write_text(f"def short():\n{body}" + "\n" * (MAX_MODULE_LINES - 60))
    monkeypatch.setattr(f"{__name__}.PACKAGE", tmp_path)
    assert _too_long("long") == {("long/one.py", None), ("long/one.py", "long")}
