"""Workflow (de)serialization with the spec stored once per model version, not in every dossier.

SpiffWorkflow embeds the whole parsed spec in every serialized workflow and rebuilds it on every
load. onestop's workflow converter leaves the spec out on the way out and, on the way in, hands
the workflow the model's already-built spec objects, so a dossier row holds only its own state
and a load restores only its tasks. Serializers are per thread and per dialect: their registry
is not thread-safe.

The top-level workflow's tasks are written and read by `_task_to_dict` and `_task_from_dict`, which
do what SpiffWorkflow's own TaskConverter does (the same dictionaries, hence the same JSON text: a
state either side wrote reads on the other) in one pass without its generic registry walk: each task
id is turned into a UUID once per load and back into text once per dump, and the task data is
walked for typed values (a datetime in the data, say) only when the state holds any.
"""

import json
import re
import threading
from copy import copy
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.config import DEFAULT_CONFIG
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, TaskConverter
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from .. import jsontext
from .messages import runtime_config
from .service_tasks import CONVERTERS


class SpecRefWorkflowConverter(BpmnWorkflowConverter):
    """Writes a workflow without its specs; restores it onto spec objects given by the caller."""

    def __init__(self, target_class, registry, fast_tasks=True):
        super().__init__(target_class, registry)
        # The one-pass task conversion stands in for SpiffWorkflow's TaskConverter only where that
        # converter is the one registered for plain tasks (a configuration may replace it).
        converter = registry.convert_to_dict.get(registry.typenames.get(Task))
        stock = getattr(getattr(converter, "args", (None, None))[1], "__self__", None)
        self.fast_tasks = fast_tasks and type(stock) is TaskConverter and registry.typenames.get(Task) == "Task"

    def to_dict(self, workflow):
        return self.to_dict_and_loose(workflow)[0]

    def to_dict_and_loose(self, workflow, plain_data=None):
        """(to_dict(workflow), loose): `loose` lists what of the dictionary can hold values other than
        plain JSON types (the workflow's and tasks' data, deltas, internal data, events, subprocesses, the
        tasks' scalar fields); the rest (task ids, children, typenames, the mappings that hold them) is
        text and containers made here. None when the whole dictionary has to be looked at. `plain_data`: an
        object the caller found plain (jsontext.plain): the workflow's data, if it is that very object, is not
        listed when it is written as a copy of it."""
        if not self.fast_tasks or self.registry.typenames.get(type(workflow.task_tree)) != "Task":
            dct, loose = super(BpmnWorkflowConverter, self).to_dict(workflow), None
        else:
            dct, loose = self._workflow_to_dict(workflow, plain_data)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        if loose is not None:
            loose += (dct["subprocesses"], dct["bpmn_events"])
        return dct, loose

    def _workflow_to_dict(self, workflow, plain_data=None):
        """WorkflowConverter.to_dict, with the tasks converted in one pass; and its loose parts."""
        tasks = workflow.tasks
        ids = _IdTexts(workflow)
        registry = self.registry
        converted = {}
        # A UUID's text is a str made by UUID.__str__; another kind of id could make something else.
        loose = [] if set(map(type, tasks)) <= _UUID_ONLY else None
        parts = loose if loose is not None else []
        for task_id, text, task in ids.entries.values():
            if type(task) is not Task:
                converted[text] = dct = registry.convert(task)
                parts.append(dct)
            else:
                converted[text] = _task_to_dict(registry, task, text if task.id is task_id else None, ids, parts)
        last_task = ids.text(workflow.last_task.id) if workflow.last_task is not None else None
        root = ids.text(workflow.task_tree.id)
        data, whole = _clean_data_whole(registry, workflow.data)
        dct = {
            "data": data,
            "correlations": workflow.correlations,
            "last_task": last_task,
            "success": workflow.success,
            "completed": workflow.completed,
            "tasks": converted,
            "root": root,
        }
        if loose is not None:
            # (A copy of the plain dictionary the caller looked at, the step's data at the workflow's end, is plain.)
            loose += (() if whole and workflow.data is plain_data else (data,)) + (
                dct["correlations"], last_task, workflow.success, workflow.completed, root)
        return dct, loose

    def restore_onto(self, dct, spec, subprocess_specs, typed=True):
        """The workflow of `dct` on these specs; `typed`: whether the task data may hold typed values
        (dictionaries with a "typename") to restore, False when the caller knows it holds none."""
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        if self.fast_tasks:
            workflow.tasks, workflow.task_tree = self._tasks_from_dict(dct["tasks"], dct["root"], workflow, typed)
            self._set_default_attributes(workflow, dct, typed)
        else:
            workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
            workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
            self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow

    def _set_default_attributes(self, workflow, dct, typed):
        """WorkflowConverter.set_default_attributes(workflow, dct), with the last task's id the one the load read
        for its text (`task_id_of`: no UUID() made again) and the workflow's data taken as read when the state
        holds no typed value (`typed`; registry.restore would only copy it)."""
        workflow.success = dct["success"]
        workflow.completed = dct.get("completed", False)
        workflow.correlations = dct.pop("correlations", {})
        if isinstance(dct["last_task"], str):
            workflow.last_task = workflow.tasks.get(task_id_of(workflow, dct["last_task"]))
        data = dct.pop("data", {})
        workflow.data = self.registry.restore(data) if typed else data

    def _tasks_from_dict(self, tasks_dct, root, workflow, typed):
        """(mapping_from_dict(tasks, UUID, workflow=workflow), the task of id `root`), with plain tasks
        restored in one pass. A UUID's hash is Python code (UUID.__hash__, ~1 k instructions): the tasks
        are found by their ids' text while they are restored, and the mapping is the one Task() fills."""
        registry = self.registry
        ids = {}

        def uuid(text):
            value = ids.get(text)
            if value is None:
                value = ids[text] = UUID(text)
            return value

        restored = {}  # id text -> task, for the fast path's tasks
        boxes = {}  # id text -> the keys of its data holding containers
        keyed = []
        own_keys = True  # every task stored under its own id's text, as a dump writes it
        for key, task_dct in tasks_dct.items():
            if task_dct.get("typename") == "Task":
                task = _task_from_dict(registry, task_dct, workflow, uuid, typed, restored, boxes)
                own_keys = own_keys and key == task_dct["id"]
            else:
                task = registry.restore(task_dct, workflow=workflow)
                own_keys = False
            keyed.append((key, task))
        # Task() adds each task to workflow.tasks under its id, in this order: that is the mapping when
        # each is stored under its own id and no id came twice.
        tasks = workflow.tasks
        if not own_keys or len(tasks) != len(keyed):
            tasks = {uuid(key): task for key, task in keyed}
        tree = restored.get(root) if own_keys else None
        if tree is None:
            tree = tasks.get(UUID(root))
        # The ids' text as read, for the step's scans and the next dump: a text in UUID.__str__'s own form (lower
        # case, hyphens in place) is what str() of its UUID makes, byte for byte; any other is made again.
        setattr(workflow, _ID_TEXTS, {id(task.id): (task.id, text, task) for text, task in restored.items()
                                      if _CANONICAL(text)})
        setattr(workflow, _UUIDS, ids)
        return tasks, tree


_UUID_ONLY = frozenset({UUID})

# Values of these exact types are neither callable nor modules: a dictionary holding only them is what
# SpiffWorkflow's registry.clean keeps of it, whole.
_PLAIN_TYPES = frozenset({str, int, float, bool, type(None), list, dict, tuple})


def _clean_data_whole(registry, data) -> tuple:
    """(registry.convert(registry.clean(data)), whether that is a copy of `data` whole), as WorkflowConverter.to_dict
    writes a workflow's data (with the registry in encoder mode, both only drop callables and modules from the
    dictionary): a plain copy, without asking of every value whether it is either, when its values' types say none
    is."""
    if type(data) is dict and registry.typenames.get(dict) is None and set(map(type, data.values())) <= _PLAIN_TYPES:
        return dict(data), True
    return registry.convert(registry.clean(data)), False


# The workflow's attribute (onestop's own) that keeps its tasks' ids' text from its load or one dump to the next
# of a live workflow: id(UUID) -> (UUID, text, task), the UUID kept so that its id() stays its own.
_ID_TEXTS = "onestop_id_texts"
# Its attribute that keeps the ids as the load or the last dump read or made them: text -> UUID (that text's).
_UUIDS = "onestop_uuids"
_CANONICAL = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}").fullmatch


def id_texts(workflow) -> dict:
    """The workflow's known id texts (id(task id) -> (task id, its text, task)): those its load read or its last
    dump made, and those `id_text` added since. Empty for a workflow neither loaded nor dumped here."""
    known = getattr(workflow, _ID_TEXTS, None)
    if known is None:
        known = {}
        setattr(workflow, _ID_TEXTS, known)
    return known


def id_text(known: dict, task_id) -> str:
    """str(task_id), UUID.__str__'s text (Python code, ~7 k instructions), taken from `known` (`id_texts`) when
    it holds this very id, else made and added there for the next look and the workflow's next dump."""
    entry = known.get(id(task_id))
    if entry is not None and entry[0] is task_id:
        return entry[1]
    text = str(task_id)
    known[id(task_id)] = (task_id, text, None)
    return text


def task_id_of(workflow, text: str):
    """UUID(text): the id object the workflow's load read or its last dump made for this text, if any (the same
    value: it was made from this text, or made this text), else a new one (UUID() is Python code, ~10 k)."""
    found = (getattr(workflow, _UUIDS, None) or {}).get(text)
    return found if found is not None else UUID(text)


class _IdTexts:
    """The text of the ids of a workflow's tasks, for a dump. UUID.__str__ and UUID.__hash__ are Python code
    (~7 k and ~1 k instructions): an id's text is the one the workflow's last dump made when there is one,
    and ids are looked up by identity (a task's parent and children ids are the very objects of their
    tasks' ids, as SpiffWorkflow and the load make them), by value only for another object."""

    def __init__(self, workflow):
        tasks = self.tasks = workflow.tasks
        known = getattr(workflow, _ID_TEXTS, None) or {}
        entries = self.entries = {}  # id(task id) -> (task id, text, task)
        for task_id, task in tasks.items():
            entry = known.get(id(task_id))
            entries[id(task_id)] = (task_id, entry[1] if entry is not None and entry[0] is task_id else str(task_id),
                                    task)
        setattr(workflow, _ID_TEXTS, entries)
        setattr(workflow, _UUIDS, {text: task_id for task_id, text, _task in entries.values() if type(task_id) is UUID})
        self._by_value = None

    def by_value(self) -> dict:
        """Task id -> text, as SpiffWorkflow's converter makes them: for an id that is another object."""
        if self._by_value is None:
            self._by_value = {task_id: text for task_id, text, _task in self.entries.values()}
        return self._by_value

    def text(self, task_id) -> str:
        """A task id's text (UUID.__str__'s), whether or not it is a task of the workflow."""
        entry = self.entries.get(id(task_id))
        if entry is not None and entry[0] is task_id:
            return entry[1]
        return self.by_value().get(task_id) or str(task_id)


def _task_to_dict(registry, task, text, ids, loose):
    """TaskConverter.to_dict(task) with the registry's "typename", for a task of the workflow (`text`: its id's,
    None to look it up; `ids`: _IdTexts); what of it can hold more than plain JSON types is added to `loose`."""
    parent_id = task._parent
    parent = None
    if parent_id is not None:
        entry = ids.entries.get(id(parent_id))
        if entry is not None and entry[0] is parent_id:
            parent, parent_text = entry[2], entry[1]
        else:
            parent = ids.tasks.get(parent_id)
            parent_text = ids.by_value()[parent_id] if parent is not None else None
    if parent is None:
        data, delta, parent_text = task.data, {}, None
        loose.append(data)
    else:
        parent_data, own = parent.data, task.data
        data = {}
        updates = {key: value for key, value in own.items() if key not in parent_data or value != parent_data[key]}
        deletions = [key for key in parent_data if key not in own]
        delta = {"updates": updates, "deletions": deletions}
        if updates:  # (an empty container is plain: most deltas are empty; these two are made here)
            loose.append(updates)
        if deletions:
            loose.append(deletions)
    internal = task.internal_data
    internal = registry.convert(internal) if internal else {}
    entries = ids.entries
    children = [entry[1] if (entry := entries.get(id(child))) is not None and entry[0] is child else None
                for child in task._children]
    if None in children:  # another object, or a child that is not a task of the workflow
        by_value = ids.by_value()
        children = [by_value.get(child) or str(child) for child in task._children]
        loose.append(children)
    dct = {
        "id": text if text is not None else ids.text(task.id),
        "parent": parent_text,
        "children": children,
        "last_state_change": task.last_state_change,
        "state": task.state,
        "task_spec": task.task_spec.name,
        "triggered": task.triggered,
        "internal_data": internal,
        "data": data,
        "delta": delta,
        "typename": "Task",
    }
    loose += (dct["last_state_change"], dct["state"], dct["task_spec"], dct["triggered"])
    if internal or type(internal) is not dict:  # (an empty dictionary is plain)
        loose.append(internal)
    return dct


def _task_from_dict(registry, dct, workflow, uuid, typed, restored, boxes):
    """TaskConverter.from_dict(dct, workflow); `restored`: id text -> task, `boxes`: id text -> the keys
    of its data holding containers, for the tasks restored so far (this one's are added)."""
    task_spec = workflow.spec.task_specs.get(dct["task_spec"])
    text = dct["id"]
    task = Task(workflow, task_spec, state=dct["state"], id=uuid(text))
    restored[text] = task  # as Task() puts it in workflow.tasks
    parent_id = dct["parent"]
    task._parent = uuid(parent_id) if parent_id is not None else None
    task._children = [uuid(child) for child in dct["children"]]
    task.last_state_change = dct["last_state_change"]
    task.triggered = dct["triggered"]
    internal = dct["internal_data"]
    task.internal_data = registry.restore(internal) if internal else {}
    if isinstance(task_spec, CatchingEvent) and task._state & TaskState.WAITING:
        workflow.top_workflow.event_manager.add_task(task)
    delta = dct.get("delta")
    parent = parent_boxes = None
    if delta and parent_id is not None:
        # The task whose id has this text (the same UUID object, from `uuid`), else the one of an id
        # written otherwise (another case, say) or restored by another converter.
        parent = restored.get(parent_id)
        if parent is None:
            parent = workflow.tasks.get(task._parent)
        elif parent is not task:  # (a task its own parent: its data is still empty)
            parent_boxes = boxes.get(parent_id)
    if parent is not None:
        # DeepMerge.merge({}, parent.data): the parent's values, containers copied one level deep. The
        # dictionary is copied in C and only the parent's containers (known from its own restoring:
        # a few keys of dozens) are looked at one by one.
        data = dict(parent.data)
        if parent_boxes is None:  # a parent restored by another converter
            parent_boxes = _containers(data)
        for key in parent_boxes:
            data[key] = copy(data[key])
        updates = delta.get("updates", {})
        if typed:
            updates = registry.restore(updates)
        data.update(updates)
        deletions = delta.get("deletions", {})
        for key in deletions:
            if key in data:
                del data[key]
        changed = _containers(updates)
        own = [key for key in parent_boxes if key not in updates and key not in deletions] if updates or deletions \
            else parent_boxes
        boxes[text] = own + [key for key in changed if key not in deletions] if changed else own
    else:
        data = registry.restore(dct["data"]) if typed else dct["data"]
        boxes[text] = _containers(data)
    task.data = data
    return task


def _containers(data) -> list:
    """The keys of `data` whose values DeepMerge.merge copies (dictionaries, lists, sets)."""
    return [key for key, value in data.items() if isinstance(value, dict | list | set)]


# Specs are always run as the serializer rebuilds them: the message events are onestop's
# (engine.messages), and each dialect's converters get onestop's service task (copies: SpiffWorkflow's
# own stay as they are).
CONFIGS = {dialect: runtime_config(config | CONVERTERS[dialect], dialect)
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
    text, utf8 = dump_workflow_or_utf8(dialect, workflow)
    return utf8.decode() if text is None else text


def dump_workflow_or_utf8(dialect: str, workflow, plain_data=None) -> tuple:
    """(None, the UTF-8 of dump_workflow(...)) when orjson wrote it, else (dump_workflow(...), None):
    jsontext.dumps_or_utf8. `plain_data`: an object the caller has found plain (jsontext.plain), not looked at
    again if it is the workflow's data (a step's data at the workflow's end is its data)."""
    serializer = serializer_for(dialect)
    spiff = serializer.spiff
    spiff.registry._encoder_mode = True
    try:
        doc, loose = serializer.workflow_converter.to_dict_and_loose(workflow, plain_data)
        doc["typename"] = serializer.workflow_converter.typename
        doc[spiff.VERSION_KEY] = spiff.VERSION
        # json.dumps's text, through orjson where it can: only the parts that can hold other values are
        # looked at (the tasks' ids, children and typenames are half of a state's values).
        known = None if loose is None else jsontext.plain([*loose, doc["typename"], spiff.VERSION])
        return jsontext.dumps_or_utf8(doc, cls=spiff._encoder_cls, known_plain=known)
    finally:
        spiff.registry._encoder_mode = False


_TYPENAME = {True: '"typename"', False: b'"typename"'}


def load_workflow(dialect: str, spec, subprocess_specs, state: str | bytes):
    """Rebuild a workflow from its state onto the given spec objects (the state's text, or its UTF-8)."""
    serializer = serializer_for(dialect)
    decoder = serializer.spiff.json_decoder_cls
    doc = jsontext.loads(state) if decoder is None else json.loads(state, cls=decoder)
    current = doc.get(serializer.spiff.VERSION_KEY) == serializer.spiff.VERSION
    serializer.spiff.migrate(doc)
    # Every "typename" of a state in the current format names the workflow, a task or a subprocess,
    # unless the data (or an event) holds a typed value: only then is the data walked to restore them.
    typed = not current or state.count(_TYPENAME[type(state) is str]) != _structural_typenames(doc)
    return serializer.workflow_converter.restore_onto(doc, spec, subprocess_specs, typed)


def _structural_typenames(doc) -> int:
    """How many "typename" keys a state holds if its data, events and correlations hold none."""
    subprocesses = doc.get("subprocesses") or {}
    return 1 + len(doc.get("tasks") or {}) + sum(1 + len(sp.get("tasks") or {}) for sp in subprocesses.values())
