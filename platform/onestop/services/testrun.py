"""A draft's coverage: the elements reached over all its test runs — every case of its unit tests and
every practice dossier, on any revision of the draft — against the elements of its model now.

The test page colours them on the diagram and lists the never-reached ones; the review before
publishing (onboarding.review) warns about each element never exercised, and about a draft never
tried at all. These are warnings, never errors: whether a path needs trying is the administrator's
call.
"""

from dataclasses import dataclass, field

from ..models import DraftTestRun, PracticeDossier

# Elements a dossier passes through; the engine's own bookkeeping specs have no BPMN type here.
FLOW_TYPES = {
    "StartEvent", "EndEvent", "IntermediateCatchEvent", "IntermediateThrowEvent", "BoundaryEvent",
    "UserTask", "ManualTask", "NoneTask", "ScriptTask", "ServiceTask", "ServiceCallTask", "SpiffServiceCallTask", "SendTask", "ReceiveTask",
    "BusinessRuleTask", "CallActivity", "SubWorkflowTask", "TransactionSubprocess",
    "ExclusiveGateway", "InclusiveGateway", "ParallelGateway", "EventBasedGateway",
}


@dataclass
class Coverage:
    """What the test runs of a draft reached, against its model's elements."""

    elements: dict  # element id -> {name, type, lane}: the model's flow elements
    reached: set = field(default_factory=set)
    runs: int = 0  # unit-test cases and practice dossiers counted

    @property
    def never(self) -> list:
        """The elements no run ever reached, by id."""
        return sorted(e for e in self.elements if e not in self.reached)

    @property
    def covered(self) -> set:
        return {e for e in self.elements if e in self.reached}

    @property
    def percent(self) -> int:
        return round(100 * len(self.covered) / len(self.elements)) if self.elements else 100


def flow_elements(model) -> dict:
    """The model's elements a dossier can reach (events, tasks, gateways), by id."""
    return {e: v for e, v in model.elements().items() if v["type"] in FLOW_TYPES}


def coverage(draft_id, model) -> Coverage:
    """The coverage of a draft (of the caller's centre: check that first) by its model `model`."""
    result = Coverage(flow_elements(model))
    for (results,) in DraftTestRun.select(DraftTestRun.results).where(DraftTestRun.draft == draft_id).tuples():
        for case in results or []:
            if isinstance(case, dict) and "reached" in case:
                result.runs += 1
                result.reached.update(case["reached"] or [])
    for (reached,) in PracticeDossier.select(PracticeDossier.reached).where(PracticeDossier.draft == draft_id).tuples():
        result.runs += 1
        result.reached.update(reached or [])
    return result


def unexercised(draft_id, model) -> list:
    """(element id or None, message) for each warning the review gives about untried paths."""
    found = coverage(draft_id, model)
    if not found.runs:
        return [(None, "the draft was never tried: no unit test ran and no practice dossier was started "
                       "(page Thử nghiệm); no path of it has been exercised")]
    return [(element_id, "no test case or practice dossier ever reached this element: this path has never "
                         "been exercised") for element_id in found.never]
