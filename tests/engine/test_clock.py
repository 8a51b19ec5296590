"""The engine's timers and the times it records follow the clock it is given, not the wall clock:
a three-day wait passes when the clock is advanced three days, with real SpiffWorkflow timers."""

from datetime import UTC, datetime, timedelta

import pytest

from onestop import clock as clocks
from onestop.clock import ShiftedClock
from onestop.engine import Budgets, Engine
from onestop.engine.parsing import SourceFile
from tests.security.budget_models import waiting_timer

THREE_DAYS = 3 * 86_400


def _waiting(engine, kind, value):
    model = engine.parse([SourceFile("wait.bpmn", waiting_timer(kind, value, "wait"))])
    step = engine.start(model)
    assert step.status == "active" and [w.element_id for w in step.waiting] == ["Wait"]
    return model, step


@pytest.fixture
def on_clock(engine):
    """An engine sharing the session's sandbox, on a clock of its own."""
    return Engine(engine.sandbox, compact_at=1, clock=ShiftedClock())


def test_a_three_day_timer_fires_when_the_engines_clock_has_moved_three_days_on(on_clock):
    model, step = _waiting(on_clock, "timeDuration", "P3D")
    assert abs(step.waiting[0].due_at - (on_clock.clock.now() + timedelta(days=3))) < timedelta(seconds=5)
    assert step.next_timer_at == step.waiting[0].due_at
    on_clock.clock.advance(THREE_DAYS - 60)
    assert on_clock.fire_timers(model, step.state).status == "active"  # a minute early: still waiting
    on_clock.clock.advance(61)
    fired = on_clock.fire_timers(model, step.state)
    assert fired.status == "completed" and fired.next_timer_at is None
    # What the step finished is stamped on the engine's clock, three days on, not on the wall clock.
    wait = next(f for f in fired.finished if f.element_id == "Wait")
    assert abs(wait.at - on_clock.clock.now()) < timedelta(seconds=5)
    assert wait.at - clocks.Clock().now() > timedelta(days=2, hours=23)


@pytest.mark.parametrize("retry", [None, 0.2], ids=["default", "set"])
def test_a_timer_due_sooner_than_the_retry_budget_is_looked_at_no_sooner_than_that(engine, retry):
    """The floor against a timer worker spinning on a due time that stays in the past: 1 s by default
    (the live-server tests set less, ONESTOP_TIMER_RETRY_SECONDS, not to wait a second a timer)."""
    budgets = Budgets() if retry is None else Budgets(timer_retry_seconds=retry)
    clock = ShiftedClock()
    on_clock = Engine(engine.sandbox, compact_at=1, clock=clock, budgets=budgets)
    before = clock.now()
    _model, step = _waiting(on_clock, "timeDuration", "PT0.05S")
    after, floor = clock.now(), timedelta(seconds=1 if retry is None else 0.2)
    assert step.waiting[0].due_at <= after + timedelta(seconds=0.05)  # due in 50 ms...
    assert before + floor <= step.next_timer_at <= after + floor  # ...looked at after the floor


def test_a_timer_date_passes_on_the_engines_clock(on_clock):
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0).isoformat()
    model, step = _waiting(on_clock, "timeDate", tomorrow)
    assert on_clock.fire_timers(model, step.state).status == "active"
    on_clock.clock.advance(86_400 + 1)
    assert on_clock.fire_timers(model, step.state).status == "completed"


def test_an_engine_without_a_clock_of_its_own_follows_the_process_clock(engine):
    bound = clocks.bind(ShiftedClock())
    try:
        model, step = _waiting(engine, "timeDuration", "PT1H")
        assert engine.fire_timers(model, step.state).status == "active"
        bound.advance(3600 + 1)
        assert engine.fire_timers(model, step.state).status == "completed"
    finally:
        clocks.bind(None)


def test_a_clock_only_moves_forward():
    with pytest.raises(ValueError):
        ShiftedClock().advance(-1)


def test_a_timer_date_without_a_zone_is_vietnam_time_whatever_the_servers_zone(engine):
    day = (datetime.now(UTC) + timedelta(days=2)).date()
    _, step = _waiting(engine, "timeDate", f"{day.isoformat()}T08:00:00")
    assert step.waiting[0].due_at == datetime(day.year, day.month, day.day, 1, 0)  # 08:00 at UTC+7
