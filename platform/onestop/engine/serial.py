"""Workflow (de)serialization with the spec stored once per model version, not in every dossier.

SpiffWorkflow embeds the whole parsed spec in every serialized workflow and rebuilds it on every
load. onestop's workflow converter leaves the spec out on the way out and, on the way in, hands
the workflow the model's already-built spec objects, so a dossier row holds only its own state
and a load restores only its tasks. Serializers are per thread and per dialect: their registry
is not thread-safe.
"""

import json
import threading
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.config import DEFAULT_CONFIG
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

from .service_tasks import CONVERTERS


class SpecRefWorkflowConverter(BpmnWorkflowConverter):
    """Writes a workflow without its specs; restores it onto spec objects given by the caller."""

    def to_dict(self, workflow):
        dct = super(BpmnWorkflowConverter, self).to_dict(workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def restore_onto(self, dct, spec, subprocess_specs):
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


# Each dialect's converters plus onestop's service task (copies: SpiffWorkflow's own stay as they are).
CONFIGS = {dialect: config | CONVERTERS[dialect]
           for dialect, config in (("bpmn", DEFAULT_CONFIG), ("spiff", SPIFF_CONFIG), ("camunda", CAMUNDA_CONFIG))}
_local = threading.local()


class _Serializer:
    """A SpiffWorkflow serializer for one dialect plus onestop's workflow converter."""

    def __init__(self, dialect):
        registry = BpmnWorkflowSerializer.configure(CONFIGS[dialect])
        # Registering replaces the dialect's converter for BpmnWorkflow with this one.
        self.workflow_converter = SpecRefWorkflowConverter(BpmnWorkflow, registry)
        self.spiff = BpmnWorkflowSerializer(registry)


def serializer_for(dialect: str) -> _Serializer:
    cache = getattr(_local, "serializers", None)
    if cache is None:
        cache = _local.serializers = {}
    serializer = cache.get(dialect)
    if serializer is None:
        serializer = cache[dialect] = _Serializer(dialect)
    return serializer


def _encoding(serializer):
    class _Mode:
        def __enter__(self):
            serializer.spiff.registry._encoder_mode = True

        def __exit__(self, *exc):
            serializer.spiff.registry._encoder_mode = False

    return _Mode()


def dump_spec(dialect: str, spec, subprocess_specs) -> str:
    """The model's specs as JSON text, stored once with the version."""
    serializer = serializer_for(dialect)
    with _encoding(serializer):
        doc = {
            "spec": serializer.spiff.to_dict(spec),
            "subprocess_specs": {name: serializer.spiff.to_dict(s) for name, s in subprocess_specs.items()},
        }
        return json.dumps(doc, cls=serializer.spiff._encoder_cls)


def restore_specs(dialect: str, spec_json: str):
    """Fresh spec objects from stored spec JSON."""
    serializer = serializer_for(dialect)
    specs = json.loads(spec_json)
    spec = serializer.spiff.from_dict(specs["spec"])
    subs = {name: serializer.spiff.from_dict(s) for name, s in specs["subprocess_specs"].items()}
    return spec, subs


def dump_workflow(dialect: str, workflow) -> str:
    """A workflow's state as JSON text, without its spec."""
    serializer = serializer_for(dialect)
    with _encoding(serializer):
        doc = serializer.spiff.to_dict(workflow)
        doc[serializer.spiff.VERSION_KEY] = serializer.spiff.VERSION
        return json.dumps(doc, cls=serializer.spiff._encoder_cls, ensure_ascii=False, separators=(",", ":"))


def load_workflow(dialect: str, spec, subprocess_specs, state: str):
    """Rebuild a workflow from its state onto the given spec objects."""
    serializer = serializer_for(dialect)
    doc = json.loads(state, cls=serializer.spiff.json_decoder_cls)
    serializer.spiff.migrate(doc)
    return serializer.workflow_converter.restore_onto(doc, spec, subprocess_specs)
