"""At upload and publishing: a built-in HTTP connector whose URL the model writes as a literal string is
checked against the centre's allowed hosts then, not first when a dossier reaches it. URLs computed from
the dossier's data can only be checked when they are called."""

from __future__ import annotations

import ast
import ipaddress
from typing import TYPE_CHECKING

from defusedxml import ElementTree

from .hosts import Allowed, refusal, split_url
from .http import COMMANDS
from .options import ConnectorFailure

if TYPE_CHECKING:
    from ...engine import Problem

SPIFF = "{http://spiffworkflow.org/bpmn/schema/1.0/core}"
BPMN_SUFFIXES = (".bpmn", ".bpmn20.xml", ".xml")


def refused_literal_urls(files, allowed: Allowed) -> list[Problem]:
    """One problem per service task whose literal URL this centre may not call (files: name, content)."""
    # Imported here: the connectors load with every command of the CLI, the engine with those that run it.
    from ...engine import Problem

    problems = []
    for source in files:
        name, content = source.name, source.content
        if not name.lower().endswith(BPMN_SUFFIXES) or b"serviceTaskOperator" not in content:
            continue  # (an element's name is never escaped: a file without this one has no connector call)
        try:
            root = ElementTree.fromstring(content)
        except Exception:  # noqa: BLE001 (the engine's parser has already judged the file; nothing to add)
            continue
        for task in root.iter():
            for operator in task.iter(f"{SPIFF}serviceTaskOperator") if _is_task(task) else ():
                problem = _check(task, operator, allowed)
                if problem:
                    problems.append(Problem(task.get("id"), problem, file=name))
    return problems


def _is_task(element) -> bool:
    return isinstance(element.tag, str) and element.tag.endswith(("}serviceTask", "}sendTask"))


def _check(task, operator, allowed):
    if operator.get("id") not in COMMANDS:
        return None
    for parameter in operator.iter(f"{SPIFF}parameter"):
        if parameter.get("id") != "url":
            continue
        try:
            url = ast.literal_eval((parameter.get("value") or "").strip())
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return None  # an expression of the dossier's data: checked when it is called
        if not isinstance(url, str):
            return None
        try:
            _scheme, host, port, _path = split_url(url)
        except ConnectorFailure as failure:
            return f"service task {task.get('id')!r}: {failure.message}"
        if "SPIFF_SECRET:" in host or allowed.lets_name(host, port) or _listed_address(allowed, host, port):
            return None
        return f"service task {task.get('id')!r} calls {url[:200]!r}: {refusal(host, port)}"
    return None


def _listed_address(allowed, host, port):
    try:
        return allowed.lets_address(ipaddress.ip_address(host.strip("[]")), port)
    except ValueError:
        return False
