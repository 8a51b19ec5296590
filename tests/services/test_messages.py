"""Messages sent by name: delivered to the one dossier of the centre that waits for them, or starting
a new dossier of the procedure that starts with them; never across centres; ambiguity refused."""

import json

import pytest

from onestop.models import AuditEvent, Centre, Dossier
from onestop.services import dossiers, messages, procedures
from onestop.services.errors import Conflict, Invalid, NotFound
from tests.conftest import MODELS, make_user


def _upload(actor, *names, meta=None):
    files = [procedures.Upload(name, (MODELS / name).read_bytes()) for name in names]
    if meta:
        files.append(procedures.Upload("procedure.json", json.dumps(meta).encode()))
    return procedures.upload_procedure(actor, files)


def _centres(system):
    from onestop.services import centres

    centres.import_units(system, [22])
    a, b = Centre.get(Centre.code == "W07090"), Centre.get(Centre.code == "W07093")
    officer_a, _ = make_user("canbo.a", ("officer", "admin"), centre=a)
    officer_b, _ = make_user("canbo.b", ("officer", "admin"), centre=b)
    return officer_a, officer_b


def _done(actor, dossier, element_id):
    from onestop.models import WorkItem

    [task] = WorkItem.select().where((WorkItem.dossier == dossier.id) & (WorkItem.element_id == element_id))
    return dossiers.complete_task(actor, task.id, {})


def test_a_message_starts_a_dossier_of_the_procedure_that_waits_for_it_and_a_later_one_reaches_it_by_key(app):
    with app.app_context():
        officer, _ = make_user("canbo", ("officer", "admin"))
        _upload(officer, "tax-notice-camunda.bpmn")
        started = messages.send_message(officer, "tax_assessed", {"tax_vnd": 1200000}, business_key="TB-2026-001")
        assert started.result == "started"
        dossier = Dossier.get_by_id(started.dossier.id)
        assert (dossier.business_key, dossier.data, dossier.state) == ("TB-2026-001", {"tax_vnd": 1200000}, "active")
        assert AuditEvent.select().where((AuditEvent.dossier == dossier.id)
                                         & (AuditEvent.action == "dossier.started")).count() == 1
        _done(officer, dossier, "Review")

        delivered = messages.send_message(officer, "fee_paid", {"receipt": "BL-7"}, business_key="TB-2026-001")
        assert (delivered.result, delivered.dossier.id) == ("delivered", dossier.id)
        after = Dossier.get_by_id(dossier.id)
        assert after.data == {"tax_vnd": 1200000, "receipt": "BL-7"}
        assert [w.element_id for w in after.waiting] == [] and after.state == "active"

        # The same key again: the dossier exists and waits for no such message; nothing is started.
        with pytest.raises(Conflict, match="does not wait for message"):
            messages.send_message(officer, "tax_assessed", {"tax_vnd": 1}, business_key="TB-2026-001")
        assert Dossier.select().count() == 1


def test_a_message_correlates_by_the_dossier_code_and_by_data_variables(app):
    with app.app_context():
        officer, _ = make_user("canbo", ("officer", "admin"))
        _upload(officer, "tax-notice-camunda.bpmn")
        first = messages.send_message(officer, "tax_assessed", {"tax_vnd": 1, "parcel": "P-1"}).dossier
        second = messages.send_message(officer, "tax_assessed", {"tax_vnd": 2, "parcel": "P-2"}).dossier
        for d in (first, second):
            _done(officer, d, "Review")
        with pytest.raises(Conflict, match=r"fee_paid.*matches 2 waiting dossiers"):
            messages.send_message(officer, "fee_paid", {"receipt": "BL-1"})
        by_code = messages.send_message(officer, "fee_paid", {"receipt": "BL-1"}, business_key=first.code)
        assert by_code.dossier.id == first.id
        by_data = messages.send_message(officer, "fee_paid", {"receipt": "BL-2"}, correlation={"parcel": "P-2"})
        assert by_data.dossier.id == second.id and Dossier.get_by_id(second.id).data["receipt"] == "BL-2"


def test_a_spiffarena_correlation_property_finds_the_dossier_of_its_parcel(app):
    with app.app_context():
        officer, _ = make_user("canbo", ("officer", "admin"))
        _upload(officer, "land-record-spiff.bpmn")
        mine = dossiers.start_dossier(officer, "land_record", {"parcel": "P-12"})
        other = dossiers.start_dossier(officer, "land_record", {"parcel": "P-34"})
        reached = messages.send_message(officer, "land_record_ready", {"parcel": "P-34", "area": 80})
        assert reached.dossier.id == other.id
        assert Dossier.get_by_id(other.id).data["record"] == {"parcel": "P-34", "area": 80}
        assert Dossier.get_by_id(mine.id).data == {"parcel": "P-12"}
        with pytest.raises(NotFound, match="land_record_ready"):  # nobody waits for parcel P-99, nothing starts
            messages.send_message(officer, "land_record_ready", {"parcel": "P-99"})


def test_a_message_never_reaches_another_centres_dossier(app):
    with app.app_context():
        system, _ = make_user("system", ("system_admin",))
        officer_a, officer_b = _centres(system)
        _upload(officer_b, "tax-notice-camunda.bpmn")
        theirs = messages.send_message(officer_b, "tax_assessed", {"tax_vnd": 5}, business_key="K-1").dossier
        _done(officer_b, theirs, "Review")
        for key in ("K-1", theirs.code, None):
            with pytest.raises(NotFound, match="fee_paid"):
                messages.send_message(officer_a, "fee_paid", {"receipt": "x"}, business_key=key)
        with pytest.raises(NotFound, match="tax_assessed"):  # B's procedure starts nothing at A
            messages.send_message(officer_a, "tax_assessed", {"tax_vnd": 1})
        with pytest.raises(NotFound):  # a centre outside A's scope cannot be named either
            messages.send_message(officer_a, "fee_paid", {}, business_key="K-1", centre="W07093")
        assert Dossier.get_by_id(theirs.id).data == {"tax_vnd": 5}
        assert Dossier.select().where(Dossier.centre == officer_a.centre_id).count() == 0


def test_an_unknown_or_ambiguous_message_is_refused_naming_it(app):
    with app.app_context():
        officer, _ = make_user("canbo", ("officer", "admin"))
        with pytest.raises(NotFound, match="no_such_message"):
            messages.send_message(officer, "no_such_message", {})
        _upload(officer, "tax-notice-camunda.bpmn")
        other = (MODELS / "tax-notice-camunda.bpmn").read_text().replace('id="tax_notice"', 'id="tax_notice_2"')
        procedures.upload_procedure(officer, [procedures.Upload("tax2.bpmn", other.encode())])
        with pytest.raises(Conflict, match=r"tax_assessed.*starts more than one procedure"):
            messages.send_message(officer, "tax_assessed", {})
        for bad in ({"name": ""}, {"name": "x", "payload": [1]}, {"name": "x", "business_key": 7},
                    {"name": "x", "correlation": {"a": [1]}}, {"name": "x", "payload": {"_engine": 1}}):
            with pytest.raises(Invalid):
                messages.send_message(officer, bad["name"], bad.get("payload"), bad.get("business_key"),
                                      bad.get("correlation"))


def test_a_procedure_may_declare_its_business_key_from_the_data(app):
    with app.app_context():
        officer, _ = make_user("canbo", ("officer", "admin"))
        _upload(officer, "land-record-spiff.bpmn", meta={"business_key": "parcel"})
        dossier = dossiers.start_dossier(officer, "land_record", {"parcel": "P-77"})
        assert Dossier.get_by_id(dossier.id).business_key == "P-77"
        with pytest.raises(Conflict, match="P-77"):
            dossiers.start_dossier(officer, "land_record", {"parcel": "P-77"})
        reached = messages.send_message(officer, "land_record_ready", {"parcel": "P-77"}, business_key="P-77")
        assert reached.dossier.id == dossier.id


def test_too_many_dossiers_waiting_for_a_message_are_not_guessed_among(app, monkeypatch):
    with app.app_context():
        officer, _ = make_user("canbo", ("officer", "admin"))
        _upload(officer, "tax-notice-camunda.bpmn")
        for n in range(3):
            _done(officer, messages.send_message(officer, "tax_assessed", {"n": n}).dossier, "Review")
        monkeypatch.setattr(messages, "MAX_CANDIDATES", 2)
        with pytest.raises(Conflict, match=r"more than 2 dossiers wait for message 'fee_paid'"):
            messages.send_message(officer, "fee_paid", {}, correlation={"n": 2})
        last = Dossier.select().order_by(Dossier.id.desc()).first()
        assert messages.send_message(officer, "fee_paid", {}, business_key=last.code).dossier.id == last.id
