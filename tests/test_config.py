"""Settings come from ONESTOP_* environment variables; the engine's budgets among them."""

import pytest

from onestop.app import create_app
from onestop.config import WEB_THREADS, SettingsError, load_settings, web_threads, web_workers
from onestop.engine.budgets import Budgets


def test_the_budgets_default_to_what_the_deployment_guide_says(tmp_path, monkeypatch):
    for name in ("MAX_AUTOMATIC_STEPS", "MAX_STEP_SECONDS", "MAX_INSTANCES", "MAX_TIMER_YEARS",
                 "MIN_TIMER_CYCLE_SECONDS", "TIMER_RETRY_SECONDS"):
        monkeypatch.delenv(f"ONESTOP_{name}", raising=False)
    settings = load_settings(home=tmp_path, secret_key="k")
    assert settings.budgets() == Budgets(max_automatic_steps=1000, max_step_seconds=3.0, max_instances=1000,
                                         max_timer_years=100, min_cycle_seconds=60, timer_retry_seconds=1.0)


def test_each_budget_is_read_from_its_environment_variable_and_reaches_the_engine(tmp_path, monkeypatch):
    monkeypatch.setenv("ONESTOP_MAX_AUTOMATIC_STEPS", "5000")
    monkeypatch.setenv("ONESTOP_MAX_STEP_SECONDS", "1.5")
    monkeypatch.setenv("ONESTOP_MAX_INSTANCES", "200")
    monkeypatch.setenv("ONESTOP_MAX_TIMER_YEARS", "30")
    monkeypatch.setenv("ONESTOP_MIN_TIMER_CYCLE_SECONDS", "300")
    monkeypatch.setenv("ONESTOP_TIMER_RETRY_SECONDS", "0.25")
    expected = Budgets(max_automatic_steps=5000, max_step_seconds=1.5, max_instances=200, max_timer_years=30,
                       min_cycle_seconds=300, timer_retry_seconds=0.25)
    assert load_settings(home=tmp_path, secret_key="k").budgets() == expected
    app = create_app({"home": tmp_path / "home", "database_url": f"sqlite:///{tmp_path / 'onestop.db'}",
                      "testing": True, "run_timer_thread": False, "secret_key": "k"})
    engine = app.extensions["onestop.engine"]
    try:
        assert engine.budgets == expected and engine.script_engine.budgets == expected
    finally:
        engine.close()
        from onestop.db import database

        if not database.is_closed():
            database.close()


def test_the_connector_key_is_generated_once_under_home_or_read_from_the_environment_and_checked(tmp_path, monkeypatch):
    import pytest
    from cryptography.fernet import Fernet

    monkeypatch.delenv("ONESTOP_CONNECTOR_KEY", raising=False)
    first = load_settings(home=tmp_path, secret_key="k").connector_key
    assert first == load_settings(home=tmp_path, secret_key="k").connector_key == (tmp_path / "connector_key").read_text()
    assert oct((tmp_path / "connector_key").stat().st_mode & 0o777) == "0o600"
    Fernet(first.encode())  # a usable key
    rotated = f"{Fernet.generate_key().decode()},{first}"
    monkeypatch.setenv("ONESTOP_CONNECTOR_KEY", rotated)
    assert load_settings(home=tmp_path, secret_key="k").connector_key == rotated
    monkeypatch.setenv("ONESTOP_CONNECTOR_KEY", "too-short")
    with pytest.raises(ValueError, match="ONESTOP_CONNECTOR_KEY must be Fernet keys"):
        load_settings(home=tmp_path, secret_key="k")


def test_the_payment_gateway_is_its_settings_else_the_mounted_simulator_else_none(tmp_path, monkeypatch):
    from onestop.config import SIMULATOR_MERCHANT, SIMULATOR_SECRET

    for name in ("URL", "MERCHANT", "SECRET"):
        monkeypatch.delenv(f"ONESTOP_PAYMENT_{name}", raising=False)
    monkeypatch.setenv("ONESTOP_LOCAL_URL", "http://127.0.0.1:8123")
    assert load_settings(home=tmp_path, secret_key="k", simulators=False).payment_gateway() is None
    assert load_settings(home=tmp_path, secret_key="k", simulators=True).payment_gateway() == (
        "http://127.0.0.1:8123/simulators/payment", SIMULATOR_MERCHANT, SIMULATOR_SECRET)
    monkeypatch.setenv("ONESTOP_PAYMENT_URL", "https://sandbox.vnpayment.vn/")
    monkeypatch.setenv("ONESTOP_PAYMENT_MERCHANT", "TMN00001")
    monkeypatch.setenv("ONESTOP_PAYMENT_SECRET", "s3cret")
    assert load_settings(home=tmp_path, secret_key="k", simulators=True).payment_gateway() == (
        "https://sandbox.vnpayment.vn", "TMN00001", "s3cret")


def test_the_national_portals_lease_is_derived_from_its_timeout_unless_set(tmp_path, monkeypatch):
    from onestop.assemble import build_runtime

    def lease():
        settings = load_settings(home=tmp_path, secret_key="k", database_url=f"sqlite:///{tmp_path / 'a.db'}")
        return build_runtime(settings, engine=False).national_portal.lease_seconds

    for name in ("TIMEOUT", "LEASE_SECONDS"):
        monkeypatch.delenv(f"ONESTOP_NATIONAL_PORTAL_{name}", raising=False)
    assert lease() == 25  # 2 × the 10 s timeout + 5 s
    monkeypatch.setenv("ONESTOP_NATIONAL_PORTAL_TIMEOUT", "4")
    assert lease() == 13
    monkeypatch.setenv("ONESTOP_NATIONAL_PORTAL_LEASE_SECONDS", "1.5")
    assert lease() == 1.5


@pytest.mark.parametrize(("name", "value"), [("ONESTOP_NATIONAL_PORTAL_LEASE_SECONDS", "-1"),
                                             ("ONESTOP_TIMER_RETRY_SECONDS", "0"),
                                             ("ONESTOP_TIMER_RETRY_SECONDS", "nan")])
def test_a_lease_or_timer_floor_that_would_resend_or_spin_at_once_is_refused_naming_the_setting(
        tmp_path, monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=f"{name} must be at least"):
        load_settings(home=tmp_path, secret_key="k", database_url=f"sqlite:///{tmp_path / 'a.db'}")


@pytest.mark.parametrize(("name", "value", "said"), [
    ("ONESTOP_PORT", "abc", "error: ONESTOP_PORT must be a number; it is 'abc'"),
    ("ONESTOP_TIMER_RETRY_SECONDS", "0", "error: ONESTOP_TIMER_RETRY_SECONDS must be at least 0.05"),
    ("ONESTOP_AUDIT_KEY", "short", "error: ONESTOP_AUDIT_KEY must be at least 32 characters long")])
def test_a_command_given_a_setting_it_cannot_use_says_which_in_a_line_not_a_traceback(
        tmp_path, monkeypatch, capsys, name, value, said):
    from onestop import cli

    monkeypatch.setenv("ONESTOP_HOME", str(tmp_path))
    monkeypatch.setenv(name, value)
    assert cli.main(["init"]) == 2  # (a command that returns: with a usable value it would just make the database)
    err = capsys.readouterr().err
    assert err.startswith(said) and "Traceback" not in err


def test_a_web_process_runs_8_threads_on_sqlite_and_4_on_postgresql_unless_told_otherwise():
    assert web_threads("sqlite:////srv/onestop/onestop.db", environ={}) == 8 == WEB_THREADS["sqlite"]
    assert web_threads("postgresql://onestop@db/onestop", environ={}) == 4 == WEB_THREADS["postgresql"]
    assert web_threads("postgresql://onestop@db/onestop", environ={"ONESTOP_WEB_THREADS": "12"}) == 12
    assert web_threads("sqlite:///x.db", environ={"ONESTOP_WEB_THREADS": " "}) == 8  # empty: the default
    assert web_workers(environ={}) == 1 and web_workers(environ={"ONESTOP_WEB_WORKERS": "4"}) == 4


@pytest.mark.parametrize("value", ["lots", "0", "-1", "2.5", "257", "１２"])
def test_a_thread_count_that_is_not_a_whole_number_in_range_is_refused_naming_it(value):
    with pytest.raises(SettingsError, match=f"^ONESTOP_WEB_THREADS must be a whole number from 1 to 256, not {value!r}$"):
        web_threads("sqlite:///x.db", environ={"ONESTOP_WEB_THREADS": value})


@pytest.mark.parametrize("value", ["many", "0", "65", "1e1"])
def test_a_worker_count_that_is_not_a_whole_number_in_range_is_refused_naming_it(value):
    with pytest.raises(SettingsError, match=f"^ONESTOP_WEB_WORKERS must be a whole number from 1 to 64, not {value!r}$"):
        web_workers(environ={"ONESTOP_WEB_WORKERS": value})
