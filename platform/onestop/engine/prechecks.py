"""What SpiffWorkflow's parsers would meet with a Python exception, found before they run.

Models from the field hold things SpiffWorkflow 3.2 does not expect: a reference to a message,
signal, error or escalation the model never defines (its parser then fails with a TypeError of its
own), a boundary event it has no behaviour for (compensation, or no event definition at all: a
NotImplementedError), a Camunda business rule task that names no decision table (a KeyError), a
DMN file of a draft DMN version (an IndexError). `check` turns each into a problem naming the
element or file, what is not supported and what to write instead, or — for a business rule task
of a Camunda model that names neither a decision nor anything else to call (a drawing of work done
by hand) — runs it as a plain task a person marks done, with a warning (SpiffArena and plain BPMN
refuse such a task, and so does onestop for their models).
"""

from __future__ import annotations

from lxml import etree

from .problems import Problem

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
_B, _C = f"{{{BPMN_NS}}}", f"{{{CAMUNDA_NS}}}"

# attribute holding the reference -> (the element it must name, what it is called in a message)
_REFERENCES = {
    "messageRef": "message",
    "signalRef": "signal",
    "errorRef": "error",
    "escalationRef": "escalation",
}
_REFERRING = {
    "messageEventDefinition": "messageRef", "sendTask": "messageRef", "receiveTask": "messageRef",
    "signalEventDefinition": "signalRef", "errorEventDefinition": "errorRef",
    "escalationEventDefinition": "escalationRef",
}
# The event definitions SpiffWorkflow 3.2 runs on a boundary event.
_BOUNDARY_DEFINITIONS = ("cancelEventDefinition", "errorEventDefinition", "escalationEventDefinition",
                         "messageEventDefinition", "signalEventDefinition", "timerEventDefinition",
                         "conditionalEventDefinition")
# DMN namespaces SpiffWorkflow has schemas for (DMN 1.1, 1.2, 1.3).
DMN_NAMESPACES = ("http://www.omg.org/spec/DMN/20151101/dmn.xsd", "http://www.omg.org/spec/DMN/20180521/MODEL/",
                  "https://www.omg.org/spec/DMN/20191111/MODEL/")
_SHOWN = 8  # how many defined ids a message lists
_CUT = 120  # how much of a value from the model a message repeats


def _local(node) -> str:
    return etree.QName(node).localname if isinstance(node.tag, str) else ""


def _cut(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= _CUT else text[:_CUT] + "…"


def _owner(node):
    """The nearest element (self or ancestor) with an id: what a problem is about."""
    while node is not None and not node.get("id"):
        node = node.getparent()
    return node


def _describe(node) -> str:
    return f"{_local(node)} {node.get('id')}" if node is not None and node.get("id") else "an element"


def check(bpmn_roots, dmn_roots) -> tuple[list, list]:
    """Problems and warnings for the uploaded trees ((file name, root) pairs); a business rule task
    that names nothing to do is rewritten in place into a plain task."""
    problems, warnings = [], []
    defined = {kind: set() for kind in _REFERENCES.values()}
    for _name, root in bpmn_roots:
        for kind, ids in defined.items():
            ids.update(n.get("id") for n in root.iter(f"{_B}{kind}") if n.get("id"))
    camunda = _is_camunda([root for _name, root in bpmn_roots])
    for name, root in bpmn_roots:
        for node in root.iter():
            if not isinstance(node.tag, str) or etree.QName(node).namespace != BPMN_NS:
                continue
            tag = _local(node)
            if tag == "businessRuleTask":  # SpiffWorkflow's Camunda parser reads those of every process
                _rule_task(node, name, problems, warnings, camunda)
            elif _drawn_only(node):
                continue
            elif tag in _REFERRING:
                problems.extend(_reference(node, _REFERRING[tag], defined, name))
            elif tag == "boundaryEvent":
                problems.extend(_boundary(node, name))
    for name, root in dmn_roots:
        problems.extend(_dmn(root, name))
    return problems, warnings


def _drawn_only(node) -> bool:
    """In a descriptive process (isExecutable="false"): never run, and refused as such if it is all
    the model has."""
    while node is not None and node.tag != f"{_B}process":
        node = node.getparent()
    return node is not None and (node.get("isExecutable") or "").strip() == "false"


def _reference(node, attribute, defined, file) -> list:
    ref = (node.get(attribute) or "").strip()
    kind = _REFERENCES[attribute]
    if not ref or ref in defined[kind]:
        return []
    owner = _owner(node)
    known = sorted(defined[kind])
    listed = ", ".join(known[:_SHOWN]) + (", …" if len(known) > _SHOWN else "")
    instead = f"refer to one it defines ({listed})" if known else f"the model defines no {kind}"
    return [Problem(owner.get("id") if owner is not None else None,
                    f"{_describe(owner)} refers to the {kind} {_cut(ref)!r}, which the model does not define: add a "
                    f"bpmn:{kind} with id {_cut(ref)!r}, or {instead}", file)]


def _boundary(node, file) -> list:
    found = [_local(d) for d in node.iter() if d is not node and _local(d).endswith("EventDefinition")]
    if any(d in _BOUNDARY_DEFINITIONS for d in found):
        return []
    if "compensateEventDefinition" in found:
        message = (f"{_describe(node)} is a compensation boundary event, which onestop does not run (work that is "
                   "done is not undone by compensation here): draw the undoing as its own path, such as an error "
                   "boundary event or a gateway leading to the task that reverses it")
    elif not found:
        message = (f"{_describe(node)} has no event definition, so nothing can trigger it: give it a timer, "
                   "message, signal, error, escalation or conditional definition, or remove it")
    else:
        message = (f"{_describe(node)}: a {found[0].removesuffix('EventDefinition')} event cannot be caught on a "
                   "task's boundary: use a timer, message, signal, error, escalation or conditional definition")
    return [Problem(node.get("id"), message, file)]


def _is_camunda(roots) -> bool:
    """A model the Camunda dialect parses: it uses Camunda's extensions and not SpiffArena's."""
    def uses(namespace):
        prefix = f"{{{namespace}}}"
        return any(isinstance(n.tag, str) and (n.tag.startswith(prefix) or any(k.startswith(prefix) for k in n.attrib))
                   for root in roots for n in root.iter())
    return uses(CAMUNDA_NS) and not uses(SPIFF_NS)


def _rule_task(node, file, problems, warnings, camunda):
    """A business rule task runs a DMN decision (camunda:decisionRef, spiffworkflow:calledDecisionId)."""
    if node.get(f"{_C}decisionRef") or node.find(f"{_B}extensionElements/{{{SPIFF_NS}}}calledDecisionId") is not None:
        return
    if _drawn_only(node):  # never run; SpiffWorkflow's Camunda parser would still ask for its decision
        if camunda:
            node.tag = f"{_B}task"
        return
    called = None
    if node.get(f"{_C}class"):
        called = f"the Java class {_cut(node.get(f'{_C}class'))}"
    elif node.get(f"{_C}delegateExpression"):
        called = f"the delegate expression {_cut(node.get(f'{_C}delegateExpression'))}"
    elif node.get(f"{_C}expression"):
        called = f"the expression {_cut(node.get(f'{_C}expression'))}"
    elif node.get(f"{_C}type") == "external":
        called = "an external task" + (f" (topic {_cut(node.get(f'{_C}topic'))})" if node.get(f"{_C}topic") else "")
    elif node.get(f"{_C}type"):
        called = f"a Camunda {_cut(node.get(f'{_C}type'))} implementation"
    if called is not None:
        problems.append(Problem(node.get("id"), (
            f"{_describe(node)} calls {called} instead of a decision table, which onestop cannot run: give it "
            "camunda:decisionRef naming a DMN decision uploaded with the model, or make it a service task with "
            "camunda:type=\"external\" and a camunda:topic that an outside worker serves"), file))
        return
    foreign = [k for k in node.attrib if etree.QName(k).localname == "decisionRef" and k != f"{_C}decisionRef"]
    if foreign:  # an old Camunda Modeler wrote Activiti's namespace
        namespace = etree.QName(foreign[0]).namespace or "(none)"
        problems.append(Problem(node.get("id"), (
            f"{_describe(node)} names its decision with a decisionRef of the namespace {_cut(namespace)}, which "
            f"onestop does not read: write it as camunda:decisionRef, with xmlns:camunda=\"{CAMUNDA_NS}\""), file))
        return
    if not camunda:  # SpiffArena runs no business rule task without its decision
        problems.append(Problem(node.get("id"), (
            f"{_describe(node)} names no decision table: give it spiffworkflow:calledDecisionId (SpiffArena) or "
            "camunda:decisionRef (Camunda Modeler) naming a decision of a DMN file uploaded with the model, or "
            "make it a plain task"), file))
        return
    node.tag = f"{_B}task"  # SpiffWorkflow's parser would ask for the decision it does not name
    warnings.append(Problem(node.get("id"), (
        f"businessRuleTask {node.get('id')} names no decision table (camunda:decisionRef); it runs as a plain task "
        "that a person marks done: give it camunda:decisionRef to have a DMN decision decide"), file))


def _dmn(root, file) -> list:
    """SpiffWorkflow reads a DMN file's first decision; a file without one (a draft DMN version spells
    it Decision) is refused naming the file."""
    namespace = etree.QName(root).namespace or ""
    if any(_local(n) == "decision" and etree.QName(n).namespace == namespace for n in root):
        return []
    if namespace not in DMN_NAMESPACES:
        why = f"it is written for the DMN namespace {_cut(namespace) or '(none)'}, which onestop does not read"
    else:
        why = "it holds no decision"
    return [Problem(None, f"{file} holds no decision table onestop can read: {why}; open it in a current Camunda "
                          "Modeler and save it as DMN 1.3, with a decision table", file)]
