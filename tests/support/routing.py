"""Building an app once per test without compiling its URL builders once per test.

Every test builds its own app (its own database, settings, clock), and with it ~190 URL rules. For
each rule werkzeug generates the Python source of two URL builders and compiles it (``Rule.
_compile_builder``): half the cost of ``create_app`` (about 0.045 s of 0.085 s), paid again for the
same rules in every test. The builder's code depends only on the rule's parsed parts (its trace:
static text and variable names), the defaults it folds in as constants, and whether unknown
arguments are appended as a query string; the converters are looked up on the rule at call time.
So this plugin compiles each distinct builder once per process and hands the same function to
every later rule with the same parts; werkzeug binds it to that rule as before.

tests/test_support_routing.py checks, for every rule of a real app, that the shared builder's code
is the code werkzeug compiles for that rule itself.
"""

from werkzeug.routing.rules import Rule

_compile_builder = Rule._compile_builder
_builders: dict = {}


def builder_key(rule: Rule, append_unknown: bool) -> tuple:
    """What a rule's generated URL builder depends on."""
    defaults = rule.defaults or {}
    folded = tuple((name, rule._converters[name].to_url(defaults[name]))
                   for dynamic, name in rule._trace if dynamic and name in defaults)
    return append_unknown, tuple(rule._trace), folded


def _shared_builder(self: Rule, append_unknown: bool = True):
    key = builder_key(self, append_unknown)
    builder = _builders.get(key)
    if builder is None:
        builder = _builders[key] = _compile_builder(self, append_unknown)
    return builder


def compile_uncached(rule: Rule, append_unknown: bool):
    """The builder werkzeug itself compiles for rule (for the check of this plugin)."""
    return _compile_builder(rule, append_unknown)


def pytest_configure(config):
    Rule._compile_builder = _shared_builder


def pytest_unconfigure(config):
    Rule._compile_builder = _compile_builder
