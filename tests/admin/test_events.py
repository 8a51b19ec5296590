"""Every audit event onestop can write has a Vietnamese name in the back office's one table.

The test reads the source: each call that writes an event (`audit.record(action, ...)`,
`save_step(dossier, step, actor, action, ...)`) and works out the keys its action can be, from a
literal, a conditional, an f-string of literals or a module's table (`ENDINGS[how]`); a function that
passes its caller's action on (`_step(..., action, ...)`) is read at its callers. An action it
cannot work out fails the test too, so a new way of naming events cannot slip past the table."""

import ast
import functools
import importlib
import itertools
from pathlib import Path

import onestop
from onestop_admin.events import EVENT_LABELS, event_label

PACKAGE = Path(onestop.__file__).resolve().parent
PASSED_THROUGH = {"change.action"}  # steps.py writes the action save_step was given: its callers are read


def _keys(node, module) -> set:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        return _keys(node.body, module) | _keys(node.orelse, module)
    if isinstance(node, ast.JoinedStr):
        parts = [_keys(v.value if isinstance(v, ast.FormattedValue) else v, module) for v in node.values]
        return {"".join(p) for p in itertools.product(*parts)}
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
        return set(getattr(importlib.import_module(module), node.value.id).values())
    raise AssertionError(f"{module}: cannot tell which events {ast.unparse(node)} names; write a literal or a table")


def _action(call):
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    owner = func.value.id if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) else None
    if name == "record" and owner in (None, "audit") and call.args:
        return call.args[0]
    if name == "save_step":
        return call.args[3] if len(call.args) > 3 else next((k.value for k in call.keywords if k.arg == "action"), None)
    return None


def _forwarders(tree) -> dict:
    """Functions of a module that write the event their caller names: function name -> the
    position of its parameter that is the action (`def _step(worker, ..., action, detail)`)."""
    forwarders = {}
    for function in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)):
        parameters = [a.arg for a in function.args.args]
        for node in ast.walk(function):
            action = _action(node) if isinstance(node, ast.Call) else None
            if isinstance(action, ast.Name) and action.id in parameters:
                forwarders[function.name] = parameters.index(action.id)
    return forwarders


def _forwarded(call, forwarders, parameter_names):
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    if name not in forwarders:
        return None
    position = forwarders[name]
    if len(call.args) > position:
        return call.args[position]
    return next((k.value for k in call.keywords if k.arg == parameter_names[name]), None)


def written_event_keys() -> dict:
    """Each event key the code can write -> the file that writes it."""
    return dict(_scan())


@functools.cache
def _scan() -> dict:
    # Parsing and walking every module of the package is ~1 s of CPU; the sources do not change during
    # the run, so this file's two tests share one scan (each gets its own copy of the answer).
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        forwarders = _forwarders(tree)
        names = {f.name: f.args.args[forwarders[f.name]].arg for f in ast.walk(tree)
                 if isinstance(f, ast.FunctionDef) and f.name in forwarders}
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            action = _forwarded(node, forwarders, names) or _action(node)
            if action is None or ast.unparse(action) in PASSED_THROUGH:
                continue
            if isinstance(action, ast.Name) and any(action.id == names[f] for f in names):
                continue  # a forwarder's own parameter: its callers are read
            for key in _keys(action, module):
                found.setdefault(key, str(path.relative_to(PACKAGE)))
    return found


def test_every_event_key_written_anywhere_has_a_vietnamese_label():
    written = written_event_keys()
    assert len(written) > 40 and {"dossier.started", "dossier.withdrawn", "dossier.retried", "user.sign_in_failed",
                                  "dossier.supplement_requested"} <= set(written)  # the scan sees every kind of call
    missing = {key: where for key, where in written.items() if key not in EVENT_LABELS}
    assert missing == {}, "give these audit events a label in admin/onestop_admin/events.py"


def test_the_table_names_no_event_that_is_never_written_and_shows_an_unknown_key_as_it_is():
    assert sorted(set(EVENT_LABELS) - set(written_event_keys())) == []
    assert event_label("dossier.started") == "Tiếp nhận hồ sơ" and event_label("some.new_event") == "some.new_event"
