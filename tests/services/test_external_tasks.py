"""External tasks: workers of a centre fetch, lock, complete and fail its dossiers' service calls by
topic, on SQLite and PostgreSQL; a failure with no retry left is an incident the back office retries."""

import threading

import pytest

from onestop.models import AuditEvent, Centre, Dossier, ServiceCall, WorkItem
from onestop.services import centres, dossiers, external_tasks, lifecycle, procedures
from onestop.services.errors import Conflict, Forbidden, Invalid, NotFound
from tests.conftest import make_user

CAMUNDA = "http://camunda.org/schema/1.0/bpmn"


def tax_model(process_id="tax_check", topic="tax-check") -> bytes:
    """start -> external task Call (topic) -> user task Review -> end, in Camunda's dialect."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="{CAMUNDA}"
                  id="d" targetNamespace="t">
  <bpmn:process id="{process_id}" name="Kiểm tra thuế" isExecutable="true">
    <bpmn:startEvent id="StartEvent_1"/>
    <bpmn:sequenceFlow id="f1" sourceRef="StartEvent_1" targetRef="Call"/>
    <bpmn:serviceTask id="Call" name="Hỏi cơ quan thuế" camunda:type="external" camunda:topic="{topic}"/>
    <bpmn:sequenceFlow id="f2" sourceRef="Call" targetRef="Review"/>
    <bpmn:userTask id="Review" name="Xem xét"/>
    <bpmn:sequenceFlow id="f3" sourceRef="Review" targetRef="EndEvent_1"/>
    <bpmn:endEvent id="EndEvent_1"/>
  </bpmn:process>
</bpmn:definitions>""".encode()


def _upload(actor, process_id="tax_check", topic="tax-check"):
    procedures.upload_procedure(actor, [procedures.Upload(f"{process_id}.bpmn", tax_model(process_id, topic))])


@pytest.fixture
def centre_a(app):
    """An administrator of the default centre with the procedure, and a worker token for its topic."""
    with app.app_context():
        admin, _ = make_user("admin1", ("admin", "officer"))
        _upload(admin)
        robot, _ = make_user("tax.robot", ("integration",))
        token = external_tasks.issue_worker_token(robot, ["tax-check"], label="tax office", actor=admin)
        yield admin, external_tasks.worker_for_token(token)


def _start(admin, data=None):
    return dossiers.start_dossier(admin, "tax_check", data or {"tax_code": "0101234567"})


def _fetch(worker, worker_id="w1", max_tasks=10, lock_ms=60_000, **topic):
    request = external_tasks.TopicRequest("tax-check", lock_ms, **topic)
    return external_tasks.fetch_and_lock(worker, worker_id, max_tasks, [request])


def test_a_worker_fetches_a_dossiers_external_task_with_its_variables_and_completing_it_runs_the_dossier_on(
        app, centre_a):
    admin, worker = centre_a
    with app.app_context():
        dossier = _start(admin)
        assert WorkItem.select().where(WorkItem.dossier == dossier.id).count() == 0
        [locked] = _fetch(worker)
        assert (locked.dossier_code, locked.procedure_code, locked.call.element_id) == (dossier.code, "tax_check", "Call")
        assert locked.variables == {"tax_code": "0101234567"}
        assert _fetch(worker, "w2") == []  # locked: nobody else gets it
        external_tasks.complete(worker, locked.call.id, "w1", {"tax_ok": {"value": True, "type": "Boolean"},
                                                               "debts": {"value": '{"vnd": 0}', "type": "Json"}})
        after = Dossier.get_by_id(dossier.id)
        assert after.data["tax_ok"] is True and after.data["debts"] == {"vnd": 0}
        assert [w.element_id for w in WorkItem.select().where(WorkItem.dossier == dossier.id)] == ["Review"]
        assert ServiceCall.select().count() == 0
        assert AuditEvent.select().where(AuditEvent.action == "service_call.completed").count() == 1


def test_only_the_requested_variables_are_sent(app, centre_a):
    admin, worker = centre_a
    with app.app_context():
        _start(admin, {"tax_code": "1", "secret": "x"})
        [locked] = _fetch(worker, variables=("tax_code", "missing"))
        assert locked.variables == {"tax_code": "1"}


def test_a_token_without_the_topic_gets_nothing_and_another_centres_worker_never_sees_the_task(app, centre_a):
    admin, worker = centre_a
    with app.app_context():
        _start(admin)
        other_topic = external_tasks.worker_for_token(external_tasks.issue_worker_token(
            make_user("mail.robot", ("integration",))[0], ["mail"]))
        assert external_tasks.fetch_and_lock(other_topic, "w", 10, [external_tasks.TopicRequest("tax-check", 1000)]) == []
        system, _ = make_user("system", ("system_admin",))
        centres.import_units(system, [22])
        elsewhere = Centre.get(Centre.code == "W07093")
        their_admin, _ = make_user("b.admin", ("admin",), centre=elsewhere)
        _upload(their_admin)
        theirs = _start(their_admin)
        their_worker = external_tasks.worker_for_token(external_tasks.issue_worker_token(
            make_user("b.robot", ("integration",), centre=elsewhere)[0], ["tax-check"]))
        [mine] = _fetch(worker)
        [their_locked] = _fetch(their_worker)
        assert their_locked.dossier_code == theirs.code and mine.dossier_code != theirs.code
        with pytest.raises(NotFound):
            external_tasks.complete(their_worker, mine.call.id, "w1", {})
        with pytest.raises(NotFound):
            external_tasks.get(other_topic, mine.call.id)
        assert [t.dossier_code for t in external_tasks.pending(their_worker)] == [theirs.code]


def test_a_worker_token_is_no_token_for_the_rest_of_the_api_and_an_ordinary_token_serves_no_topic(app, centre_a):
    from onestop.services.users import issue_token, user_for_token

    admin, _worker = centre_a
    with app.app_context():
        robot, _ = make_user("robot2", ("integration",))
        token = external_tasks.issue_worker_token(robot, ["tax-check"])
        assert user_for_token(token) is None
        assert external_tasks.worker_for_token(issue_token(admin)) is None
        with pytest.raises(Forbidden):
            external_tasks.require_worker(None)
        with pytest.raises(Invalid):
            external_tasks.issue_worker_token(robot, [])


def test_only_the_worker_holding_the_lock_completes_the_task(app, centre_a):
    admin, worker = centre_a
    with app.app_context():
        _start(admin)
        [locked] = _fetch(worker)
        with pytest.raises(external_tasks.NotLockedByWorker):
            external_tasks.complete(worker, locked.call.id, "intruder", {})
        with pytest.raises(external_tasks.NotLockedByWorker):
            external_tasks.extend_lock(worker, locked.call.id, "intruder", 1000)


def test_a_lock_runs_out_and_the_task_goes_to_the_next_worker_unless_it_was_extended(app, centre_a, clock):
    admin, worker = centre_a
    with app.app_context():
        _start(admin)
        [locked] = _fetch(worker, lock_ms=10_000)
        clock.advance(5)
        external_tasks.extend_lock(worker, locked.call.id, "w1", 20_000)
        clock.advance(10)
        assert _fetch(worker, "w2") == []
        clock.advance(11)
        [again] = _fetch(worker, "w2")
        assert again.call.id == locked.call.id and again.call.worker_id == "w2"
        with pytest.raises(external_tasks.NotLockedByWorker):
            external_tasks.complete(worker, locked.call.id, "w1", {})
        external_tasks.unlock(worker, again.call.id)
        assert [t.call.id for t in _fetch(worker, "w3")] == [locked.call.id]


def test_a_failed_attempt_with_retries_left_waits_its_retry_timeout_then_is_fetchable_again(app, centre_a, clock):
    admin, worker = centre_a
    with app.app_context():
        _start(admin)
        [locked] = _fetch(worker)
        external_tasks.handle_failure(worker, locked.call.id, "w1", "the tax office is down", "timeout", 2, 30_000)
        assert _fetch(worker) == []
        clock.advance(31)
        [again] = _fetch(worker, "w2")
        assert (again.call.retries, again.call.error_message, again.call.error_details) == (
            2, "the tax office is down", "timeout")


def test_no_retry_left_is_an_incident_and_retrying_it_from_the_back_office_makes_the_task_fetchable_again(
        app, centre_a):
    admin, worker = centre_a
    with app.app_context():
        dossier = _start(admin)
        [locked] = _fetch(worker)
        external_tasks.handle_failure(worker, locked.call.id, "w1", "tax code unknown", None, 0, 0)
        [incident] = lifecycle.failed(admin)
        assert (incident.code, incident.state, incident.error_element) == (dossier.code, "error", "Call")
        assert "tax code unknown" in incident.error_message
        assert _fetch(worker) == [] and ServiceCall.select().count() == 0
        lifecycle.recover(admin, dossier.code, "retry")
        [again] = _fetch(worker)
        assert again.dossier_code == dossier.code and again.call.id != locked.call.id
        external_tasks.complete(worker, again.call.id, "w1", {"tax_ok": {"value": True}})
        assert [w.element_id for w in WorkItem.select().where(WorkItem.dossier == dossier.id)] == ["Review"]


def test_a_task_of_a_dossier_in_error_is_not_handed_out_nor_completed(app, centre_a):
    admin, worker = centre_a
    with app.app_context():
        dossier = _start(admin)
        [locked] = _fetch(worker, lock_ms=1)
        Dossier.update(state="error").where(Dossier.id == dossier.id).execute()
        with pytest.raises(Conflict):
            external_tasks.complete(worker, locked.call.id, "w1", {})
        assert _fetch(worker, "w2") == []


def test_a_dossier_stopped_while_its_call_waits_takes_the_call_away(app, centre_a):
    admin, worker = centre_a
    with app.app_context():
        dossier = _start(admin)
        lifecycle.end(admin, dossier.code, "stopped", "the applicant withdrew")
        assert ServiceCall.select().count() == 0 and _fetch(worker) == []


@pytest.mark.parametrize(("variables", "refused"), [
    ({"_engine": {"value": 1}}, "variable name"),
    ({"x": {"value": "abc", "type": "Integer"}}, "not a number"),
    ({"x": {"value": "{nope", "type": "Json"}}, "not readable JSON"),
    ({"x": {"value": "AAAA", "type": "Bytes"}}, "files are not taken"),
    ({"x": 3}, "must be an object with a value"),
])
def test_variables_onestop_cannot_keep_are_refused_naming_the_variable(app, centre_a, variables, refused):
    admin, worker = centre_a
    with app.app_context():
        _start(admin)
        [locked] = _fetch(worker)
        with pytest.raises(Invalid) as caught:
            external_tasks.complete(worker, locked.call.id, "w1", variables)
        assert refused in caught.value.message
        assert "Error" not in caught.value.message and "Traceback" not in caught.value.message


def test_values_are_typed_as_camunda_types_them():
    typed = external_tasks.typed
    assert [typed(v)["type"] for v in (None, True, 3, 2 ** 40, 1.5, "a", {"a": 1}, [1])] == [
        "Null", "Boolean", "Integer", "Long", "Double", "String", "Json", "Json"]
    assert typed({"a": "ở"})["value"] == '{"a": "ở"}'


def test_two_workers_fetching_at_once_never_lock_the_same_task(app, centre_a):
    admin, worker = centre_a
    with app.app_context():
        for _ in range(12):
            _start(admin)
    got, errors = {}, []
    barrier = threading.Barrier(4)

    def fetch(name):
        try:
            with app.app_context():
                barrier.wait()
                got[name] = []
                for _ in range(4):
                    got[name] += [t.call.id for t in _fetch(worker, name, max_tasks=2)]
        except Exception as exc:  # reported below: a thread's failure must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=fetch, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    every = [task for ids in got.values() for task in ids]
    assert len(every) == len(set(every)) == 12
    with app.app_context():
        holders = {c.id: c.worker_id for c in ServiceCall.select()}
    assert all(holders[task] == name for name, ids in got.items() for task in ids)


def test_a_fetch_waits_for_a_task_to_come_within_its_bound(app, centre_a):
    import time

    admin, worker = centre_a
    with app.app_context():
        began = time.monotonic()
        assert external_tasks.fetch_and_lock(worker, "w", 1, [external_tasks.TopicRequest("tax-check", 1000)],
                                             wait_seconds=0.6) == []
        assert 0.5 <= time.monotonic() - began < 5
