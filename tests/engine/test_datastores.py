"""SpiffArena data stores run as lookup tables handed in by the caller: a task reads a table by
the store's id, a write comes back on the Step, kinds that cannot run are refused at upload."""

import pytest

from onestop.engine import ModelError, Stored, lookup_tables, referenced_tables
from onestop.engine.parsing import SourceFile
from tests.conftest import MODELS

FEE_LOOKUP = MODELS / "datastores" / "fee_lookup.bpmn"
FEES = {"new": {"fee_vnd": 100000}, "renewal": {"fee_vnd": 50000}}


def _model(engine, text=None):
    return engine.parse([SourceFile("fee_lookup.bpmn", (text or FEE_LOOKUP.read_text()).encode())])


def test_a_model_names_the_tables_its_tasks_read_and_write(engine):
    assert referenced_tables(_model(engine)) == ["fees", "issued"]


def test_the_tables_a_model_references_are_worked_out_once_per_spec(engine):
    model = _model(engine)
    assert referenced_tables(model) == ["fees", "issued"]
    walked = []

    class Counted(dict):
        def values(self):
            walked.append(1)
            return super().values()

    model.spec.task_specs = Counted(model.spec.task_specs)
    names = referenced_tables(model)  # every step asks: not its spec's every task again
    names.append("changed by a caller")
    assert referenced_tables(model) == ["fees", "issued"] and walked == []
    other = _model(engine, FEE_LOOKUP.read_text().replace("issued", "granted"))
    model.spec, model.subprocess_specs = other.spec, other.subprocess_specs  # other specs: worked out again
    assert referenced_tables(model) == referenced_tables(other) == ["fees", "granted"]


def test_a_task_reads_the_tables_handed_in_and_its_write_comes_back_on_the_step(engine):
    model = _model(engine)
    with lookup_tables({"fees": FEES, "issued": {"count": 41}}):
        step = engine.start(model, {"kind": "renewal"})
    assert step.status == "active", step.error
    assert step.data["fee_vnd"] == 50000
    assert step.table_writes == {"issued": {"count": 42}}
    assert "fees" not in step.data and "issued" not in step.data  # a table never lands in the dossier's data


def test_a_table_the_centre_lacks_puts_the_dossier_in_error_naming_it(engine):
    with lookup_tables({"issued": {"count": 0}}):
        step = engine.start(_model(engine), {"kind": "new"})
    assert step.status == "error"
    assert "'fees'" in step.error["message"] and "back office" in step.error["message"]
    assert step.table_writes == {}


def test_the_lookup_table_specs_survive_the_stored_spec_and_a_reload(engine):
    from onestop.engine.parsing import ParsedModel

    model = ParsedModel.loads(_model(engine).dumps())
    assert referenced_tables(model) == ["fees", "issued"]
    with lookup_tables({"fees": FEES, "issued": {"count": 1}}):
        step = engine.start(model, {"kind": "new"})
    engine.keep("reloaded", 1, step)
    done = engine.complete_task(model, Stored("reloaded", 2, lambda: step.state), step.ready[0].id, {})
    assert done.status == "completed" and done.data["fee_vnd"] == 100000


@pytest.mark.parametrize("kind", ["KKVDataStore", "TypeaheadDataStore"])
def test_a_data_store_kind_that_cannot_run_is_refused_in_plain_words(engine, kind):
    text = FEE_LOOKUP.read_text().replace('id="fees" name="JSONDataStore"', f'id="fees" name="{kind}"')
    with pytest.raises(ModelError) as refused:
        _model(engine, text)
    [problem] = refused.value.problems
    assert problem.element_id == "fees" and kind in problem.message and "cannot run in onestop" in problem.message


def test_a_data_store_another_modeller_drew_is_a_drawing_only_with_a_warning(engine):
    text = FEE_LOOKUP.read_text().replace('id="issued" name="JSONDataStore"', 'id="issued" name="Sổ theo dõi"')
    text = text.replace('issued = {"count": issued["count"] + 1}', "pass")
    model = _model(engine, text)
    assert referenced_tables(model) == ["fees"]
    [warning] = [w for w in model.warnings if w["element_id"] == "issued"]
    assert "drawing only" in warning["message"]
    with lookup_tables({"fees": FEES}):
        step = engine.start(model, {"kind": "new"})
    assert step.status == "active" and step.table_writes == {}
