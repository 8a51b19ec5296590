"""Workflow (de)serialization with the spec stored once per model version, not in every dossier.

SpiffWorkflow embeds the whole parsed spec in every serialized workflow; onestop strips it on
the way out and puts the model's own copy back on the way in, so a dossier row holds only its
own state. Serializers are per thread and per dialect: their registry is not thread-safe.
"""

import json
import threading

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.config import DEFAULT_CONFIG
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

CONFIGS = {"bpmn": DEFAULT_CONFIG, "spiff": SPIFF_CONFIG, "camunda": CAMUNDA_CONFIG}
_local = threading.local()


def serializer_for(dialect: str) -> BpmnWorkflowSerializer:
    cache = getattr(_local, "serializers", None)
    if cache is None:
        cache = _local.serializers = {}
    serializer = cache.get(dialect)
    if serializer is None:
        serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(CONFIGS[dialect]))
        cache[dialect] = serializer
    return serializer


def dump_spec(dialect: str, spec, subprocess_specs) -> str:
    """The model's specs as JSON text, stored once and reused by every dossier of the version."""
    serializer = serializer_for(dialect)
    serializer.registry._encoder_mode = True
    try:
        doc = {
            "spec": serializer.to_dict(spec),
            "subprocess_specs": {name: serializer.to_dict(s) for name, s in subprocess_specs.items()},
        }
        return json.dumps(doc, cls=serializer._encoder_cls)
    finally:
        serializer.registry._encoder_mode = False


def dump_workflow(dialect: str, workflow) -> str:
    """A workflow's state as JSON text, without its spec."""
    serializer = serializer_for(dialect)
    serializer.registry._encoder_mode = True
    try:
        doc = serializer.to_dict(workflow)
        doc.pop("spec", None)
        doc.pop("subprocess_specs", None)
        doc[serializer.VERSION_KEY] = serializer.VERSION
        return json.dumps(doc, cls=serializer._encoder_cls, ensure_ascii=False, separators=(",", ":"))
    finally:
        serializer.registry._encoder_mode = False


def load_workflow(dialect: str, spec_json: str, state: str):
    """Rebuild a workflow from its state and the model version's spec JSON."""
    serializer = serializer_for(dialect)
    doc = json.loads(state, cls=serializer.json_decoder_cls)
    specs = json.loads(spec_json)
    doc["spec"] = specs["spec"]
    doc["subprocess_specs"] = specs["subprocess_specs"]
    serializer.migrate(doc)
    return serializer.from_dict(doc)


def restore_specs(dialect: str, spec_json: str):
    """Fresh spec objects from stored spec JSON (used where a spec must not be shared)."""
    serializer = serializer_for(dialect)
    specs = json.loads(spec_json)
    spec = serializer.from_dict(specs["spec"])
    subs = {name: serializer.from_dict(s) for name, s in specs["subprocess_specs"].items()}
    return spec, subs
