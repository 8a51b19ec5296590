"""SpiffWorkflow's and Python's exceptions told in plain words, naming the element they are about.

SpiffWorkflow's own messages are meant for people, but some carry a Python object's repr
(`<Element {ns}targetRef at 0x7f…>`): `plain` puts the element's tag in its place. A Python
exception that is not SpiffWorkflow's (a KeyError, IndexError, TypeError … from inside its parser
or runtime, or SpiffWorkflow wrapping one as `TypeError("…")`) says nothing an administrator can
act on and may leak the code's internals: `parse_problem` and `run_failure` name the element that
was being parsed or run instead, and leave the technical detail to the server log.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.specs.base import TaskSpec
from SpiffWorkflow.task import Task

from .problems import Problem

log = logging.getLogger("onestop.engine")

_REPR = re.compile(r"<Element (?:\{[^}<>]*\})?([^\s<>{}]+) at 0x[0-9a-fA-F]+>")
_ANY_REPR = re.compile(r"<[^<>]* at 0x[0-9a-fA-F]+>")


def plain(text: str) -> str:
    """`text` with every object repr replaced: an XML element's by its tag, any other by 'an object'."""
    return _ANY_REPR.sub("an object", _REPR.sub(lambda m: m.group(1), str(text)))


def technical(exc) -> str:
    """The exception and where it was raised, on one line for the server log (a traceback there
    would read as a crash of the server, which this is not)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    where = f" at {tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}" if tb is not None else ""
    return f"{type(exc).__name__}: {exc}{where}"[:2000]


def _is_python_fault(exc) -> bool:
    return not isinstance(exc, SpiffWorkflowException)


def _wrapped_fault(exc):
    """The Python exception SpiffWorkflow's task parser wrapped as ValidationException("%r" % ex)."""
    inner = exc.__context__
    if inner is not None and _is_python_fault(inner) and exc.args and exc.args[0] == repr(inner):
        return inner
    return None


def _innermost(exc, found):
    """What `found(frame_locals)` returns for the innermost frame, outside onestop's own code, that it
    finds something in (onestop's frames hold whole documents, not the element at fault)."""
    result, tb = None, exc.__traceback__
    while tb is not None:
        if not str(tb.tb_frame.f_globals.get("__name__", "")).startswith("onestop."):
            value = found(tb.tb_frame.f_locals)
            if value is not None:
                result = value
        tb = tb.tb_next
    return result


def _parsed_element(frame_locals):
    """(id, 'tag id') of what a frame works on: its parser's XML node, a local XML element, or a
    task spec (a spec the serializer cannot write)."""
    candidates = [getattr(frame_locals.get("self"), "node", None), frame_locals.get("node"),
                  *frame_locals.values()]
    for node in candidates:
        if isinstance(node, etree._Element) and isinstance(node.tag, str) and node.get("id"):
            return node.get("id"), f"{etree.QName(node).localname} {node.get('id')}"
    for value in frame_locals.values():
        if isinstance(value, TaskSpec) and getattr(value, "bpmn_id", None):
            return value.bpmn_id, f"{getattr(value, 'description', None) or 'element'} {value.bpmn_id}"
    return None


def parse_problem(exc, default_file) -> Problem:
    """The problem to show for an exception SpiffWorkflow's parser raised."""
    if isinstance(exc, ValidationException):
        element = getattr(exc, "id", None) or None
        tag = (getattr(exc, "tag", "") or "").replace("bpmn:", "")
        where = f"{tag} {element}" if element else ""
        file = getattr(exc, "file_name", None) or default_file
        inner = _wrapped_fault(exc)
        if inner is not None:
            return _fault(inner, element, where, file)
        line = f" (line {exc.line_number})" if getattr(exc, "line_number", "") else ""
        text = plain(exc.args[0] if exc.args else exc)
        return Problem(element, f"{where + ': ' if where else ''}{text}{line}", file)
    if isinstance(exc, SpiffWorkflowException):
        return Problem(getattr(exc, "id", None) or None, plain(exc.args[0] if exc.args else exc), default_file)
    found = _innermost(exc, _parsed_element)
    if found is not None:
        return _fault(exc, found[0], found[1], default_file)
    return _fault(exc, None, "", default_file)


def _fault(exc, element, where, file) -> Problem:
    log.warning("SpiffWorkflow's parser failed on %s in %s: %s", where or "no element", file, technical(exc))
    if where:
        message = (f"{where} could not be read: the workflow engine does not support it as it is written; check "
                   "its type and its properties against the modeller's documentation, or draw it another way")
    else:
        message = (f"{file} could not be read by the workflow engine: something in it is written in a way the "
                   "engine does not support")
    return Problem(element, message, file)


def _running_task(frame_locals):
    task = frame_locals.get("my_task")
    return task if isinstance(task, Task) else None


def run_failure(exc) -> tuple[str | None, str] | None:
    """(element id, message) for a Python exception raised while running a workflow (None for
    SpiffWorkflow's own exceptions, which say what happened)."""
    if not _is_python_fault(exc):
        return None
    task = _innermost(exc, _running_task)
    spec = task.task_spec if task is not None else None
    element = getattr(spec, "bpmn_id", None) if spec is not None else None
    log.warning("a workflow failed at %s: %s", element or "no element", technical(exc))
    explained = _multi_instance(task) if task is not None else None
    if explained:
        return element, explained
    name = getattr(spec, "bpmn_name", None)
    what = (f"{element} ({name})" if name else element) if element else "a step"
    return element, (f"the workflow engine could not run {what}: it does not support it as the model writes it "
                     "(the details are in the server log); correct the model, then retry or skip the step")


_KINDS = {bool: "yes/no value", int: "number", float: "number", str: "text", dict: "set of named values"}


def _multi_instance(task) -> str | None:
    """A multi-instance task whose collection is missing from the data or is not a list."""
    spec = task.task_spec
    if not isinstance(spec, MultiInstanceTask) or spec.data_input is None:
        return None
    name = spec.data_input.bpmn_id
    value = task.data.get(name)
    if name not in task.data or value is None:
        return (f"{spec.bpmn_id}: its multi-instance collection {name!r} is not in the dossier's data; "
                f"set {name} to a list (one instance runs for each of its items) before this step")
    if not isinstance(value, Iterable | Mapping):
        kind = _KINDS.get(type(value), "single value")
        return (f"{spec.bpmn_id}: its multi-instance collection {name!r} holds a {kind}, not a list; set {name} "
                "to a list (one instance runs for each of its items)")
    return None
