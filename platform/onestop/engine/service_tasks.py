"""Service tasks: what a model asks another system to do, classified at upload and left waiting at run time.

The engine does no I/O, so a service task the platform can serve — a Camunda external task
(`camunda:type="external"` with a `camunda:topic`) or a SpiffArena connector call
(`spiffworkflow:serviceTaskOperator`) — stops the workflow the way a receive task does: its task is
left STARTED, and the step reports a `ServiceCall` the services layer carries out (a queue for
external workers, a connector). Each dialect's parser builds these tasks with `ServiceCallTask`
(SpiffArena's own service task would call a script engine hook synchronously; Camunda's and plain
BPMN's cannot even be serialized). A service task that says nothing about how it is done passes
straight through, as a plain task does. Every other form — Java delegates, expressions, Camunda
connectors — is refused at upload by `describe`, naming what it calls and what to use instead.
"""

from dataclasses import dataclass, field

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnParser, full_tag
from SpiffWorkflow.bpmn.parser.event_parsers import SendTaskParser
from SpiffWorkflow.bpmn.parser.TaskParser import TaskParser
from SpiffWorkflow.bpmn.serializer.default.task_spec import BpmnTaskSpecConverter
from SpiffWorkflow.bpmn.specs.mixins.bpmn_spec_mixin import BpmnSpecMixin
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.specs.base import TaskSpec
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.parser.task_spec import SpiffTaskParser
from SpiffWorkflow.spiff.serializer.task_spec import SpiffBpmnTaskConverter
from SpiffWorkflow.spiff.specs.spiff_task import SpiffBpmnTask
from SpiffWorkflow.util.task import TaskState

from .translate import Untranslatable, translate_expression

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
ZEEBE_NS = "http://camunda.org/schema/zeebe/1.0"  # Camunda 8's extensions
# The task tags a Camunda modeller may give an implementation (its "implementation" drop-down).
# A business rule task that calls code instead of a decision is engine.prechecks' to refuse.
SERVICE_TAGS = ("serviceTask", "sendTask")
INSTEAD = ("onestop runs no Java or Camunda expressions; use an external task instead "
           "(camunda:type=\"external\" with a camunda:topic, served by a worker through the external-task API) "
           "or a SpiffArena connector (spiffworkflow:serviceTaskOperator)")
NAME_LIMIT = 255  # a topic's or an operator's length (as stored beside the dossier)
# Where the evaluated call is kept on the task while it waits (it is stored with the workflow).
CALL_KEY = "onestop_service_call"


@dataclass(frozen=True)
class ServiceDefinition:
    """How a service task is done, as the model says: an external task's topic, or a connector's
    operator with its parameters (name -> Python expression over the task's data) and the
    variable its result goes to (None: merged into the task's data)."""

    kind: str  # "external" | "connector"
    name: str  # the topic or the operator
    params: dict = field(default_factory=dict)
    result_variable: str | None = None

    def as_dict(self) -> dict:
        return {"kind": self.kind, "name": self.name, "params": dict(self.params),
                "result_variable": self.result_variable}


@dataclass(frozen=True)
class Refusal:
    """Why a service task cannot run here, in plain words naming what it calls."""

    message: str


@dataclass
class ServiceCall:
    """A call that became pending in a step: what the services layer must do for task `task_id`.

    `topic` (external) or `operator` (connector) names what is called; `params` are the
    connector's parameters evaluated against the task's data (an external task's Camunda input
    parameters are not read: a worker gets the task's variables); `variables` is the task's data
    when the call was made; the result is stored under `result_variable`, or merged into the
    task's data when it is None."""

    task_id: str
    element_id: str
    name: str | None
    kind: str
    topic: str | None
    operator: str | None
    params: dict
    variables: dict
    result_variable: str | None


def _local(node) -> str:
    return etree.QName(node).localname if isinstance(node.tag, str) else ""


def _camunda(node, name):
    return (node.get(f"{{{CAMUNDA_NS}}}{name}") or "").strip()


def describe(node) -> "ServiceDefinition | Refusal | None":
    """What a serviceTask or sendTask element calls: a definition the platform can
    serve, a refusal naming what it calls and what to use instead, or None when it names no
    implementation (a send task throwing a message, a decision table, a plain service task)."""
    tag = _local(node)
    if tag not in SERVICE_TAGS:
        return None
    operator = node.find(f"{{{BPMN_NS}}}extensionElements/{{{SPIFF_NS}}}serviceTaskOperator")
    if operator is not None and tag == "serviceTask":
        return _connector(operator)
    kind = _camunda(node, "type")
    if kind == "external":
        topic = _camunda(node, "topic")
        if not topic:
            return Refusal("is an external task without a topic: give it camunda:topic, the name its workers fetch")
        if len(topic) > NAME_LIMIT:
            return Refusal(f"has a topic longer than {NAME_LIMIT} characters")
        params = input_parameters(node)
        return params if isinstance(params, Refusal) else ServiceDefinition("external", topic, params)
    called = None
    if _camunda(node, "class"):
        called = f"the Java class {_camunda(node, 'class')}"
    elif _camunda(node, "delegateExpression"):
        called = f"the delegate expression {_camunda(node, 'delegateExpression')}"
    elif _camunda(node, "expression"):
        called = f"the expression {_camunda(node, 'expression')}"
    elif kind:
        called = f"a Camunda {kind} implementation"
    elif node.find(f"{{{BPMN_NS}}}extensionElements/{{{ZEEBE_NS}}}taskDefinition") is not None:
        return _job_type(node.find(f"{{{BPMN_NS}}}extensionElements/{{{ZEEBE_NS}}}taskDefinition"))
    else:
        connector = node.find(f"{{{BPMN_NS}}}extensionElements/{{{CAMUNDA_NS}}}connector")
        if connector is not None:
            connector_id = (connector.findtext(f"{{{CAMUNDA_NS}}}connectorId") or "").strip()
            called = f"the Camunda connector {connector_id}" if connector_id else "a Camunda connector"
    if called is None:
        called = _foreign_implementation(node)
    if called is None:
        return None
    return Refusal(f"calls {called}; {INSTEAD}")


_XSI = "http://www.w3.org/2001/XMLSchema-instance"  # xsi:type names the element's XML type, nothing it calls
# What Activiti's and Flowable's modellers write on a service task, in their own namespaces.
_FOREIGN = {"class": "the Java class", "delegateExpression": "the delegate expression",
            "expression": "the expression", "type": "an implementation of type"}


def _foreign_implementation(node) -> str | None:
    """What a service task calls through another engine's extension attributes (activiti:class,
    flowable:expression, ...): never run here, and never to be skipped as if it did nothing."""
    for key, value in node.attrib.items():
        qualified = etree.QName(key)
        if qualified.namespace not in (None, CAMUNDA_NS, _XSI) and qualified.localname in _FOREIGN and value:
            engine = qualified.namespace.rstrip("/").rsplit("/", 1)[-1] or qualified.namespace
            return f"{_FOREIGN[qualified.localname]} {value.strip()[:200]} (in {engine}'s namespace)"
    return None


def input_parameters(node) -> "dict | Refusal":
    """An external task's Camunda input parameters (camunda:inputOutput), name -> Python expression:
    `${...}` translated from JUEL, any other text a string. A worker gets them among its variables, as
    Camunda's local variables. A list, map or script parameter is left out (the upload warns)."""
    params = {}
    path = f"{{{BPMN_NS}}}extensionElements/{{{CAMUNDA_NS}}}inputOutput/{{{CAMUNDA_NS}}}inputParameter"
    for parameter in node.iterfind(path):
        name = (parameter.get("name") or "").strip()
        if not name or len(parameter):
            continue
        text = (parameter.text or "").strip()
        if "${" in text or "#{" in text:
            try:
                params[name] = translate_expression(text)[0]
            except Untranslatable as exc:
                return Refusal(f"has the input parameter {name} {text!r} that cannot be read: {exc}")
        else:
            params[name] = repr(parameter.text or "")
    return params


def _job_type(definition) -> "ServiceDefinition | Refusal":
    """A Camunda 8 job (zeebe:taskDefinition): served as an external task whose topic is its job type."""
    job_type = (definition.get("type") or "").strip()
    if not job_type:
        return Refusal("is a Camunda 8 job (zeebe:taskDefinition) without a type")
    if job_type.startswith("="):
        return Refusal(f"is a Camunda 8 job whose type is the expression {job_type!r}; give it a fixed type, "
                       "the topic its workers fetch")
    if len(job_type) > NAME_LIMIT:
        return Refusal(f"has a job type longer than {NAME_LIMIT} characters")
    return ServiceDefinition("external", job_type)


def operator_problem(operator) -> str | None:
    """What SpiffWorkflow could not read in a spiffworkflow:serviceTaskOperator, in plain words (it
    would fail on it with a KeyError or a ValueError), or None."""
    name = (operator.get("id") or "").strip()
    if not name:
        return "has a connector (spiffworkflow:serviceTaskOperator) without an operator id"
    if len(name) > NAME_LIMIT:
        return f"has a connector operator id longer than {NAME_LIMIT} characters"
    for parameter in operator.iter(f"{{{SPIFF_NS}}}parameter"):
        if "value" in parameter.attrib and not (parameter.get("id") or "").strip():
            return f"has a parameter of connector {name} without an id"
        if "value" in parameter.attrib and "type" not in parameter.attrib:
            return f"has the parameter {parameter.get('id')} of connector {name} without a type"
    for retry in operator.iter(f"{{{SPIFF_NS}}}retry"):
        for attribute in ("retries", "backoff_base"):
            value = retry.get(attribute)
            if value is not None and not value.strip().isdigit():
                return f"has a connector retry {attribute} {value!r} that is not a whole number"
    return None


def _connector(operator) -> "ServiceDefinition | Refusal":
    problem = operator_problem(operator)
    if problem:
        return Refusal(problem)
    name = operator.get("id").strip()
    # As SpiffArena reads them: a parameter without a value is left out.
    params = {p.get("id").strip(): p.get("value") for p in operator.iter(f"{{{SPIFF_NS}}}parameter")
              if "value" in p.attrib}
    result_variable = (operator.get("resultVariable") or "").strip() or None
    if result_variable is not None and len(result_variable) > NAME_LIMIT:
        return Refusal(f"has a result variable longer than {NAME_LIMIT} characters")
    return ServiceDefinition("connector", name, params, result_variable)


# ------------------------------------------------------------------------------------------- specs

class ServiceCallMixin:
    """A service task left STARTED until the services layer reports the call's outcome
    (`Engine.complete_service` or `Engine.fail_service`). `service` is ServiceDefinition.as_dict(),
    or None for a task that names no implementation and just runs on."""

    def __init__(self, wf_spec, bpmn_id, service=None, **kwargs):
        super().__init__(wf_spec, bpmn_id, **kwargs)
        self.service = service

    def _run_hook(self, my_task):
        if not self.service:
            return True
        engine = my_task.workflow.script_engine
        params = {name: engine.evaluate(my_task, expression) for name, expression in self.service["params"].items()}
        my_task.internal_data[CALL_KEY] = {"params": params}
        return None  # STARTED: the workflow waits for the call's outcome


class ServiceCallTask(ServiceCallMixin, BpmnSpecMixin):
    """A service task of a plain BPMN or Camunda model."""


class SpiffServiceCallTask(ServiceCallMixin, SpiffBpmnTask):
    """A service task of a SpiffArena model (with its pre- and post-scripts)."""


class ServiceCallTaskConverter(BpmnTaskSpecConverter):
    def to_dict(self, spec):
        return self.get_default_attributes(spec) | {"service": spec.service}


class SpiffServiceCallTaskConverter(SpiffBpmnTaskConverter):
    def to_dict(self, spec):
        return super().to_dict(spec) | {"service": spec.service}


CONVERTERS = {"bpmn": {ServiceCallTask: ServiceCallTaskConverter},
              "camunda": {ServiceCallTask: ServiceCallTaskConverter},
              "spiff": {SpiffServiceCallTask: SpiffServiceCallTaskConverter}}


def is_waiting_call(task) -> bool:
    """A task whose service call is pending."""
    return task.state == TaskState.STARTED and isinstance(task.task_spec, ServiceCallMixin) \
        and bool(task.task_spec.service)


def call_of(task, json_safe) -> ServiceCall:
    """The pending call of a STARTED service task."""
    spec: TaskSpec = task.task_spec
    service = spec.service
    params = task.internal_data.get(CALL_KEY, {}).get("params", {})
    external = service["kind"] == "external"
    return ServiceCall(
        task_id=str(task.id), element_id=spec.bpmn_id, name=spec.bpmn_name, kind=service["kind"],
        topic=service["name"] if external else None, operator=None if external else service["name"],
        params=json_safe(params), variables=json_safe(task.data), result_variable=service["result_variable"],
    )


def merge_result(task, result):
    """Put a call's result into the task's data: under its result variable, else merged (a dict)."""
    variable = task.task_spec.service.get("result_variable")
    if variable:
        task.data[variable] = result
    elif isinstance(result, dict):
        task.data.update(result)
    elif result is not None:
        task.data[f"{task.task_spec.bpmn_id}_result"] = result
    task.internal_data.pop(CALL_KEY, None)


# ----------------------------------------------------------------------------------------- parsers

def _definition(parser) -> dict | None:
    found = describe(parser.node)
    if isinstance(found, Refusal):  # the upload check refuses it first; never built
        parser.raise_validation_exception(found.message)
    return found.as_dict() if found is not None else None


class _ServiceTaskParser(TaskParser):
    def create_task(self):
        return ServiceCallTask(self.spec, self.bpmn_id, service=_definition(self), **self.bpmn_attributes)


class _SpiffServiceTaskParser(SpiffTaskParser):
    def create_task(self):
        extensions = self.parse_extensions()
        return SpiffServiceCallTask(self.spec, self.bpmn_id, service=_definition(self),
                                    prescript=extensions.get("preScript"), postscript=extensions.get("postScript"),
                                    **self.bpmn_attributes)


class _SendTaskParser(SendTaskParser):
    """A send task: a message thrown, unless it names an implementation (then a service call)."""

    def create_task(self):
        service = _definition(self)
        if service is None:
            return super().create_task()
        return ServiceCallTask(self.spec, self.bpmn_id, service=service, **self.bpmn_attributes)


class OnestopBpmnParser(BpmnParser):
    OVERRIDE_PARSER_CLASSES = BpmnParser.OVERRIDE_PARSER_CLASSES | {
        full_tag("serviceTask"): (_ServiceTaskParser, ServiceCallTask),
        full_tag("sendTask"): (_SendTaskParser, BpmnParser.PARSER_CLASSES[full_tag("sendTask")][1]),
    }


class OnestopCamundaParser(CamundaParser):
    OVERRIDE_PARSER_CLASSES = CamundaParser.OVERRIDE_PARSER_CLASSES | {
        full_tag("serviceTask"): (_ServiceTaskParser, ServiceCallTask),
        full_tag("sendTask"): (_SendTaskParser, BpmnParser.PARSER_CLASSES[full_tag("sendTask")][1]),
    }


class OnestopSpiffParser(SpiffBpmnParser):
    OVERRIDE_PARSER_CLASSES = SpiffBpmnParser.OVERRIDE_PARSER_CLASSES | {
        full_tag("serviceTask"): (_SpiffServiceTaskParser, SpiffServiceCallTask),
    }


PARSERS = {"bpmn": OnestopBpmnParser, "spiff": OnestopSpiffParser, "camunda": OnestopCamundaParser}
