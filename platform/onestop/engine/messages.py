"""Messages sent to a workflow from outside (the API), and where their payload lands.

SpiffWorkflow's dialects treat a payload differently, and only plain BPMN takes one delivered from
outside into the data: Camunda's message events expect the {"payload", "result_var"} envelope
that their own throw events build (a delivered payload failed with `KeyError: payload`), and
SpiffArena's drop the payload unless the message names a variable. A delivered message therefore
travels as a `DeliveredMessage`, and the dialects' definitions are replaced at run time (through
the serializer, which rebuilds every spec the engine runs) by the subclasses below, which put it
where each modeller means it:

- plain BPMN: the payload's keys merge into the data (SpiffWorkflow's own behaviour);
- Camunda: into `camunda:resultVariable` when the event names one, else merged into the data, as
  Camunda 7's message correlation sets its `processVariables`;
- SpiffArena: into `spiffworkflow:messageVariable` when the message names one, else merged.

Messages thrown inside a workflow keep the dialect's own behaviour.
"""

from functools import partial

from SpiffWorkflow.bpmn import BpmnEvent
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnEventConverter
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition as BpmnMessage
from SpiffWorkflow.camunda.serializer.event_definition import (
    MessageEventDefinitionConverter as CamundaMessageConverter,
)
from SpiffWorkflow.camunda.specs.event_definitions import MessageEventDefinition as CamundaMessage
from SpiffWorkflow.spiff.serializer.event_definition import (
    MessageEventDefinitionConverter as SpiffMessageConverter,
)
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition as SpiffMessage

# Marks, in a catching task's internal data, a payload that came from outside.
DELIVERED = "onestop_delivered_message"


class DeliveredMessage(BpmnEvent):
    """A message sent to the workflow from outside, not thrown by one of its own events."""


class CamundaMessageEvent(CamundaMessage):
    """Camunda's message event, taking a delivered payload as Camunda 7 does."""

    def update_internal_data(self, my_task, event):
        if isinstance(event, DeliveredMessage):
            my_task.internal_data[self.name] = {"payload": event.payload, "result_var": self.result_var}
            my_task.internal_data[DELIVERED] = True
        else:
            super().update_internal_data(my_task, event)

    def update_task_data(self, my_task):
        if not my_task.internal_data.pop(DELIVERED, False):
            return super().update_task_data(my_task)
        stored = my_task.internal_data.get(self.name) or {}
        payload = stored.get("payload")
        if self.result_var:
            my_task.data[self.result_var] = payload
        elif isinstance(payload, dict):
            my_task.data.update(payload)


class SpiffMessageEvent(SpiffMessage):
    """SpiffArena's message event; a delivered payload without a message variable merges into the data."""

    def update_internal_data(self, my_task, event):
        super().update_internal_data(my_task, event)
        if isinstance(event, DeliveredMessage):
            my_task.internal_data[DELIVERED] = True

    def update_task_data(self, my_task):
        delivered = my_task.internal_data.pop(DELIVERED, False)
        if self.message_var is not None or not delivered:
            return super().update_task_data(my_task)
        payload = my_task.internal_data.pop(self.name, None)
        if isinstance(payload, dict):
            my_task.data.update(payload)


def runtime_config(config: dict, dialect: str) -> dict:
    """The serializer configuration of a dialect with its message event replaced by the subclass
    above. The subclass is written under the same type name, so stored specs and workflows read
    and write exactly as before; the parser's own objects still serialize."""
    config = dict(config)
    # A delivered message the workflow keeps (an event-based gateway's, until it runs) is stored as one.
    config[DeliveredMessage] = BpmnEventConverter
    replacement = {"camunda": (CamundaMessageEvent, CamundaMessageConverter),
                   "spiff": (SpiffMessageEvent, SpiffMessageConverter)}.get(dialect)
    if replacement is not None:
        cls, converter = replacement
        config[cls] = partial(converter, typename="MessageEventDefinition")  # registered last: it restores
    return config


def is_message(definition) -> bool:
    """Whether an event definition is a message's (of any dialect)."""
    return isinstance(definition, BpmnMessage)


def start_messages(spec) -> list:
    """The names of the messages the process's own start events wait for, sorted: a message of
    one of these names starts a new workflow (event subprocesses' start events do not count)."""
    if spec is None:
        return []
    names = {definition.name for task_spec in spec.task_specs.values()
             if spec.start in getattr(task_spec, "inputs", ())
             and is_message(definition := getattr(task_spec, "event_definition", None)) and definition.name}
    return sorted(names)
