"""Cron timer cycles (Camunda's Quartz form `0 0/5 * * * ?`, and the five-field Unix form) run
through croniter on the engine's clock, within the same budgets as ISO 8601 cycles."""

from datetime import UTC, datetime, timedelta

import pytest

from onestop.clock import ShiftedClock
from onestop.engine import Engine, ModelError
from onestop.engine.authoring import check_timer_value
from onestop.engine.budgets import Budgets, check_timer
from onestop.engine.cron import CronError, is_cron, next_after, to_croniter
from onestop.engine.parsing import SourceFile
from tests.security.budget_models import ticking_task, waiting_timer

SATURDAY_NOON_HANOI = datetime(2026, 12, 5, 5, 0, tzinfo=UTC)  # 12:00 at UTC+7


@pytest.fixture
def on_clock(engine):
    """An engine sharing the session's sandbox, on a clock of its own."""
    return Engine(engine.sandbox, compact_at=1, clock=ShiftedClock())


def _refusal(engine, content):
    with pytest.raises(ModelError) as caught:
        engine.parse([SourceFile("cron.bpmn", content)])
    return {p.element_id: p.message for p in caught.value.problems}


@pytest.mark.parametrize(("text", "expected"), [
    ("0 0/5 * * * ?", True),
    ("0/5 0/1 * 1/1 * ?", True),
    ("0 0 8 ? * MON-FRI", True),
    ("0 0 12 * * ? 2027", True),
    ("*/10 * * * *", True),
    ("R/PT1H", False),
    ("PT5M", False),
    ("2026-12-01T08:00:00Z", False),
    ("reminder", False),
    ("'R/PT1H'", False),
    ("wait if urgent else later", False),
    ("'PT1H' if a else 'P1D'", False),
    ("0 0 12 1W * ?", True),
    ("0 15 10 ? * 6#3", True),
])
def test_cron_texts_are_told_from_iso_values_and_expressions(text, expected):
    assert is_cron(text) is expected


@pytest.mark.parametrize(("quartz", "croniter_form"), [
    ("0 0/5 * * * ?", "0 0/5 * * * *"),
    ("0 15 10 ? * 6#3", "0 15 10 * * 5#3"),  # Quartz counts Sunday as 1: its 6 is Friday
    ("0 0 8 ? * 2-6", "0 0 8 * * 1-5"),
    ("0 0 8 ? * 1,7", "0 0 8 * * 0,6"),
    ("0 0 8 ? * MON-FRI", "0 0 8 * * MON-FRI"),
    ("0 0 12 * * ? 2027", "0 0 12 * * * 2027"),
    ("*/10 * * * *", "*/10 * * * *"),
])
def test_quartz_fields_become_what_croniter_reads(quartz, croniter_form):
    assert to_croniter(quartz)[0] == croniter_form


def test_a_quartz_week_day_means_the_same_day_as_in_camunda():
    third_friday = next_after("0 15 10 ? * 6#3", SATURDAY_NOON_HANOI)
    assert third_friday.astimezone(UTC) == datetime(2026, 12, 18, 3, 15, tzinfo=UTC)  # Friday 10:15 at UTC+7


def test_a_cron_time_is_read_on_the_centres_clock():
    # 08:00 on weekdays means 08:00 in Vietnam (01:00 UTC), whatever the server's zone.
    monday = next_after("0 0 8 ? * MON-FRI", SATURDAY_NOON_HANOI)
    assert monday == datetime(2026, 12, 7, 1, 0, tzinfo=UTC)


def test_a_cron_whose_last_year_has_passed_has_no_next_occurrence():
    assert next_after("0 0 12 * * ? 2020", SATURDAY_NOON_HANOI) is None


@pytest.mark.parametrize(("text", "words"), [
    ("0 15 10 LW * ?", "LW"),
    ("0 15 10 ? * 6L", "6L"),
    ("0 61 * * * ?", "0 61 * * * ?"),
    ("0 0 12 ? * MON * 1", "8 fields"),
])
def test_cron_forms_croniter_cannot_follow_are_refused_in_plain_words(text, words):
    with pytest.raises(CronError) as caught:
        next_after(text, SATURDAY_NOON_HANOI)
    assert words in str(caught.value)


@pytest.mark.parametrize("text", ["0/5 0/1 * 1/1 * ?", "* * * * * ?", "0,30 0 0 1 1 ?"])
def test_a_cron_firing_more_often_than_the_budget_allows_is_refused(text):
    assert "more often than once every 60 seconds" in check_timer("cycle", text, Budgets())


def test_a_cron_firing_every_five_minutes_is_within_budget():
    assert check_timer("cycle", "0 0/5 * * * ?", Budgets()) is None
    assert "every 600 seconds" in check_timer("cycle", "0 0/5 * * * ?", Budgets(min_cycle_seconds=600))


def test_a_cron_that_never_fires_again_is_refused():
    assert "never fires" in check_timer("cycle", "0 0 12 * * ? 2020", Budgets())


def test_a_cron_in_a_duration_timer_is_refused_as_a_cycle_written_in_the_wrong_place():
    assert "timeCycle" in check_timer("duration", "0 0/5 * * * ?", Budgets())


def test_camundas_cron_example_is_refused_for_its_frequency_not_as_a_syntax_error(engine):
    problems = _refusal(engine, ticking_task("0/5 0/1 * 1/1 * ?"))
    assert "syntax" not in problems["Tick"]
    assert "more often than once every 60 seconds" in problems["Tick"]


def test_an_impossible_cron_is_refused_at_upload_naming_the_element(engine):
    problems = _refusal(engine, ticking_task("0 15 10 LW * ?"))
    assert "Tick" in problems and "LW" in problems["Tick"]


def test_a_cron_boundary_timer_fires_on_each_occurrence_as_the_clock_moves(on_clock):
    model = on_clock.parse([SourceFile("cron.bpmn", ticking_task("0 0/5 * * * ?"))])
    step = on_clock.start(model)
    assert step.status == "active"
    first_due = step.next_timer_at
    now = on_clock.clock.now()
    assert timedelta(0) < first_due - now <= timedelta(minutes=5)
    assert first_due.minute % 5 == 0 and first_due.second == 0
    assert on_clock.fire_timers(model, step.state).finished == []  # not yet due
    on_clock.clock.advance((first_due - now).total_seconds() + 1)
    fired = on_clock.fire_timers(model, step.state)
    assert [f.element_id for f in fired.finished].count("End_Tick") == 1
    assert fired.next_timer_at == first_due + timedelta(minutes=5)
    on_clock.clock.advance(300)
    again = on_clock.fire_timers(model, fired.state)
    assert [f.element_id for f in again.finished].count("End_Tick") == 1
    assert again.next_timer_at == first_due + timedelta(minutes=10)


def test_a_cron_that_missed_many_occurrences_fires_once_and_waits_for_the_next(on_clock):
    model = on_clock.parse([SourceFile("cron.bpmn", ticking_task("0 0 * * * ?"))])
    step = on_clock.start(model)
    on_clock.clock.advance(86_400)  # the server was down for a day: 24 hourly occurrences missed
    fired = on_clock.fire_timers(model, step.state)
    assert [f.element_id for f in fired.finished].count("End_Tick") == 1
    assert timedelta(0) < fired.next_timer_at - on_clock.clock.now() <= timedelta(hours=1)


def test_a_cron_from_an_expression_runs_and_one_out_of_budget_stops_the_dossier(engine):
    model = engine.parse([SourceFile("cron.bpmn", ticking_task("cycle"))])
    assert engine.start(model, {"cycle": "0 0 8 ? * MON-FRI"}).status == "active"
    step = engine.start(model, {"cycle": "* * * * * ?"})
    assert step.status == "error" and step.error["element_id"] == "Tick"
    assert "60 seconds" in step.error["message"]


def test_a_cron_limited_to_a_coming_year_waits_for_its_first_occurrence(on_clock):
    model = on_clock.parse([SourceFile("cron.bpmn", waiting_timer("timeCycle", "0 0 12 1 1 ? 2030", "wait"))])
    step = on_clock.start(model)
    assert step.status == "active"
    assert step.next_timer_at == datetime(2030, 1, 1, 5, 0)  # noon in Hanoi, naive UTC


def test_the_modellers_panel_reads_a_cron_cycle_as_the_engine_does():
    assert check_timer_value("cycle", "0 0 8 ? * MON-FRI", Budgets(), iso=True).code is None
    assert check_timer_value("cycle", "* * * * * ?", Budgets(), iso=True).code == "too_often"
    assert check_timer_value("cycle", "0 0 8 ? * MON-FRI").code is None  # as written in the model


def test_a_cron_whose_years_run_out_fires_its_last_occurrence_and_ends_its_timer(on_clock):
    model = on_clock.parse([SourceFile("cron.bpmn", ticking_task("0 0 12 1 1 ? 2027"))])
    step = on_clock.start(model)
    assert step.next_timer_at == datetime(2027, 1, 1, 5, 0)
    on_clock.clock.advance((datetime(2027, 1, 2) - on_clock.clock.now()).total_seconds())
    fired = on_clock.fire_timers(model, step.state)
    assert [f.element_id for f in fired.finished].count("End_Tick") == 1
    assert fired.next_timer_at is None and "Tick" not in [w.element_id for w in fired.waiting]
    assert fired.status == "active"  # the task it was attached to still waits for its officer
