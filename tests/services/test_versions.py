"""Comparing two versions of a procedure element by element (services/versions.diff_models, compare):
what the diagrams colour and the review page lists."""

import pytest

from onestop.models import Centre
from onestop.services import centres, procedures, templates, versions
from onestop.services.errors import NotFound
from onestop.services.procedures import checked_model
from tests.conftest import make_user

CODE = "1.004567"


def _files(name="appraise_sign_return", change=None):
    files = templates.renamed(templates.files(name), CODE, "Thủ tục thử")
    if change:
        files = [type(f)(f.name, change(f.name, f.content)) for f in files]
    return files


def _bpmn_change(old, new):
    return lambda name, content: content.replace(old.encode(), new.encode()) if name.endswith(".bpmn") else content


@pytest.fixture
def admin(sqlite_app):
    with sqlite_app.app_context():
        user, _ = make_user("quantri", ("admin",))
        yield user


def test_a_renamed_task_is_changed_by_its_name(admin):
    before = checked_model(_files())
    after = checked_model(_files(change=_bpmn_change('name="Thẩm định hồ sơ"', 'name="Thẩm định, xác minh hồ sơ"')))
    diff = versions.diff_models(before, after, 1, 2)
    assert diff["elements"]["changed"] == ["Task_Appraise"]
    assert diff["elements"]["what"] == {"Task_Appraise": ["name"]}
    assert diff["elements"]["names"]["Task_Appraise"] == "Thẩm định, xác minh hồ sơ"
    assert diff["elements"]["added"] == diff["elements"]["removed"] == []


def test_a_changed_condition_marks_its_gateway_with_the_old_and_new_expression(admin):
    before = checked_model(_files())
    after = checked_model(_files(change=_bpmn_change("documents_complete == True", "documents_complete")))
    diff = versions.diff_models(before, after)
    assert diff["elements"]["what"] == {"Gateway_Complete": ["conditions"]}
    assert diff["elements"]["conditions"] == {
        "Gateway_Complete": {"Gateway_ToAppraise": ["documents_complete == True", "documents_complete"]}}


def test_a_reworded_form_marks_the_step_that_shows_it(admin):
    reworded = _files(change=lambda name, content: content.replace(
        "Phê duyệt, ký kết quả".encode(), "Ký số kết quả".encode()) if name == "sign-schema.json" else content)
    diff = versions.diff_models(checked_model(_files()), checked_model(reworded))
    assert diff["forms"]["changed"] == ["sign-schema.json"] and diff["forms"]["fields"] == {}
    assert diff["elements"]["what"] == {"Task_Sign": ["form_content"]}


def test_new_steps_are_added_and_the_flows_that_reach_them_too(admin):
    diff = versions.diff_models(checked_model(_files()), checked_model(_files("financial_obligation")))
    assert diff["elements"]["added"] == ["Task_Finalize", "Task_Obligation"]
    assert diff["elements"]["removed"] == []
    assert {"Flow_Paid", "Flow_Finalized"} <= set(diff["flows"]["added"])
    # "approve" now leads to the tax wait: a new condition, and a new next step
    assert diff["elements"]["what"]["Gateway_Appraisal"] == ["conditions", "outputs"]
    assert diff["forms"]["added"] == ["finalize-schema.json", "obligation-schema.json"]
    backwards = versions.diff_models(checked_model(_files("financial_obligation")), checked_model(_files()))
    assert backwards["elements"]["removed"] == ["Task_Finalize", "Task_Obligation"]
    assert set(backwards["flows"]["removed"]) == set(diff["flows"]["added"])


def test_a_step_rewired_to_another_next_step_is_changed_though_no_condition_says_so(admin):
    rewired = _files(change=_bpmn_change('sourceRef="Task_Return" targetRef="End_Done"',
                                         'sourceRef="Task_Return" targetRef="End_Refused"'))
    diff = versions.diff_models(checked_model(_files()), checked_model(rewired))
    assert diff["elements"]["what"] == {"Task_Return": ["outputs"]}
    assert diff["flows"] == {"added": [], "removed": []}  # the same flow id, another target


def _upload(actor, files):
    return procedures.upload_procedure(actor, [procedures.Upload(f.name, f.content) for f in files])[0]


def test_two_stored_versions_are_compared_by_number_and_the_newest_two_by_default(admin):
    _upload(admin, _files())
    _upload(admin, _files("site_inspection"))
    _upload(admin, _files("financial_obligation"))
    latest = versions.compare(admin, CODE)
    assert (latest.old.version, latest.new.version, latest.versions) == (2, 3, [1, 2, 3])
    chosen = versions.compare(admin, CODE, 1, 2)
    assert chosen.diff["elements"]["added"] == ["Gateway_Inspection", "Task_Inspect"]
    assert chosen.old_model.diagram and chosen.new_model.diagram
    with pytest.raises(NotFound):
        versions.compare(admin, CODE, 1, 9)


def test_another_centres_procedure_cannot_be_compared(admin):
    _upload(admin, _files())
    system, _ = make_user("system", ("system_admin",))
    centres.import_units(system, [22])
    other, _ = make_user("xa.admin", ("admin",), centre=Centre.get(Centre.code == "W07090"))
    with pytest.raises(NotFound):
        versions.compare(other, CODE)
