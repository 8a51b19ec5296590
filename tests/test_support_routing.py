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
