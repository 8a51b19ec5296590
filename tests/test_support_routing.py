"""The shared URL builders of tests/support/routing.py are the ones werkzeug compiles itself."""

from werkzeug.routing.rules import Rule

from tests.support import routing


def test_the_plugin_is_active_for_the_run():
    assert Rule._compile_builder is routing._shared_builder


def test_every_rule_of_the_app_gets_the_builder_werkzeug_compiles_for_it(sqlite_app):
    rules = list(sqlite_app.url_map.iter_rules())
    assert len(rules) > 100
    for rule in rules:
        for append_unknown, bound in ((False, rule._build), (True, rule._build_unknown)):
            shared, own = bound.__func__.__code__, routing.compile_uncached(rule, append_unknown).__code__
            assert (shared.co_code, shared.co_consts, shared.co_names, shared.co_varnames) == \
                   (own.co_code, own.co_consts, own.co_names, own.co_varnames), rule.rule


def test_urls_built_through_shared_builders_are_each_rules_own(sqlite_app):
    with sqlite_app.test_request_context():
        from flask import url_for

        assert url_for("static", filename="a b.css") == "/static/a%20b.css"
        assert url_for("static", filename="x.js", v="1") == "/static/x.js?v=1"


def test_every_rule_of_the_app_gets_the_parts_trace_and_converters_werkzeug_parses_for_it(sqlite_app):
    assert Rule.compile is routing._shared_compile
    rules = list(sqlite_app.url_map.iter_rules())
    assert len(rules) > 100
    for rule in rules:
        own = routing.compile_uncached_rule(rule)
        assert (rule._parts, rule._trace, rule.arguments) == (own._parts, own._trace, own.arguments), rule.rule
        assert list(rule._converters) == list(own._converters), rule.rule
        for name, converter in rule._converters.items():
            twin = own._converters[name]
            assert type(converter) is type(twin) and vars(converter) == vars(twin), (rule.rule, name)
            assert converter is not twin and converter.map is rule.map


def test_a_rule_parsed_again_in_a_second_app_has_converters_of_its_own(sqlite_app, tmp_path, engine):
    from tests.conftest import _make_app

    again = _make_app(f"sqlite:///{tmp_path / 'again.db'}", tmp_path / "again", engine)
    first = {rule.rule: rule for rule in sqlite_app.url_map.iter_rules()}
    for rule in again.url_map.iter_rules():
        twin = first[rule.rule]
        assert rule._parts == twin._parts
        for name, converter in rule._converters.items():
            assert converter is not twin._converters[name] and converter.map is again.url_map
