"""The engine's timers and the times it records follow the clock it is given, not the wall clock:
a three-day wait passes when the clock is advanced three days, with real SpiffWorkflow timers."""

from datetime import UTC, datetime, timedelta

import pytest

from onestop import clock as clocks
from onestop.clock import ShiftedClock
from onestop.engine import Engine
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
