"""SpiffArena's data stores, run as lookup tables the services layer hands in.

A SpiffArena model declares `<bpmn:dataStore id="fees" name="JSONDataStore"/>`, points a
`dataStoreReference` at it, and draws a data input association (a task reads the store: before it
runs, its data holds the store's value under the store's id) or a data output association (a task
writes it: when it completes, the value its data holds under that id replaces the store's, and
leaves the task's data). onestop keeps each store as a centre's lookup table of that name (a fee
table, a code list), managed in the back office.

The engine does no I/O: around an engine call the services layer opens `lookup_tables(values)`
with the values of the tables the model references (`referenced(model)`), read once for the step;
a task's read copies from them, a write is recorded and comes back as `Step.table_writes`, which
the services store with the step. What cannot run this way is refused at upload in plain words
(`problems`): SpiffArena's KKV store (it hands scripts a function, which the sandbox cannot pass)
and its typeahead store (it feeds a search widget, not a task). A data store of another modeller
(Camunda and plain BPMN give data stores no run-time meaning) is kept as a drawing only.
"""

from __future__ import annotations

import copy
import json
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from SpiffWorkflow.bpmn.exceptions import WorkflowDataException
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnParser
from SpiffWorkflow.bpmn.serializer.helpers.bpmn_converter import BpmnConverter
from SpiffWorkflow.bpmn.specs.data_spec import BpmnDataStoreSpecification
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState

from .problems import Problem

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
# SpiffArena's kinds (the dataStore's `name`) that run as a centre's lookup table.
TABLE_KINDS = ("JSONDataStore", "JSONFileDataStore")
DRAWING_ONLY = "onestop:DrawingOnlyDataStore"
REFUSED = {
    "KKVDataStore": "a KKV data store hands scripts a function to call, which onestop's script sandbox cannot "
                    "pass; keep the table as a JSONDataStore holding {{key: {{key: value}}}} and read "
                    "{id}[key][key] in the script",
    "TypeaheadDataStore": "a typeahead data store feeds SpiffArena's search widget, which onestop's forms do not "
                          "have; keep the choices in a JSONDataStore and offer them with "
                          "options_from_task_data_var",
}
MAX_TABLE_BYTES = 1024 * 1024  # a lookup table is a fee table or a code list, not a database


class LookupTable(BpmnDataStoreSpecification):
    """A SpiffArena JSON data store: the centre's lookup table named by the store's id."""

    def get(self, my_task):
        tables = _tables.get()
        if tables is None or self.bpmn_id not in tables.values:
            # SpiffWorkflow reads inputs while it readies the task: mark the task failed, so that the
            # dossier's incident names it and a retry reads its inputs again (reread_inputs).
            my_task.internal_data[_REREAD] = True
            my_task._set_state(TaskState.ERROR)
            raise WorkflowDataException(
                f"the lookup table {self.bpmn_id!r} this step reads does not exist at this centre; an administrator "
                "adds it in the back office (Lookup tables), then retries the step", my_task, data_input=self)
        my_task.data[self.bpmn_id] = copy.deepcopy(tables.values[self.bpmn_id])

    def set(self, my_task):
        if self.bpmn_id not in my_task.data:
            return
        value = my_task.data.pop(self.bpmn_id)
        tables = _tables.get()
        if tables is None:
            raise WorkflowDataException(f"the lookup table {self.bpmn_id!r} cannot be written here", my_task,
                                        data_output=self)
        try:
            size = len(json.dumps(value, ensure_ascii=False, allow_nan=False).encode())
        except (TypeError, ValueError):
            raise WorkflowDataException(f"the value written to the lookup table {self.bpmn_id!r} is not plain "
                                        "JSON data", my_task, data_output=self) from None
        if size > MAX_TABLE_BYTES:
            raise WorkflowDataException(f"the value written to the lookup table {self.bpmn_id!r} is larger than "
                                        f"{MAX_TABLE_BYTES // 1024} KiB", my_task, data_output=self)
        tables.values[self.bpmn_id] = copy.deepcopy(value)
        tables.writes[self.bpmn_id] = value


_REREAD = "onestop_reread_inputs"


def reread_inputs(task) -> None:
    """Before a failed task runs again: if it failed reading a lookup table, read its inputs now."""
    if task.internal_data.pop(_REREAD, False):
        for data in task.task_spec.data_input_associations:
            data.get(task)


class DrawingOnly(BpmnDataStoreSpecification):
    """A data store another modeller drew: nothing is read from it or written to it."""

    def get(self, my_task):
        pass

    def set(self, my_task):
        pass


class _StoreConverter(BpmnConverter):
    def to_dict(self, spec):
        return {"bpmn_id": spec.bpmn_id, "bpmn_name": spec.bpmn_name, "capacity": spec.capacity,
                "is_unlimited": spec.is_unlimited}

    def from_dict(self, dct):
        return self.target_class(**dct)


@dataclass
class Tables:
    """The lookup tables of one engine call: their values (read once by the services) and the writes."""

    values: dict
    writes: dict = field(default_factory=dict)


_tables: ContextVar[Tables | None] = ContextVar("onestop_lookup_tables", default=None)


@contextmanager
def lookup_tables(values: dict):
    """A block whose engine calls read the given tables ({name: JSON value}); yields the Tables,
    whose `writes` are also on each Step made inside."""
    tables = Tables({name: copy.deepcopy(value) for name, value in values.items()})
    token = _tables.set(tables)
    try:
        yield tables
    finally:
        _tables.reset(token)


def pending_writes() -> dict:
    """The tables written so far in the current block ({} outside one)."""
    tables = _tables.get()
    return dict(tables.writes) if tables is not None else {}


def referenced(model) -> list[str]:
    """The names of the lookup tables a parsed model's tasks read or write. Every step of a dossier asks
    (services.lookup_tables.handed_in), and the answer only changes with the model's spec objects: it is
    worked out once per spec and kept on the model (a step walked every task spec of the model for it:
    ~5 us on the 18-task permit, more on a larger model)."""
    kept = getattr(model, "_referenced_tables", None)
    if kept is not None and kept[0] is model.spec and kept[1] is model.subprocess_specs:
        return list(kept[2])
    names = _referenced(model)
    try:
        model._referenced_tables = (model.spec, model.subprocess_specs, tuple(names))
    except AttributeError:  # an object that takes no attribute: asked again next time
        pass
    return names


def _referenced(model) -> list[str]:
    names = set()
    for spec in [model.spec, *(model.subprocess_specs or {}).values()]:
        for task in (spec.task_specs.values() if spec is not None else ()):
            for data in [*getattr(task, "data_input_associations", ()), *getattr(task, "data_output_associations", ())]:
                if isinstance(data, LookupTable):
                    names.add(data.bpmn_id)
    return sorted(names)


def problems(roots) -> tuple[list, list]:
    """(problems, warnings) of the data stores of BPMN trees [(file, root)]. A data store of a kind
    onestop cannot run is a problem; one drawn by another modeller is renamed in place to run as a
    drawing only, with a warning."""
    found, warnings = [], []
    for file, root in roots:
        for node in root.iter(f"{{{BPMN_NS}}}dataStore"):
            store_id, kind = node.get("id") or "", node.get("name") or ""
            if kind in TABLE_KINDS:
                continue
            if kind in REFUSED:
                found.append(Problem(store_id or None, f"data store {store_id!r} ({kind}) cannot run in onestop: "
                                     + REFUSED[kind].format(id=store_id), file))
            else:
                node.set("name", DRAWING_ONLY)
                warnings.append(Problem(store_id or None, f"data store {store_id!r} ({kind or 'no kind'}) is kept as a "
                                        "drawing only: nothing reads or writes it. To run it as a lookup table, name "
                                        "its kind JSONDataStore (SpiffArena's convention)", file))
    return found, warnings


def _register():
    """SpiffWorkflow's parsers build these specs for the kinds above; the serializer converts them."""
    from . import serial

    stores = {kind: LookupTable for kind in TABLE_KINDS} | {DRAWING_ONLY: DrawingOnly}
    for parser in (BpmnParser, SpiffBpmnParser, CamundaParser):
        parser.DATA_STORE_CLASSES = {**parser.DATA_STORE_CLASSES, **stores}
    for dialect, config in list(serial.CONFIGS.items()):
        serial.CONFIGS[dialect] = {**config, LookupTable: _StoreConverter, DrawingOnly: _StoreConverter}


_register()
