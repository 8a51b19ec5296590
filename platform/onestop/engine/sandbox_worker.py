"""Child process that runs untrusted BPMN scripts, and the rules shared with the parent.

The parent (:mod:`onestop.engine.sandbox`) starts this file as a separate interpreter::

    python -I sandbox_worker.py --memory-mb 256 --max-response-bytes 16777216

and talks to it over its stdin/stdout, one JSON document per line:

* request  ``{"script": str, "data": {...}, "extra": {...}}``
* response ``{"ok": true, "data": {...}}`` or
  ``{"ok": false, "error": "plain message", "line": N or null, "kind": "NameError" or null,
  "restart": bool}``

Right after start the worker sets resource limits (address space, no new files or
processes, no core dumps) and answers ``{"ready": true}``. Scripts are checked by
:func:`check_script`, compiled with RestrictedPython and run with a small set of
builtins; task data is the script's global namespace. No memory address reaches a
script: ``id`` and ``hash`` do not exist, and the text made by ``str``, ``repr``,
f-strings, ``%`` and the arguments of caught exceptions has the " at 0x..." of default
reprs cut out.

This module must import only the standard library and RestrictedPython: it runs with
``-I`` (no ``PYTHONPATH``, no script directory on ``sys.path``), so nothing from
``onestop`` is available in the child, and the parent imports the static checks from
here so both sides apply the same rules.
"""

from __future__ import annotations

import ast
import datetime as _dt
import functools
import json
import operator
import os
import re
import sys
import traceback
import warnings

from RestrictedPython import RestrictingNodeTransformer, compile_restricted, safe_builtins
from RestrictedPython.Eval import default_guarded_getitem
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr,
)

MAX_SCRIPT_LENGTH = 100_000
MAX_RANGE = 1_000_000
MAX_ERROR_LENGTH = 2_000
MAX_REQUEST_BYTES = 64 * 1024 * 1024
SCRIPT_FILENAME = "<script>"

# Calls the static checks refuse everywhere. None of these names exists at run time
# either, so a model that slips past the check still fails with a NameError.
FORBIDDEN_CALLS = frozenset(
    {
        "eval",
        "exec",
        "compile",
        "open",
        "getattr",
        "setattr",
        "delattr",
        "globals",
        "locals",
        "vars",
        "__import__",
        "type",
        "breakpoint",
        "input",
        "memoryview",
        "help",
        "dir",
        "exit",
        "quit",
        # id() is a memory address and hash() of most objects is derived from one.
        "id",
        "hash",
    }
)

# " at 0x7f26ade70ae0" in the default repr of functions, iterators, bound methods...
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def without_addresses(text: str) -> str:
    """``text`` with the memory addresses of default reprs ("<function f at 0x7f...>") cut out."""
    return _ADDRESS.sub("", text) if " at 0x" in text else text


def bounded_range(*args: int) -> range:
    """``range`` that refuses to describe more than ``MAX_RANGE`` numbers."""
    result = range(*args)
    if len(result) > MAX_RANGE:
        raise ValueError(f"range() is limited to {MAX_RANGE} numbers")
    return result


# The functions offered to scripts on top of RestrictedPython's safe_builtins; the
# expression evaluator offers the same names (some with tighter size guards).
SAFE_FUNCTIONS = {
    "len": len,
    "str": str,
    "int": int,
    "float": float,
    "bool": bool,
    "abs": abs,
    "min": min,
    "max": max,
    "sum": sum,
    "round": round,
    "sorted": sorted,
    "reversed": reversed,
    "enumerate": enumerate,
    "zip": zip,
    "any": any,
    "all": all,
    "list": list,
    "dict": dict,
    "set": set,
    "tuple": tuple,
    "range": bounded_range,
    "datetime": _dt.datetime,
    "date": _dt.date,
    "timedelta": _dt.timedelta,
}


# --------------------------------------------------------------------------- static checks


def _line_suffix(line: int | None) -> str:
    return f" (line {line})" if line else ""


def format_problem(message: str, line: int | None) -> str:
    """Return ``message`` with ``(line N)`` appended when the line is known."""
    return message + _line_suffix(line)


def find_name_problems(tree: ast.AST, kind: str) -> tuple[str, int | None] | None:
    """Return the first forbidden name, attribute or call in ``tree`` as (message, line).

    ``kind`` is "scripts" or "expressions" and only changes the wording.
    """
    for node in ast.walk(tree):
        line = getattr(node, "lineno", None)
        if isinstance(node, ast.Import | ast.ImportFrom):
            return f"import is not allowed in {kind}", line
        if isinstance(node, ast.Name) and node.id.startswith("_") and node.id != "_":
            return f"names starting with '_' are not allowed in {kind}: {node.id}", line
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            return f"attributes starting with '_' are not allowed in {kind}: .{node.attr}", line
        if isinstance(node, ast.Attribute) and node.attr in ("format", "format_map"):
            # str.format can reach attributes of its arguments; RestrictedPython blocks it too.
            return f".{node.attr}() is not allowed in {kind}; use an f-string or %", line
        if isinstance(node, ast.arg) and node.arg.startswith("_") and node.arg != "_":
            return f"names starting with '_' are not allowed in {kind}: {node.arg}", line
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("_"):
            return f"names starting with '_' are not allowed in {kind}: {node.name}", line
        if isinstance(node, ast.keyword) and node.arg and node.arg.startswith("_"):
            return f"keyword arguments starting with '_' are not allowed in {kind}: {node.arg}", line
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FORBIDDEN_CALLS:
            return f"calling {node.func.id}() is not allowed in {kind}", line
    return None


def find_script_problem(text: str) -> tuple[str, int | None] | None:
    """Return why ``text`` may not run as a script, as (message, line), or None."""
    if not isinstance(text, str):
        return "a script must be text", None
    # Checked before the cache so that huge texts are never kept as cache keys.
    if len(text) > MAX_SCRIPT_LENGTH:
        return f"the script is too long ({len(text)} characters, at most {MAX_SCRIPT_LENGTH})", None
    return _find_script_problem(text)


@functools.lru_cache(maxsize=256)
def _find_script_problem(text: str) -> tuple[str, int | None] | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(text, SCRIPT_FILENAME, "exec")
    except SyntaxError as err:
        return f"syntax error: {err.msg}", err.lineno
    except (ValueError, RecursionError, MemoryError) as err:
        return f"the script cannot be read: {err.__class__.__name__}", None
    problem = find_name_problems(tree, "scripts")
    if problem:
        return problem
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            return "class definitions are not allowed in scripts", node.lineno
        if isinstance(node, ast.AsyncFunctionDef | ast.Await | ast.AsyncFor | ast.AsyncWith):
            return "async code is not allowed in scripts", node.lineno
        if isinstance(node, ast.Global | ast.Nonlocal):
            return "global and nonlocal are not allowed in scripts", node.lineno
    # RestrictedPython has a few more rules (e.g. no augmented assignment to items);
    # asking it here keeps the upload check identical to what the worker will accept.
    code, message, line = compile_restricted_with_errors(text)
    if code is None:
        return message, line
    return None


def check_script(text: str) -> str | None:
    """Return a plain-language reason why ``text`` may not run as a script, or None.

    Refuses syntax errors, ``import``, names and attributes starting with ``_``,
    calls of eval/exec/open/getattr/type/... (see ``FORBIDDEN_CALLS``), class
    definitions, async code, global/nonlocal, and whatever RestrictedPython refuses.
    """
    problem = find_script_problem(text)
    return format_problem(*problem) if problem else None


@functools.lru_cache(maxsize=128)
def _restricted_compile(text: str):
    """Compile with RestrictedPython, cached by source text (used in the worker only)."""
    return compile_restricted_with_errors(text)


def _call(name: str, args: list, like: ast.AST) -> ast.Call:
    call = ast.Call(func=ast.Name(id=name, ctx=ast.Load()), args=args, keywords=[])
    for node in ast.walk(call):
        ast.copy_location(node, like)
    return call


class _AddressFreeTransformer(RestrictingNodeTransformer):
    """RestrictedPython's rules, plus: text made by f-strings and ``%`` and the messages of caught
    exceptions pass through :func:`without_addresses`, so no memory address reaches a script
    (``str`` and ``repr`` do the same, see SCRIPT_BUILTINS)."""

    def visit_FormattedValue(self, node):
        node = self.node_contents_visit(node)
        node.value = _call("_text_", [node.value], node.value)
        return node

    def visit_BinOp(self, node):
        node = self.node_contents_visit(node)
        if isinstance(node.op, ast.Mod):
            return _call("_mod_", [node.left, node.right], node)
        return node

    def visit_ExceptHandler(self, node):
        node = super().visit_ExceptHandler(node)
        if node.name:
            scrub = ast.Assign(targets=[ast.Name(id=node.name, ctx=ast.Store())],
                               value=_call("_scrub_", [ast.Name(id=node.name, ctx=ast.Load())], node))
            node.body.insert(0, ast.copy_location(scrub, node))
            ast.copy_location(scrub.targets[0], node)
        return node


def compile_restricted_with_errors(text: str):
    """Compile ``text`` with RestrictedPython and turn its errors into (None, message, line)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            code = compile_restricted(text, SCRIPT_FILENAME, "exec", policy=_AddressFreeTransformer)
    except SyntaxError as err:
        # RestrictedPython raises SyntaxError(tuple of 'Line N: message' strings).
        errors = err.args[0] if err.args else None
        if isinstance(errors, tuple | list) and errors:
            return (None, *_split_line_prefix(str(errors[0])))
        return None, f"syntax error: {err.msg}", err.lineno
    return code, None, None


_LINE_PREFIX = re.compile(r"^Line (\d+): (.*)$", re.DOTALL)


def _split_line_prefix(message: str) -> tuple[str, int | None]:
    match = _LINE_PREFIX.match(message)
    if match:
        return match.group(2), int(match.group(1))
    return message, None


# --------------------------------------------------------------------------- run time


class _DiscardPrint:
    """Stands in for RestrictedPython's PrintCollector and throws the output away."""

    def __init__(self, _getattr_=None):
        pass

    def write(self, text):
        pass

    def __call__(self):
        return ""

    def _call_print(self, *objects, **kwargs):
        pass


_INPLACE_OPERATORS = {
    "+=": operator.iadd,
    "-=": operator.isub,
    "*=": operator.imul,
    "/=": operator.itruediv,
    "//=": operator.ifloordiv,
    "%=": operator.imod,
    "**=": operator.ipow,
    "<<=": operator.ilshift,
    ">>=": operator.irshift,
    "&=": operator.iand,
    "|=": operator.ior,
    "^=": operator.ixor,
    "@=": operator.imatmul,
}


def _inplacevar(op: str, target, value):
    if op == "%=":
        return _text_mod(target, value)
    return _INPLACE_OPERATORS[op](target, value)


_PLAIN_SCALARS = (str, int, float, bool, type(None), _dt.date, _dt.time, _dt.timedelta)


class _StrType(type):
    def __instancecheck__(cls, value):
        return isinstance(value, str)

    def __subclasscheck__(cls, kind):
        return issubclass(kind, str)


class _AddressFreeStr(str, metaclass=_StrType):
    """``str`` for scripts: the same type for isinstance() and its methods, but str(x) of an
    object whose default text holds a memory address gives that text without it."""

    def __new__(cls, value="", *args, **kwargs):
        if args or kwargs or isinstance(value, str):
            return str(value, *args, **kwargs)
        return without_addresses(str(value))


_AddressFreeStr.__name__ = _AddressFreeStr.__qualname__ = "str"


def _repr_without_addresses(value) -> str:
    return without_addresses(repr(value))


def _text_for_format(value):
    # Plain values keep their own formatting (f"{n:>5}"); anything else becomes its text.
    return value if isinstance(value, _PLAIN_SCALARS) else without_addresses(str(value))


def _text_mod(left, right):
    result = left % right
    return without_addresses(result) if isinstance(result, str) else result


def _scrub_exception(err):
    """A caught exception whose text arguments hold no memory address (a copy when needed)."""
    args = tuple(without_addresses(a) if isinstance(a, str) else a for a in err.args)
    if args == err.args:
        return err
    try:
        return type(err)(*args)
    except Exception:
        return Exception(*args)


def _apply(function, *args, **kwargs):
    return function(*args, **kwargs)


def _build_builtins() -> dict:
    result = dict(safe_builtins)
    # Consistency with check_script: nothing it refuses may exist at run time.
    for name in ("__build_class__", "_getattr_", "setattr", "delattr", "getattr", "id", "hash"):
        result.pop(name, None)
    result.update(SAFE_FUNCTIONS)
    result["str"] = _AddressFreeStr
    result["repr"] = _repr_without_addresses
    return result


SCRIPT_BUILTINS = _build_builtins()


class ScriptResultError(Exception):
    """A script left a value in task data that cannot be stored as JSON."""


def _json_default(value):
    if isinstance(value, _dt.datetime | _dt.date):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def encode_data(data: dict) -> str:
    """Encode script results as JSON (datetime/date become ISO strings, tuples lists).

    Any other value that JSON cannot hold (sets, timedelta, objects) is refused with
    ScriptResultError naming the variable, instead of being dropped silently.
    """
    try:
        return json.dumps(data, default=_json_default, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError) as err:
        for key, value in data.items():
            try:
                json.dumps(value, default=_json_default)
            except (TypeError, ValueError) as inner:
                raise ScriptResultError(
                    f"variable '{key}' holds a value that cannot be stored in task data "
                    f"({_describe_encode_error(inner)}); convert it to text, a number, a list or a dict"
                ) from None
        raise ScriptResultError(f"the script result cannot be stored in task data ({err})") from None


def _describe_encode_error(err: Exception) -> str:
    if isinstance(err, TypeError) and err.args and isinstance(err.args[0], str) and " " not in err.args[0]:
        return f"a {err.args[0]}"
    return str(err)


def _clean_result(namespace: dict, data: dict, extra: dict, hidden: dict) -> dict:
    result = {}
    for key, value in namespace.items():
        if not isinstance(key, str) or key.startswith("_") or key in extra:
            continue
        if callable(value) or isinstance(value, type(sys)):
            continue
        result[key] = value
    # Names from extra are shadowed during the script but never written back.
    for key in extra:
        if key in data:
            result[key] = data[key]
    result.update(hidden)
    return result


def _error_line(err: BaseException) -> int | None:
    line = None
    for frame in traceback.extract_tb(err.__traceback__):
        if frame.filename == SCRIPT_FILENAME:
            line = frame.lineno
    if isinstance(err, SyntaxError) and line is None:
        line = err.lineno
    return line


def _describe(err: BaseException) -> str:
    try:
        text = str(err)
    except Exception:
        text = ""
    message = f"{err.__class__.__name__}: {without_addresses(text)}" if text else err.__class__.__name__
    if len(message) > MAX_ERROR_LENGTH:
        message = message[:MAX_ERROR_LENGTH] + "…"
    return message


_NAME_ERROR = re.compile(r"name '(.+)' is not defined")


def run_request(request: dict) -> dict:
    """Run one request in this process and return the response document.

    Only the worker process may call this: the script runs with the process's full
    memory and time, which only the worker's resource limits and the parent's
    timeout bound.
    """
    script = request.get("script")
    data = request.get("data") or {}
    extra = request.get("extra") or {}
    if not isinstance(data, dict) or not isinstance(extra, dict):
        return {"ok": False, "error": "bad request: data and extra must be objects", "line": None}
    problem = find_script_problem(script)
    if problem:
        return {"ok": False, "error": format_problem(*problem), "line": problem[1]}
    code, message, line = _restricted_compile(script)
    if code is None:
        return {"ok": False, "error": format_problem(message, line), "line": line}

    hidden = {k: v for k, v in data.items() if k.startswith("_")}
    namespace = {k: v for k, v in data.items() if not k.startswith("_")}
    namespace.update(extra)
    namespace.update(
        {
            "__builtins__": SCRIPT_BUILTINS,
            "__name__": "script",
            "_getattr_": safer_getattr,
            "_getitem_": default_guarded_getitem,
            "_getiter_": iter,
            "_write_": full_write_guard,
            "_inplacevar_": _inplacevar,
            "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
            "_unpack_sequence_": guarded_unpack_sequence,
            "_apply_": _apply,
            "_print_": _DiscardPrint,
            "_text_": _text_for_format,
            "_mod_": _text_mod,
            "_scrub_": _scrub_exception,
        }
    )
    try:
        exec(code, namespace)  # noqa: S102 - RestrictedPython code, in the sandboxed worker
    except MemoryError:
        return {"ok": False, "error": "script stopped: memory limit exceeded", "line": None, "restart": True}
    except RecursionError as err:
        return {"ok": False, "error": format_problem(_describe(err), _error_line(err)),
                "line": _error_line(err), "kind": "RecursionError"}
    except Exception as err:
        line = _error_line(err)
        if isinstance(err, NameError) and _NAME_ERROR.match(str(err)):
            # SpiffWorkflow parses exactly this wording for its "did you mean" hint
            # (and breaks on other NameError texts, e.g. UnboundLocalError's).
            return {"ok": False, "error": format_problem(str(err), line), "line": line, "kind": "NameError"}
        return {"ok": False, "error": format_problem(_describe(err), line), "line": line}
    return {"ok": True, "data": _clean_result(namespace, data, extra, hidden)}


def _set_limits(memory_mb: int) -> None:
    import resource

    def limit(name: str, value: int) -> None:
        which = getattr(resource, name, None)
        if which is None:
            return
        try:
            resource.setrlimit(which, (value, value))
        except (ValueError, OSError):
            # NPROC cannot be lowered below the current count on some systems;
            # the other limits still hold.
            pass

    limit("RLIMIT_AS", memory_mb * 1024 * 1024)
    limit("RLIMIT_CORE", 0)
    limit("RLIMIT_FSIZE", 0)
    limit("RLIMIT_NOFILE", 16)
    limit("RLIMIT_NPROC", 0)


def _preload() -> None:
    # Imports that datetime/str methods make lazily would need to open files,
    # which RLIMIT_NOFILE may forbid later.
    import _strptime  # noqa: F401
    import calendar  # noqa: F401
    import locale  # noqa: F401

    _dt.datetime.strptime("2024-01-02", "%Y-%m-%d")
    compile_restricted("x = [a for a in range(2)]\nprint(x)\n", SCRIPT_FILENAME, "exec")


def main(argv: list[str] | None = None) -> int:
    """Serve requests from stdin until it closes."""
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--memory-mb", type=int, default=256)
    parser.add_argument("--max-response-bytes", type=int, default=16 * 1024 * 1024)
    args = parser.parse_args(argv)

    warnings.simplefilter("ignore")
    # Keep private handles on the pipes and point fds 0/1 at /dev/null, so nothing a
    # script manages to print can corrupt the protocol.
    requests = os.fdopen(os.dup(0), "rb")
    responses = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.close(devnull)

    _preload()
    _set_limits(args.memory_mb)

    def send(document: dict) -> None:
        try:
            payload = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
        except (TypeError, ValueError) as err:
            payload = json.dumps({"ok": False, "error": f"the script result cannot be sent ({err})", "line": None})
        raw = payload.encode("utf-8", "replace") + b"\n"
        if len(raw) > args.max_response_bytes:
            raw = json.dumps(
                {
                    "ok": False,
                    "error": f"the script result is too large ({len(raw)} bytes, at most {args.max_response_bytes})",
                    "line": None,
                }
            ).encode() + b"\n"
        responses.write(raw)
        responses.flush()

    send({"ready": True})
    while True:
        line = requests.readline(MAX_REQUEST_BYTES)
        if not line:
            return 0
        restart = False
        try:
            request = json.loads(line)
            response = run_request(request) if isinstance(request, dict) else {
                "ok": False, "error": "bad request", "line": None}
            if response.get("ok"):
                encoded = encode_data(response["data"])
                response = None
                raw_ok = '{"ok":true,"data":' + encoded + "}"
                if len(raw_ok) + 1 > args.max_response_bytes:
                    send({"ok": False, "error": "the script result is too large "
                          f"(more than {args.max_response_bytes} bytes)", "line": None})
                else:
                    responses.write(raw_ok.encode("utf-8", "replace") + b"\n")
                    responses.flush()
                continue
            restart = bool(response.get("restart"))
            send(response)
        except ScriptResultError as err:
            send({"ok": False, "error": str(err), "line": None})
        except MemoryError:
            restart = True
            send({"ok": False, "error": "script stopped: memory limit exceeded", "line": None, "restart": True})
        except (ValueError, RecursionError) as err:
            send({"ok": False, "error": f"the script result cannot be stored ({_describe(err)})", "line": None})
        if restart:
            return 1


if __name__ == "__main__":
    sys.exit(main())
