"""Hostile BPMN models for the budgets corpus: timers, loops without a wait, huge multi-instances.

Each function returns the bytes of one small, otherwise valid model (process id `hostile`), so
that the engine tests and the real-server tests upload exactly the same payloads.
"""

from xml.sax.saxutils import escape

_HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n'
         '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="Definitions_hostile" '
         'targetNamespace="http://onestop.test">\n<bpmn:process id="PROCESS" isExecutable="true">\n'
         '<bpmn:startEvent id="Start_1"><bpmn:outgoing>Flow_1</bpmn:outgoing></bpmn:startEvent>\n')
_TAIL = "</bpmn:process>\n</bpmn:definitions>\n"


def _model(body: str, process_id: str) -> bytes:
    return (_HEAD.replace("PROCESS", process_id) + body + _TAIL).encode()


def _timer(kind: str, value: str) -> str:
    return (f'<bpmn:timerEventDefinition id="TimerDef_1"><bpmn:{kind}>{escape(value)}</bpmn:{kind}>'
            "</bpmn:timerEventDefinition>")


def waiting_timer(kind: str, value: str, process_id: str = "hostile") -> bytes:
    """start -> intermediate timer `Wait` (timeDuration/timeDate/timeCycle = value) -> end."""
    return _model(
        '<bpmn:sequenceFlow id="Flow_1" sourceRef="Start_1" targetRef="Wait" />\n'
        f'<bpmn:intermediateCatchEvent id="Wait"><bpmn:incoming>Flow_1</bpmn:incoming>'
        f'<bpmn:outgoing>Flow_2</bpmn:outgoing>{_timer(kind, value)}</bpmn:intermediateCatchEvent>\n'
        '<bpmn:sequenceFlow id="Flow_2" sourceRef="Wait" targetRef="End_1" />\n'
        '<bpmn:endEvent id="End_1"><bpmn:incoming>Flow_2</bpmn:incoming></bpmn:endEvent>\n', process_id)


def ticking_task(cycle: str, process_id: str = "hostile") -> bytes:
    """A user task `Task_Wait` with a non-interrupting cycle timer `Tick` (timeCycle = cycle) on its border."""
    return _model(
        '<bpmn:sequenceFlow id="Flow_1" sourceRef="Start_1" targetRef="Task_Wait" />\n'
        '<bpmn:userTask id="Task_Wait" name="Chờ"><bpmn:incoming>Flow_1</bpmn:incoming>'
        '<bpmn:outgoing>Flow_2</bpmn:outgoing></bpmn:userTask>\n'
        '<bpmn:sequenceFlow id="Flow_2" sourceRef="Task_Wait" targetRef="End_1" />\n'
        '<bpmn:endEvent id="End_1"><bpmn:incoming>Flow_2</bpmn:incoming></bpmn:endEvent>\n'
        '<bpmn:boundaryEvent id="Tick" attachedToRef="Task_Wait" cancelActivity="false">'
        f'<bpmn:outgoing>Flow_3</bpmn:outgoing>{_timer("timeCycle", cycle)}</bpmn:boundaryEvent>\n'
        '<bpmn:sequenceFlow id="Flow_3" sourceRef="Tick" targetRef="End_Tick" />\n'
        '<bpmn:endEvent id="End_Tick"><bpmn:incoming>Flow_3</bpmn:incoming></bpmn:endEvent>\n', process_id)


def endless_loop(process_id: str = "hostile", until: str = "False") -> bytes:
    """start -> `Loop` (a none throw event) -> gateway `Again` -> back to Loop while not `until`, else end.

    No script, no person, no event: with until="False" it never waits."""
    return _model(
        '<bpmn:sequenceFlow id="Flow_1" sourceRef="Start_1" targetRef="Loop" />\n'
        '<bpmn:intermediateThrowEvent id="Loop"><bpmn:incoming>Flow_1</bpmn:incoming>'
        '<bpmn:incoming>Flow_Back</bpmn:incoming><bpmn:outgoing>Flow_2</bpmn:outgoing></bpmn:intermediateThrowEvent>\n'
        '<bpmn:sequenceFlow id="Flow_2" sourceRef="Loop" targetRef="Again" />\n'
        '<bpmn:exclusiveGateway id="Again" default="Flow_Back"><bpmn:incoming>Flow_2</bpmn:incoming>'
        '<bpmn:outgoing>Flow_Back</bpmn:outgoing><bpmn:outgoing>Flow_Out</bpmn:outgoing></bpmn:exclusiveGateway>\n'
        '<bpmn:sequenceFlow id="Flow_Back" sourceRef="Again" targetRef="Loop" />\n'
        f'<bpmn:sequenceFlow id="Flow_Out" sourceRef="Again" targetRef="End_1">'
        f'<bpmn:conditionExpression>{escape(until)}</bpmn:conditionExpression></bpmn:sequenceFlow>\n'
        '<bpmn:endEvent id="End_1"><bpmn:incoming>Flow_Out</bpmn:incoming></bpmn:endEvent>\n', process_id)


def counting_loop(rounds: int, process_id: str = "counting") -> bytes:
    """start -> script `Count` (n = n + 1; start it with n = 0) -> gateway `More` -> back while n < rounds -> end."""
    return _model(
        '<bpmn:sequenceFlow id="Flow_1" sourceRef="Start_1" targetRef="Count" />\n'
        '<bpmn:scriptTask id="Count"><bpmn:incoming>Flow_1</bpmn:incoming><bpmn:incoming>Flow_Back</bpmn:incoming>'
        '<bpmn:outgoing>Flow_2</bpmn:outgoing><bpmn:script>n = n + 1</bpmn:script>'
        '</bpmn:scriptTask>\n'
        '<bpmn:sequenceFlow id="Flow_2" sourceRef="Count" targetRef="More" />\n'
        '<bpmn:exclusiveGateway id="More" default="Flow_Out"><bpmn:incoming>Flow_2</bpmn:incoming>'
        '<bpmn:outgoing>Flow_Back</bpmn:outgoing><bpmn:outgoing>Flow_Out</bpmn:outgoing></bpmn:exclusiveGateway>\n'
        f'<bpmn:sequenceFlow id="Flow_Back" sourceRef="More" targetRef="Count">'
        f'<bpmn:conditionExpression>n &lt; {rounds}</bpmn:conditionExpression></bpmn:sequenceFlow>\n'
        '<bpmn:sequenceFlow id="Flow_Out" sourceRef="More" targetRef="End_1" />\n'
        '<bpmn:endEvent id="End_1"><bpmn:incoming>Flow_Out</bpmn:incoming></bpmn:endEvent>\n', process_id)


def many_instances(cardinality: str, process_id: str = "hostile", parallel: bool = True) -> bytes:
    """start -> multi-instance user task `Many` with loopCardinality = cardinality -> end."""
    sequential = "" if parallel else ' isSequential="true"'
    return _model(
        '<bpmn:sequenceFlow id="Flow_1" sourceRef="Start_1" targetRef="Many" />\n'
        f'<bpmn:userTask id="Many" name="Từng người"><bpmn:incoming>Flow_1</bpmn:incoming>'
        f'<bpmn:outgoing>Flow_2</bpmn:outgoing><bpmn:multiInstanceLoopCharacteristics{sequential}>'
        f'<bpmn:loopCardinality>{escape(cardinality)}</bpmn:loopCardinality>'
        '</bpmn:multiInstanceLoopCharacteristics></bpmn:userTask>\n'
        '<bpmn:sequenceFlow id="Flow_2" sourceRef="Many" targetRef="End_1" />\n'
        '<bpmn:endEvent id="End_1"><bpmn:incoming>Flow_2</bpmn:incoming></bpmn:endEvent>\n', process_id)


def many_items(process_id: str = "hostile") -> bytes:
    """A multi-instance user task `Each` over the collection `items` of the dossier's data."""
    text = many_instances("1", process_id).decode()
    return text.replace('id="Many"', 'id="Each"').replace('targetRef="Many"', 'targetRef="Each"').replace(
        'sourceRef="Many"', 'sourceRef="Each"').replace(
        "<bpmn:loopCardinality>1</bpmn:loopCardinality>",
        '<bpmn:loopDataInputRef>items</bpmn:loopDataInputRef><bpmn:inputDataItem id="item" name="item" />').encode()


def racing_timer(value: str, process_id: str = "hostile") -> bytes:
    """An event-based gateway `Race`: a timer `Late` (timeDuration = value) against a message `Reply`."""
    text = _model(
        '<bpmn:sequenceFlow id="Flow_1" sourceRef="Start_1" targetRef="Race" />\n'
        '<bpmn:eventBasedGateway id="Race"><bpmn:incoming>Flow_1</bpmn:incoming><bpmn:outgoing>Flow_T</bpmn:outgoing>'
        '<bpmn:outgoing>Flow_M</bpmn:outgoing></bpmn:eventBasedGateway>\n'
        '<bpmn:sequenceFlow id="Flow_T" sourceRef="Race" targetRef="Late" />\n'
        '<bpmn:sequenceFlow id="Flow_M" sourceRef="Race" targetRef="Reply" />\n'
        f'<bpmn:intermediateCatchEvent id="Late"><bpmn:incoming>Flow_T</bpmn:incoming>'
        f'<bpmn:outgoing>Flow_2</bpmn:outgoing>{_timer("timeDuration", value)}</bpmn:intermediateCatchEvent>\n'
        '<bpmn:intermediateCatchEvent id="Reply"><bpmn:incoming>Flow_M</bpmn:incoming>'
        '<bpmn:outgoing>Flow_3</bpmn:outgoing><bpmn:messageEventDefinition id="MessageDef_1" messageRef="Message_1" />'
        '</bpmn:intermediateCatchEvent>\n'
        '<bpmn:sequenceFlow id="Flow_2" sourceRef="Late" targetRef="End_1" />\n'
        '<bpmn:sequenceFlow id="Flow_3" sourceRef="Reply" targetRef="End_1" />\n'
        '<bpmn:endEvent id="End_1"><bpmn:incoming>Flow_2</bpmn:incoming><bpmn:incoming>Flow_3</bpmn:incoming>'
        '</bpmn:endEvent>\n', process_id).decode()
    return text.replace("<bpmn:process ", '<bpmn:message id="Message_1" name="reply" />\n<bpmn:process ', 1).encode()
