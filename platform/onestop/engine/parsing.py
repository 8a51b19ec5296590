"""Uploaded files -> a checked, parsed model, or a list of problems in plain words.

Every BPMN/DMN byte goes through `xml.parse_xml`; expressions and timers written for other
engines are translated (`translate`); scripts and expressions are checked against the sandbox's
rules; then the dialect's SpiffWorkflow parser builds the specs.
"""

import copy
import hashlib
import json
import pickle
import threading
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from cachetools import LRUCache
from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.spiff.parser.process import VALIDATOR as SPIFF_VALIDATOR

from .. import boundedjson
from . import cron, datastores, diagram, dialects, failures, feel, prechecks, serial
from .budgets import Budgets, check_timer, literal
from .messages import start_messages
from .problems import ModelError, Problem
from .sandbox import check_expression, check_script
from .service_tasks import PARSERS as SERVICE_AWARE_PARSERS
from .service_tasks import SERVICE_TAGS, Refusal, ServiceDefinition, operator_problem
from .service_tasks import describe as describe_service
from .translate import Untranslatable, translate_expression, translate_timer
from .xml import parse_xml

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
NS = {"bpmn": BPMN_NS, "spiffworkflow": SPIFF_NS, "camunda": CAMUNDA_NS}
# Plain BPMN keeps the standard's semantics (a message payload merges into the catching task's
# data); the SpiffArena and Camunda dialects add their extensions on top. Each dialect's parser
# builds service tasks as onestop's (engine.service_tasks).
PARSERS = SERVICE_AWARE_PARSERS
META_NAMES = {"procedure.json", "process_model.json"}
RESERVED_IDS = {"Start", "End", "Root"}
TIMER_KINDS = {"timeDuration": "duration", "timeDate": "date", "timeCycle": "cycle"}
FLOW_NODE_TAGS = {
    "startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent",
    "task", "userTask", "manualTask", "scriptTask", "serviceTask", "sendTask", "receiveTask",
    "businessRuleTask", "callActivity", "subProcess", "transaction", "adHocSubProcess",
    "exclusiveGateway", "inclusiveGateway", "parallelGateway", "eventBasedGateway", "complexGateway",
}


@dataclass
class SourceFile:
    name: str
    content: bytes
    kind: str = ""


@dataclass
class ParsedModel:
    """What a procedure version needs at run time, derived only from its files."""

    content_hash: str
    dialect: str
    start_kind: str
    start_id: str
    process_ids: list
    spec_json: str
    messages: dict
    has_scripts: bool
    forms: dict = field(default_factory=dict)  # uploaded form files by name; the services layer compiles them
    form_refs: dict = field(default_factory=dict)  # element id -> what its BPMN says about its form
    element_forms: dict = field(default_factory=dict)  # element id -> form name, once compiled
    instructions: dict = field(default_factory=dict)  # element id -> Markdown for the person doing it
    diagram: dict | None = None  # the BPMN DI as data (engine.diagram), for the public tracking page
    metadata: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)
    spec: object = None
    subprocess_specs: dict = None

    _STORED = ("content_hash", "dialect", "start_kind", "start_id", "process_ids", "spec_json", "messages",
               "has_scripts", "forms", "form_refs", "element_forms", "instructions", "diagram", "metadata", "warnings")

    FORMAT = 5  # 2: forms compiled, element_forms; 3: instructions; 4: diagram; 5: service tasks wait (service_tasks)

    def start_messages(self) -> list:
        """The names of the messages its process starts with (engine.messages.start_messages)."""
        return start_messages(self.spec)

    def elements(self) -> dict:
        """Each BPMN element with an id, of the process and its subprocesses: id -> {name, type, lane}
        (for comparing two versions)."""
        out = {}
        for spec in [self.spec, *(self.subprocess_specs or {}).values()]:
            for task in (spec.task_specs.values() if spec is not None else ()):
                bpmn_id = getattr(task, "bpmn_id", None)
                if bpmn_id:
                    out[bpmn_id] = {"name": getattr(task, "bpmn_name", None) or "", "type": type(task).__name__,
                                    "lane": getattr(task, "lane", None)}
        return out

    def element_details(self) -> dict:
        """elements(), with what else a version may change on an element: its form's name, the
        instructions shown to the officer, a gateway's outgoing conditions (target id -> expression,
        "default" for the default flow) and the elements it leads to. For comparing two versions."""
        out = {}
        for spec in [self.spec, *(self.subprocess_specs or {}).values()]:
            if spec is None:
                continue
            by_name = {t.name: getattr(t, "bpmn_id", None) or t.name for t in spec.task_specs.values()}
            for task in spec.task_specs.values():
                bpmn_id = getattr(task, "bpmn_id", None)
                if not bpmn_id:
                    continue
                conditions = {by_name.get(target, target): _expression(condition)
                              for condition, target in getattr(task, "cond_task_specs", None) or ()}
                default = getattr(task, "default_task_spec", None)
                if default:
                    conditions[by_name.get(default, default)] = "default"
                out[bpmn_id] = {"name": getattr(task, "bpmn_name", None) or "", "type": type(task).__name__,
                                "lane": getattr(task, "lane", None),
                                "form": self.element_forms.get(bpmn_id) or self.form_refs.get(bpmn_id),
                                "instructions": self.instructions.get(bpmn_id) or "",
                                "conditions": conditions,
                                "outputs": sorted(by_name.get(t.name, t.name) for t in task.outputs)}
        return out

    def dead_ends(self, implicit_ends: bool = False) -> list:
        """Elements (by BPMN id) from which no path reaches an end event: a dossier there would never
        finish (an unbounded loop without a way out), or a branch stops short. With implicit_ends, an
        element without an outgoing flow counts as an end, as BPMN lets it (the path ends there):
        what is left cannot finish at all."""
        stuck = set()
        for spec in [self.spec, *(self.subprocess_specs or {}).values()]:
            if spec is None:
                continue
            before = {}  # task name -> names of the tasks that lead to it
            for task in spec.task_specs.values():
                for child in task.outputs:
                    before.setdefault(child.name, set()).add(task.name)
            reached = [t.name for t in spec.task_specs.values() if t.name == "End" or type(t).__name__ == "EndEvent"
                       or (implicit_ends and not t.outputs)]
            seen = set(reached)
            while reached:  # walk back from every end: whatever is met can finish
                for name in before.get(reached.pop(), ()):
                    if name not in seen:
                        seen.add(name)
                        reached.append(name)
            stuck |= {t.bpmn_id for t in spec.task_specs.values()
                      if getattr(t, "bpmn_id", None) and t.name not in seen}
        return sorted(stuck)

    def pack(self) -> "ParsedModel":
        """Keep what a step seldom reads as compact bytes (this model in place; returned): the diagram
        and, when run time uses the shared spec objects, the spec JSON (compressed; decoded again each
        time they are read), and the forms (JSON text each, decoded the first time a form is asked
        for). A parsed model held in a process's cache then takes about half the memory: the decoded
        diagram and forms were ~50 kB each for a 20-task model, where their bytes are ~2 and ~10 kB."""
        if not isinstance(self._forms, PackedForms):
            self._forms = PackedForms(self._forms)
        if isinstance(self._diagram, dict):
            self._diagram = _pack_json(self._diagram)
        if isinstance(self._spec_json, str) and self.dialect != "camunda" and self.spec is not None:
            # Camunda's steps restore their specs from this text every time (Engine._specs): kept as text.
            self._spec_json = zlib.compress(self._spec_json.encode(), 1)
        return self

    def dumps(self) -> str:
        """Everything but the live spec objects, as JSON: stored once with the version."""
        stored = {name: getattr(self, name) for name in self._STORED}
        stored["forms"] = dict(stored["forms"].items())
        return json.dumps(stored | {"format": self.FORMAT}, ensure_ascii=False)

    @classmethod
    def loads(cls, text: str) -> "ParsedModel | None":
        """A model from `dumps()`, with its specs rebuilt (milliseconds, where parsing takes tens);
        None if it was stored by an older onestop and must be parsed again from its files."""
        stored = json.loads(text)
        if stored.get("format") != cls.FORMAT:
            return None
        model = cls(**{name: value for name, value in stored.items() if name in cls._STORED})
        model.spec, model.subprocess_specs = serial.restore_specs(model.dialect, model.spec_json)
        return model


def _pack_json(value) -> bytes:
    return zlib.compress(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode(), 1)


def _unpack_json(packed: bytes):
    return json.loads(zlib.decompress(packed))


class PackedForms(Mapping):
    """A model's forms (name -> form definition as data) kept as JSON text, each decoded the first
    time it is read and then kept: what a step reads is the same object every time (the form
    validators are cached by the schema's identity, formdefs.schema), and a form no step of this
    process asks for stays a few hundred bytes."""

    __slots__ = ("_texts", "_decoded")

    def __init__(self, forms: dict):
        self._texts = {name: json.dumps(form, ensure_ascii=False, separators=(",", ":")).encode()
                       for name, form in forms.items()}
        self._decoded = {}

    def __getitem__(self, name):
        form = self._decoded.get(name)
        if form is None:
            form = self._decoded.setdefault(name, json.loads(self._texts[name]))  # KeyError: no such form
        return form

    def __iter__(self):
        return iter(self._texts)

    def __len__(self):
        return len(self._texts)

    def __contains__(self, name):
        return name in self._texts

    def __repr__(self):
        return f"PackedForms({sorted(self._texts)!r})"


def _packed_field(name: str, unpack) -> property:
    """A ParsedModel attribute whose value pack() may keep as bytes: read, it is the value itself."""
    slot = "_" + name

    def get(self):
        value = self.__dict__.get(slot)
        return unpack(value) if unpack is not None and isinstance(value, bytes) else value

    def set(self, value):
        self.__dict__[slot] = value

    return property(get, set, doc=f"{name} (kept packed by ParsedModel.pack)")


# A dataclass field's class attribute replaced by a property: __init__ assigns through it.
ParsedModel.diagram = _packed_field("diagram", _unpack_json)
ParsedModel.spec_json = _packed_field("spec_json", lambda packed: zlib.decompress(packed).decode())
ParsedModel.forms = _packed_field("forms", None)  # PackedForms is a mapping already: never bytes


def _expression(condition) -> str:
    """A gateway condition's expression text (SpiffWorkflow wraps it in an operator object)."""
    args = getattr(condition, "args", None)
    return str(args[0]) if args else str(condition)


def classify(name: str) -> str:
    lower = name.lower().rsplit("/", 1)[-1]
    if lower in META_NAMES:
        return "meta"
    if lower.startswith("test_") and lower.endswith(".json"):
        return "test"  # a SpiffArena BPMN unit test (engine.unittests), not a form
    if lower.endswith((".bpmn", ".bpmn20.xml", ".bpmn2")):
        return "bpmn"
    if lower.endswith(".dmn"):
        return "dmn"
    if lower.endswith((".json", ".form")):
        return "form"
    return "other"


def content_hash(files) -> str:
    """What the model runs on: every file but its unit tests, which change no dossier."""
    digest = hashlib.sha256()
    for f in sorted((f for f in files if classify(f.name) != "test"), key=lambda f: f.name):
        digest.update(f.name.encode() + b"\0" + hashlib.sha256(f.content).digest())
    return digest.hexdigest()


def _local(tag) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _owner_id(node):
    """The id of the nearest ancestor (or self) that has one: the element a problem belongs to."""
    while node is not None:
        if node.get("id"):
            return node.get("id")
        node = node.getparent()
    return None


def _owner(node):
    """The element a node of its extensionElements belongs to."""
    while node is not None and (etree.QName(node).namespace != BPMN_NS or _local(node.tag) == "extensionElements"):
        node = node.getparent()
    return node


def _describe(node):
    return f"{_local(node.tag)} {node.get('id')}" if node is not None and node.get("id") else "element"


def _uses_namespace(root, namespace) -> bool:
    prefix = "{" + namespace + "}"
    for node in root.iter():
        if isinstance(node.tag, str) and node.tag.startswith(prefix):
            return True
        if any(key.startswith(prefix) for key in node.attrib):
            return True
    return False


class _Checker:
    """Walks BPMN trees: rewrites foreign expressions in place, records problems and warnings."""

    def __init__(self, known_forms, budgets: Budgets | None = None):
        self.budgets = budgets or Budgets()
        self.problems = []
        self.warnings = []
        self.has_scripts = False
        self.known_forms = known_forms
        self.form_refs = {}
        self.instructions = {}
        self.read_the_clock = False  # a written timer date or cycle was checked against the time now

    def problem(self, node, message, file):
        self.problems.append(Problem(_owner_id(node), message, file))

    def warn(self, node, message, file):
        self.warnings.append(Problem(_owner_id(node), message, file))

    def check_tree(self, root, file):
        self._check_references(root, file)
        self._check_lanes(root, file)
        for node in root.iter():
            if not isinstance(node.tag, str):
                continue
            ns, tag = etree.QName(node).namespace, etree.QName(node).localname
            if self._foreign(node, file):
                continue
            if node.get("id") in RESERVED_IDS and tag in FLOW_NODE_TAGS:
                self.problem(node, f"{tag} id {node.get('id')!r} is reserved by the engine; rename it", file)
            if ns == BPMN_NS and tag == "script" and node.getparent() is not None:
                self._script(node.getparent(), node.text or "", file)
            elif ns == SPIFF_NS and tag in ("preScript", "postScript"):
                self._script(node.getparent().getparent(), node.text or "", file)
            elif ns == BPMN_NS and tag in ("conditionExpression", "condition", "loopCardinality",
                                            "completionCondition", "loopCondition"):
                self._expression(node, file)
                if tag == "loopCardinality":
                    self._cardinality(node, file)
            elif ns == BPMN_NS and tag in ("timeDuration", "timeDate", "timeCycle"):
                self._timer(node, file)
            elif ns == SPIFF_NS and tag == "messagePayload":
                self._expression(node, file)
            elif (ns == BPMN_NS and tag == "messagePath") or (
                    ns == SPIFF_NS and tag == "expression"
                    and _local(node.getparent().tag) == "processVariableCorrelation"):
                self._correlation_expression(node, file)
            elif ns == SPIFF_NS and tag == "property" and node.get("name") in (
                    "formJsonSchemaFilename", "formUiSchemaFilename"):
                self._form_reference(node, file)
            elif ns == BPMN_NS and tag in ("userTask", "startEvent") and node.get("id"):
                self._camunda_form(node)
                self._instructions(node)
            if ns == BPMN_NS and tag in SERVICE_TAGS:
                self._service(node, file)
            elif ns == SPIFF_NS and tag == "serviceTaskOperator":
                self._operator_elsewhere(node, file)

    def _foreign(self, node, file) -> bool:
        """Camunda code for its Java engine (other script languages, listeners) is refused (True);
        what only needs another spelling here is rewritten in place, with a warning (engine.dialects)."""
        refused = dialects.refusals(node)
        for message in refused:
            self.problem(node, message, file)
        for message in dialects.rewrites(node) + dialects.warnings(node):
            self.warn(node, message, file)
        return bool(refused)

    def check_decisions(self, root, file):
        """Translate a DMN file's FEEL cells in place (engine.feel); refuse those it cannot read."""
        problems, warnings = feel.rewrite_decisions(root, file)
        self.problems.extend(problems)
        self.warnings.extend(warnings)

    def _check_references(self, root, file):
        ids = {n.get("id") for n in root.iter() if isinstance(n.tag, str) and n.get("id")}
        for flow in root.iter(f"{{{BPMN_NS}}}sequenceFlow"):
            for attr, word in (("sourceRef", "source"), ("targetRef", "target")):
                ref = flow.get(attr)
                if not ref:
                    self.problem(flow, f"sequenceFlow {flow.get('id')} has no {word}", file)
                elif ref not in ids:
                    self.problem(flow, f"sequenceFlow {flow.get('id')} has no {word}: "
                                       f"{ref!r} does not exist in the model", file)

    def _check_lanes(self, root, file):
        """In a process drawn with lanes, a task outside every lane would be offered to nobody in particular."""
        for process in root.iter(f"{{{BPMN_NS}}}process"):
            lanes = list(process.iter(f"{{{BPMN_NS}}}lane"))
            if not lanes:
                continue
            placed = {(ref.text or "").strip() for lane in lanes for ref in lane.iter(f"{{{BPMN_NS}}}flowNodeRef")}
            for node in process:
                if not isinstance(node.tag, str) or node.get("id") in placed:
                    continue
                if etree.QName(node).localname in ("userTask", "manualTask", "task"):
                    self.warn(node, f"{_describe(node)} is in no lane; it will be offered without one", file)

    def _service(self, node, file):
        """A service task either names what onestop can serve or is refused in plain words."""
        found = describe_service(node)
        if isinstance(found, Refusal):
            self.problem(node, f"{_describe(node)} {found.message}", file)
        elif isinstance(found, ServiceDefinition):
            for name, expression in found.params.items():
                problem = check_expression(expression)
                if problem:
                    self.problem(node, f"{_describe(node)}: {found.kind} parameter {name} {expression!r}: {problem}", file)
            for parameter in node.iterfind(f"{{{BPMN_NS}}}extensionElements/{{{CAMUNDA_NS}}}inputOutput/*"):
                if len(parameter) or etree.QName(parameter).localname == "outputParameter":
                    self.warn(node, f"{_describe(node)}: {etree.QName(parameter).localname} "
                                    f"{parameter.get('name')!r} is not used (a worker gets the task's data and "
                                    "the input parameters written as text or ${...})", file)

    def _operator_elsewhere(self, node, file):
        """A connector on another kind of task: SpiffWorkflow still reads it (and would fail on it)."""
        owner = _owner(node)
        if owner is not None and _local(owner.tag) not in SERVICE_TAGS:
            problem = operator_problem(node)
            if problem:
                self.problems.append(Problem(owner.get("id"), f"{_describe(owner)} {problem}", file))

    def _script(self, owner, text, file):
        self.has_scripts = True
        problem = check_script(text)
        if problem:
            self.problem(owner, f"{_describe(owner)}: {problem}", file)

    def _expression(self, node, file):
        text = (node.text or "").strip()
        if text:
            self._rewrite(node, node.getparent(), text, translate_expression, "expression", file)

    def _correlation_expression(self, node, file):
        """A message correlation's expression (a correlation property's retrieval expression, or
        SpiffArena's process variable correlation): checked and translated like any expression,
        named by the correlation property or the catching event it belongs to."""
        text = (node.text or "").strip()
        owner = next((a for a in node.iterancestors() if a.get("id") and _local(a.tag) in (
            "correlationProperty", "intermediateCatchEvent", "startEvent", "boundaryEvent", "receiveTask",
            "intermediateThrowEvent", "endEvent", "sendTask")), node.getparent())
        if text:
            self._rewrite(node, owner, text, translate_expression, "correlation expression", file)

    def _timer(self, node, file):
        text = (node.text or "").strip()
        event = node.getparent().getparent()
        if not text:
            self.problem(event, f"{_describe(event)}: timer has no value", file)
        elif self._rewrite(node, event, text, translate_timer, "timer", file):
            # A value written in the model is checked now; one computed by an expression, when it is.
            value = literal(node.text or "")
            if value is not None:
                if etree.QName(node).localname != "timeDuration" or cron.is_cron(str(value).strip()):
                    self.read_the_clock = True  # a date or a cycle is judged against now (check_timer)
                problem = check_timer(TIMER_KINDS[etree.QName(node).localname], value, self.budgets)
                if problem:
                    self.problem(event, f"{_describe(event)}: timer {text!r}: {problem}", file)

    def _cardinality(self, node, file):
        value = literal(node.text or "")
        limit = self.budgets.max_instances
        if isinstance(value, int) and not isinstance(value, bool) and value > limit:
            task = node.getparent().getparent()
            self.problem(task, f"{_describe(task)}: multi-instance cardinality {value} is more than the "
                               f"{limit} instances allowed", file)

    def _rewrite(self, node, owner, text, translate, what, file) -> bool:
        """Translate what another engine wrote into Python, check it, and put it in place; False
        if it cannot be used."""
        try:
            python, translated = translate(text)
        except Untranslatable as exc:
            self.problem(owner, f"{_describe(owner)}: cannot translate {what} {text!r}: {exc}", file)
            return False
        problem = check_expression(python)
        if problem:
            self.problem(owner, f"{_describe(owner)}: {what} {text!r}: {problem}", file)
            return False
        if translated:
            node.text = python
            self.warn(owner, f"{_describe(owner)}: {what} {text!r} read as {python}", file)
        return True

    def _form_reference(self, node, file):
        name = node.get("value") or ""
        task = node.getparent().getparent().getparent()
        if name and name not in self.known_forms:
            self.problem(task, f"{_describe(task)} refers to form {name!r} that does not exist", file)
        elif name and task is not None and task.get("id"):
            kind = "schema" if node.get("name") == "formJsonSchemaFilename" else "ui"
            ref = self.form_refs.setdefault(task.get("id"), {"element": _local(task.tag)})
            ref[kind] = name

    def _instructions(self, node):
        """What the model tells the person doing a task: SpiffArena's instructionsForEndUser, else
        the element's documentation (Camunda Modeler's and other tools')."""
        found = node.find(f"{{{BPMN_NS}}}extensionElements/{{{SPIFF_NS}}}instructionsForEndUser")
        if found is None:
            found = node.find(f"{{{BPMN_NS}}}documentation")
        text = (found.text or "").strip() if found is not None else ""
        if text:
            self.instructions[node.get("id")] = text[:20000]

    def _camunda_form(self, node):
        """camunda:formKey and camunda:formData of a user task or start event, as plain data."""
        ref = {}
        key = node.get(f"{{{CAMUNDA_NS}}}formKey")
        if key:
            ref["key"] = key
        data = node.find(f"{{{BPMN_NS}}}extensionElements/{{{CAMUNDA_NS}}}formData")
        if data is not None:
            ref["fields"] = [_form_field(f) for f in data.iter(f"{{{CAMUNDA_NS}}}formField")]
        if ref:
            self.form_refs.setdefault(node.get("id"), {"element": _local(node.tag)}).update(ref)


def _form_field(node) -> dict:
    c = f"{{{CAMUNDA_NS}}}"
    return {
        "id": node.get("id") or "",
        "label": node.get("label") or "",
        "type": node.get("type") or "string",
        "default": node.get("defaultValue"),
        "options": [{"id": v.get("id") or "", "name": v.get("name") or ""} for v in node.iter(f"{c}value")],
        "validation": {v.get("name") or "": v.get("config") for v in node.iter(f"{c}constraint")},
        "properties": {p.get("id") or "": p.get("value") or "" for p in node.iter(f"{c}property")},
    }


def _spiff_problem(exc, default_file):
    return failures.parse_problem(exc, default_file)  # no object repr, no Python exception's text


_validator = None


def _xsd_warnings(root, file):
    """Schema problems are warnings: a model SpiffWorkflow can run must still be accepted."""
    global _validator
    if _validator is None:
        _validator = SPIFF_VALIDATOR if SPIFF_VALIDATOR is not None else BpmnValidator()
    try:
        _validator.validate(copy.deepcopy(root), file)
    except ValidationException as exc:
        return [Problem(None, f"{file} does not follow the BPMN schema (line {exc.line_number}): {exc.args[0]}", file)]
    return []


def _choose_dialect(roots, has_dmn):
    if any(_uses_namespace(r, SPIFF_NS) for r in roots):
        return "spiff"
    if any(_uses_namespace(r, CAMUNDA_NS) for r in roots):
        return "camunda"
    return "spiff" if has_dmn else "bpmn"


def _build(dialect, bpmn_roots, dmn_roots):
    parser = PARSERS[dialect]()
    if dmn_roots and not hasattr(parser, "add_dmn_xml"):
        raise ModelError([Problem(None, "decision tables (DMN) need the SpiffArena or Camunda extensions")])
    for name, root in dmn_roots:
        parser.add_dmn_xml(copy.deepcopy(root), filename=name)
    for name, root in bpmn_roots:
        parser.add_bpmn_xml(copy.deepcopy(root), filename=name)
    return parser


def _called_processes(roots):
    called = set()
    for _name, root in roots:
        for node in root.iter(f"{{{BPMN_NS}}}callActivity"):
            if node.get("calledElement"):
                called.add(node.get("calledElement"))
    return called


def _select_start(parser, bpmn_roots, requested):
    executable = parser.get_process_ids()
    every = list(parser.process_parsers)
    collaborations = dict(parser.collaborations)
    if requested:
        if requested in collaborations:
            return "collaboration", requested
        if requested in executable:
            return "process", requested
        if requested in every:
            raise ModelError([Problem(requested, f"process {requested} is not executable (isExecutable=\"false\")")])
        names = ", ".join(executable + list(collaborations)) or "none"
        raise ModelError([Problem(None, f"no process or collaboration with id {requested!r}; available: {names}")])
    if not executable and not every:
        names = [name for name, _root in bpmn_roots]
        raise ModelError([Problem(None, f"the model has no process to run: {', '.join(names)} "
                                        f"{'holds' if len(names) == 1 else 'hold'} no process",
                                  names[0] if names else None)])
    if not executable:
        # Name them: a modeller's new diagram is isExecutable="false" until someone says otherwise.
        raise ModelError([Problem(every[0], f"the model has no executable process: {', '.join(every)} "
                                            f"{'has' if len(every) == 1 else 'have'} isExecutable=\"false\"; "
                                            "set isExecutable=\"true\" on the process to run")])
    called = _called_processes(bpmn_roots)
    ordered = [pid for _n, root in bpmn_roots for pid in
               (p.get("id") for p in root.iter(f"{{{BPMN_NS}}}process")) if pid in executable]
    starting = [pid for pid in ordered if pid not in called]
    if not starting and ordered and not _called_by_executable(bpmn_roots, executable):
        # A descriptive model's call targets (their isExecutable defaults to true) are no process to run.
        raise ModelError([Problem(every[0], f"the model has no executable process of its own: {', '.join(ordered)} "
                                            f"{'is' if len(ordered) == 1 else 'are'} only called from processes with "
                                            "isExecutable=\"false\"; set isExecutable=\"true\" on the process to run")])
    return "process", (starting or ordered or executable)[0]


def _called_by_executable(roots, executable) -> bool:
    """Whether a call activity of an executable process calls another process of the model."""
    return any(node.get("calledElement") for _name, root in roots for process in root.iter(f"{{{BPMN_NS}}}process")
               if process.get("id") in executable for node in process.iter(f"{{{BPMN_NS}}}callActivity"))


def _load_json(f, problems):
    # Uploaded files are read like request bodies: bounded depth, finite numbers, real characters.
    try:
        return boundedjson.loads(f.content)
    except boundedjson.Refused as exc:
        problems.append(Problem(None, f"{f.name}: {exc.message}", f.name))
        return None


# Parse results of accepted models, by everything that decides them (the files' names, kinds and
# bytes and the parse's options): the same files checked again in this process (a draft's review,
# unit tests, practice steps and publication; a template's diagram; a rollout to several centres; an
# unchanged re-upload) are parsed once. A result is kept as pickled bytes (compressed, ~8 kB for a
# bundled procedure) and every caller gets new objects from them, its specs rebuilt from the spec
# JSON as a fresh parse rebuilds them (compile_model changes what it is given). A model whose written
# timer dates or cycles were judged against the time now, and a refused one, are never kept.
PARSED_CACHE_SIZE = 64
_parsed: LRUCache = LRUCache(PARSED_CACHE_SIZE)
_parsed_lock = threading.Lock()


def _parse_key(files, process_id, max_bytes, library_forms, budgets) -> bytes:
    digest = hashlib.sha256(repr((process_id, max_bytes, sorted(library_forms), budgets)).encode())
    for f in files:
        digest.update(b"\0%d\0%s\0%s\0" % (len(f.name), f.name.encode(), f.kind.encode()))
        digest.update(hashlib.sha256(f.content).digest())
    return digest.digest()


def _from_parsed(kept: bytes) -> "ParsedModel":
    model = ParsedModel(**pickle.loads(zlib.decompress(kept)))
    model.spec, model.subprocess_specs = serial.restore_specs(model.dialect, model.spec_json)
    return model


def parse_model(files, process_id=None, max_bytes=5 * 1024 * 1024, library_forms=(), budgets: Budgets | None = None):
    """Check and parse a procedure's files; return a ParsedModel or raise ModelError. Timers and
    multi-instance cardinalities written in the model are checked against `budgets`. An accepted
    model's result is kept in the process (see PARSED_CACHE_SIZE): the same files parse once."""
    files = [SourceFile(f.name.rsplit("/", 1)[-1], f.content, classify(f.name)) for f in files
             if classify(f.name) != "test"]  # unit tests are run beside the model, not parsed into it
    key = _parse_key(files, process_id, max_bytes, library_forms, budgets or Budgets())
    with _parsed_lock:  # (cachetools' caches are not safe across threads)
        kept = _parsed.get(key)
    if kept is not None:
        return _from_parsed(kept)
    model, read_the_clock = _parse_files(files, process_id, max_bytes, library_forms, budgets)
    if not read_the_clock:
        kept = zlib.compress(pickle.dumps({name: getattr(model, name) for name in ParsedModel._STORED},
                                          pickle.HIGHEST_PROTOCOL), 1)
        with _parsed_lock:
            _parsed[key] = kept
    return model


def _parse_files(files, process_id, max_bytes, library_forms, budgets):
    """parse_model's work on its files: (the ParsedModel, whether a check read the time now)."""
    problems, forms, metadata = [], {}, {}
    for f in files:
        if f.kind == "other":
            problems.append(Problem(None, f"{f.name}: unsupported file type (expected .bpmn, .dmn or .json)", f.name))
        elif f.kind == "form":
            data = _load_json(f, problems)
            if data is not None:
                forms[f.name] = data
        elif f.kind == "meta":
            data = _load_json(f, problems)
            if isinstance(data, dict):
                # SpiffArena's process_model.json and onestop's procedure.json may stand side by side (the
                # modeller writes lanes and deadlines into onestop's): both are read, onestop's key by key.
                metadata = metadata | data if f.name.lower() == "procedure.json" else data | metadata
            elif data is not None:
                problems.append(Problem(None, f"{f.name} must hold a JSON object", f.name))
    bpmn_files = [f for f in files if f.kind == "bpmn"]
    if not bpmn_files:
        problems.append(Problem(None, "no BPMN file was uploaded"))
    if problems:
        raise ModelError(problems)

    bpmn_roots, dmn_roots = [], []
    for f in files:
        if f.kind in ("bpmn", "dmn"):
            try:
                root = parse_xml(f.content, f.name, max_bytes)
            except ModelError as exc:
                problems.extend(exc.problems)
                continue
            (bpmn_roots if f.kind == "bpmn" else dmn_roots).append((f.name, root))
    if problems:
        raise ModelError(problems)

    checker = _Checker(known_forms=set(forms) | set(library_forms), budgets=budgets)
    for name, root in bpmn_roots:
        if etree.QName(root).localname != "definitions" or etree.QName(root).namespace != BPMN_NS:
            problems.append(Problem(None, f"{name} is not a BPMN 2.0 document (root element is {etree.QName(root).localname})", name))
            continue
        checker.check_tree(root, name)
    for name, root in dmn_roots:
        checker.check_decisions(root, name)
    problems.extend(checker.problems)
    store_problems, store_warnings = datastores.problems(bpmn_roots)  # SpiffArena data stores: lookup tables
    problems.extend(store_problems)
    field_problems, field_warnings = prechecks.check(bpmn_roots, dmn_roots)  # what SpiffWorkflow would crash on
    problems.extend(field_problems)
    if problems:
        raise ModelError(problems)

    warnings = list(checker.warnings) + store_warnings + field_warnings
    for name, root in bpmn_roots:
        warnings.extend(_xsd_warnings(root, name))

    # A SpiffArena process-model folder names its process to start in process_model.json.
    process_id = process_id or metadata.get("primary_process_id") or None
    preferred = _choose_dialect([r for _n, r in bpmn_roots], bool(dmn_roots))
    attempts = [preferred] + [d for d in PARSERS if d != preferred]
    first_problems = None
    for dialect in attempts:
        try:
            parser = _build(dialect, bpmn_roots, dmn_roots)
            start_kind, start_id = _select_start(parser, bpmn_roots, process_id)
            for other in parser.get_process_ids():  # every executable process must be sound, not just the started one
                parser.get_spec(other)
            if start_kind == "collaboration":
                spec, subprocess_specs = parser.get_collaboration(start_id)
            else:
                spec = parser.get_spec(start_id)
                subprocess_specs = parser.get_subprocess_specs(start_id)
            spec_json = serial.dump_spec(dialect, spec, subprocess_specs)
            break
        except ModelError as exc:
            first_problems = first_problems or exc.problems
        except Exception as exc:  # SpiffWorkflow reports model errors with many exception types
            first_problems = first_problems or [_spiff_problem(exc, bpmn_files[0].name)]
    else:
        raise ModelError(first_problems)

    messages = {mid: (name or mid) for mid, name in parser.messages.items()}
    # Run time uses specs rebuilt the way SpiffWorkflow rebuilds them when it loads a workflow: the
    # parser's own objects wire some callbacks lazily (a multi-instance task merges its children
    # only once it has started in this process), which a workflow loaded mid-way would never get.
    spec, subprocess_specs = serial.restore_specs(dialect, spec_json)
    model = ParsedModel(
        content_hash=content_hash(files),
        dialect=dialect,
        start_kind=start_kind,
        start_id=start_id,
        process_ids=parser.get_process_ids(),
        spec_json=spec_json,
        messages=messages,
        has_scripts=checker.has_scripts,
        forms=forms,
        form_refs=checker.form_refs,
        instructions=checker.instructions,
        diagram=diagram.extract([r for _n, r in bpmn_roots]),
        metadata=metadata,
        warnings=[w.as_dict() for w in warnings],
        spec=spec,
        subprocess_specs=subprocess_specs,
    )
    return model, checker.read_the_clock
