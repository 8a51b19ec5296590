"""The app factory builds each app's own runtime: two apps in one process share no state."""

import pytest

from onestop.clock import ShiftedClock
from onestop.models import Centre, User, local_today, utcnow
from onestop.services import audit, codes, runtime
from tests.conftest import _close_pool, _make_app, make_user

WRONG_KEY = {"code": "000.00.00.H00-261126-0001", "key": "WRONG"}


@pytest.fixture
def two_apps(tmp_path, database_templates, engine, cold_engine):
    later = ShiftedClock()
    first = _make_app(database_templates.sqlite(tmp_path / "first.db"), tmp_path / "first", engine,
                      audit_key="the first installation's trail key, 40 chars", code_system="01", clock=later)
    second = _make_app(database_templates.sqlite(tmp_path / "second.db"), tmp_path / "second", cold_engine,
                       audit_key="the second installation's trail key, 40 chars", code_system="02")
    yield first, second, later
    _close_pool()


def test_two_apps_in_one_process_each_keep_their_own_engine_keys_database_clock_and_codes(two_apps, engine,
                                                                                         cold_engine):
    first, second, later = two_apps
    later.advance(10 * 86_400)
    seen = {}
    for name, app in (("first", first), ("second", second)):
        with app.app_context():
            make_user(f"canbo-{name}")
            centre = Centre.get(Centre.code == "default")
            seen[name] = (runtime.current(), runtime.engine(), audit.key_id(), local_today(),
                          codes.next_code(centre.id, utcnow()), {u.username for u in User.select()})
    assert seen["first"][0] is first.extensions["onestop.runtime"] is not second.extensions["onestop.runtime"]
    assert seen["first"][1] is engine and seen["second"][1] is cold_engine
    assert seen["first"][2] != seen["second"][2]
    assert (seen["first"][3] - seen["second"][3]).days == 10
    assert "-01" in seen["first"][4][-7:] and "-02" in seen["second"][4][-7:]
    assert "canbo-first" in seen["first"][5] and "canbo-second" not in seen["first"][5]
    assert "canbo-second" in seen["second"][5] and "canbo-first" not in seen["second"][5]


def test_an_app_context_inside_another_apps_hands_back_the_outer_runtime_when_it_ends(two_apps):
    first, second, _ = two_apps
    with first.app_context():
        with second.app_context():
            assert runtime.current() is second.extensions["onestop.runtime"]
            make_user("only-second")
        assert runtime.current() is first.extensions["onestop.runtime"]
        assert User.select().where(User.username == "only-second").count() == 0
    with second.app_context():
        assert User.select().where(User.username == "only-second").count() == 1


def test_a_request_served_inside_a_block_acting_in_another_runtime_hands_that_runtime_back(two_apps):
    first, second, _ = two_apps
    other = second.extensions["onestop.runtime"]
    with first.app_context(), runtime.active(other):
        assert first.test_client().get("/api/v1/openapi.json").status_code == 200
        assert runtime.current() is other


def test_an_apps_context_acts_in_its_runtime_by_itself_through_its_teardown_without_flasks_signals(two_apps):
    # Receivers of Flask's appcontext_pushed/popped signals did this, and cost every request two blinker sends
    # (onestop.app.RuntimeAppContext). Its teardown functions (the request's connection given back) run in it too.
    from flask import appcontext_popped, appcontext_pushed

    first, second, _ = two_apps
    assert not any(signal.has_receivers_for(app) for signal in (appcontext_pushed, appcontext_popped)
                   for app in (first, second))
    seen = []
    first.teardown_appcontext(lambda _exc: seen.append(runtime.current()))
    with second.app_context():
        assert first.test_client().get("/api/v1/openapi.json").status_code == 200
        assert seen == [first.extensions["onestop.runtime"]]
        assert runtime.current() is second.extensions["onestop.runtime"]


def test_a_requests_teardown_runs_what_is_registered_for_it_and_is_skipped_when_nothing_is(sqlite_app, monkeypatch):
    # Flask read the request's blueprints and sent request_tearing_down to no receiver on every request.
    from flask import request_tearing_down

    sent = []
    monkeypatch.setattr(request_tearing_down, "send", lambda *args, **kwargs: sent.append(kwargs["exc"]))
    client = sqlite_app.test_client()
    assert client.get("/healthz").status_code == 200 and sent == []
    monkeypatch.undo()
    torn, received = [], []
    # (registered as Flask's teardown_request decorators do, which refuse once the app has served a request)
    sqlite_app.teardown_request_funcs.setdefault(None, []).append(lambda exc: torn.append(("app", exc)))
    sqlite_app.teardown_request_funcs.setdefault("api", []).append(lambda exc: torn.append(("api", exc)))

    def receiver(sender, exc):
        received.append((sender, exc))

    request_tearing_down.connect(receiver, sqlite_app)
    try:
        assert client.get("/api/v1/openapi.json").status_code == 200
        assert client.get("/healthz").status_code == 200
    finally:
        request_tearing_down.disconnect(receiver, sqlite_app)
    assert torn == [("api", None), ("app", None), ("app", None)]
    assert received == [(sqlite_app, None), (sqlite_app, None)]


def test_wrong_lookup_keys_counted_by_one_app_do_not_slow_down_the_other(two_apps):
    first, second, _ = two_apps
    one, other = first.test_client(), second.test_client()
    for _ in range(20):
        assert one.post("/track", data=WRONG_KEY).status_code == 404
    assert one.post("/track", data=WRONG_KEY).status_code == 429
    assert other.post("/track", data=WRONG_KEY).status_code == 404


def test_an_app_hashes_passwords_at_argon2s_standard_cost_unless_its_settings_name_another(sqlite_url, tmp_path,
                                                                                          engine):
    standard = _make_app(sqlite_url, tmp_path, engine, password_hasher=None)
    with standard.app_context():
        user, _ = make_user("canbo1", password="mật-khẩu-đủ-dài")
        assert User.get_by_id(user.id).password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    _close_pool()


def _sample(converter):
    """A value of the kind a route's converter takes (what it makes of it is werkzeug's business)."""
    from werkzeug.routing.converters import AnyConverter, NumberConverter, PathConverter

    if isinstance(converter, NumberConverter):
        return 7
    if isinstance(converter, AnyConverter):
        return converter.regex.split("|")[0].strip("(?:)")
    if isinstance(converter, PathConverter):
        return "a b/c"
    return "2026-01-02" if r"\d{4}" in converter.regex else "a b"


def test_an_apps_url_rules_compile_their_builders_on_first_use_and_build_what_werkzeugs_own_build(sqlite_app):
    from tests.support.routing import compile_uncached_rule

    rules = list(sqlite_app.url_map.iter_rules())
    assert len(rules) > 100
    assert not [rule.rule for rule in rules if "_build" in vars(rule) or "_build_unknown" in vars(rule)]
    for rule in rules:
        own = compile_uncached_rule(rule)  # werkzeug's Rule, compiled as werkzeug compiles it
        values = {name: _sample(converter) for name, converter in rule._converters.items()}
        for append_unknown in (False, True):
            unknown = {"page": "2", "q": "x y"} if append_unknown else {}
            assert rule.build({**values, **unknown}, append_unknown) == own.build({**values, **unknown},
                                                                                 append_unknown), rule.rule
        assert "_build" in vars(rule) and "_build_unknown" in vars(rule)
    with sqlite_app.test_request_context():
        from flask import url_for

        assert url_for("static", filename="a b.css", v="1") == "/static/a%20b.css?v=1"


def test_the_gunicorn_master_keeps_what_it_imported_before_forking_out_of_the_collector(monkeypatch):
    """Its exit's last collections would otherwise walk the whole web layer (production's
    `gunicorn -c python:onestop.gunicorn_conf`, several workers): frozen once imported."""
    import gc
    import types

    import onestop.app
    from onestop import gunicorn_conf

    done = []
    monkeypatch.setattr(onestop.app, "import_modules", lambda *args: done.append("imported"))
    monkeypatch.setattr(gc, "freeze", lambda: done.append("frozen"))  # not this test process's objects
    gunicorn_conf.on_starting(types.SimpleNamespace(cfg=types.SimpleNamespace(workers=2)))
    assert done == ["imported", "frozen"]


def _outcome(adapter, path, method):
    """What werkzeug's matcher answers for path and method: the rule and values, or the exception."""
    from werkzeug.exceptions import HTTPException
    from werkzeug.routing import RequestRedirect

    try:
        rule, values = adapter.match(path, method=method, return_rule=True)
    except RequestRedirect as redirect:
        return "redirect", redirect.new_url
    except HTTPException as refused:
        return type(refused).__name__, sorted(getattr(refused, "valid_methods", None) or ())
    return rule.rule, rule.endpoint, values


def test_an_apps_url_map_builds_its_matcher_on_the_first_match_and_matches_as_werkzeugs_own(sqlite_app):
    from werkzeug.routing import Map

    url_map = sqlite_app.url_map
    rules = list(url_map.iter_rules())
    assert not url_map._matcher._root.static and not url_map._matcher._root.dynamic
    assert url_map.bind("localhost").build("static", {"filename": "a.css"}) == "/static/a.css"  # no matcher needed
    assert not url_map._matcher._root.static and len(url_map._matcher._waiting) == len(rules)
    own = Map([rule.empty() for rule in rules], converters=dict(url_map.converters),
              strict_slashes=url_map.strict_slashes, merge_slashes=url_map.merge_slashes,
              host_matching=url_map.host_matching)
    assert type(own._matcher).__name__ == "StateMachineMatcher"  # werkzeug's, built as rules are added
    ours, theirs = url_map.bind("localhost"), own.bind("localhost")
    paths = ["/", "/nowhere", "/admin", "/desk/", "/api/v1/procedures/", "/static/a/b.css"]
    for rule in rules:
        values = {name: _sample(converter) for name, converter in rule._converters.items()}
        paths.append(rule.build(values, False)[1])
    for path in paths:
        for method in ("GET", "POST", "DELETE"):
            assert _outcome(ours, path, method) == _outcome(theirs, path, method), (path, method)
    assert not url_map._matcher._waiting
    assert sqlite_app.test_client().get("/nowhere-at-all").status_code == 404


def test_rules_added_to_a_map_after_its_first_match_are_matched_too(sqlite_app):
    from werkzeug.routing import Rule

    adapter = sqlite_app.url_map.bind("localhost")
    assert _outcome(adapter, "/added/later/7", "GET")[0] == "NotFound"
    sqlite_app.url_map.add(Rule("/added/later/<int:n>", endpoint="added"))
    assert _outcome(adapter, "/added/later/7", "GET") == ("/added/later/<int:n>", "added", {"n": 7})


def test_an_app_tells_plain_hooks_from_coroutine_functions_without_asking_inspect_at_every_request(sqlite_app,
                                                                                                  monkeypatch):
    import functools
    import inspect

    import flask.app

    asked = []
    monkeypatch.setattr(flask.app, "iscoroutinefunction", lambda f: asked.append(f) or inspect.iscoroutinefunction(f))
    client = sqlite_app.test_client()
    assert client.get("/healthz").status_code == 200
    assert asked == []  # every hook and the view are plain functions: answered from their code's flags

    def plain():
        return 1

    async def coroutine():
        return 2  # pragma: no cover (never awaited here)

    marked = functools.partial(plain)
    assert sqlite_app.ensure_sync(plain) is plain
    with pytest.raises(RuntimeError, match="async"):  # Flask's own answer (here: without its async extra)
        sqlite_app.ensure_sync(coroutine)
    assert asked == [coroutine]
    assert sqlite_app.ensure_sync(marked) is marked and asked[-1] is marked  # anything else: Flask's own answer
    plain._is_coroutine_marker = object()  # marked (Python 3.12's inspect.markcoroutinefunction): Flask's own
    sqlite_app.ensure_sync(plain)
    assert asked[-1] is plain
