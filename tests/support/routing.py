"""Building an app once per test without parsing and compiling its URL rules once per test.

Every test builds its own app (its own database, settings, clock), and with it ~270 URL rules. For
each rule werkzeug parses the rule's text into the parts its matcher walks (``Rule._parse_rule``:
regular expressions, weights, a converter per variable), then generates the Python source of two
URL builders and compiles it (``Rule._compile_builder``): most of the cost of ``create_app``, paid
again for the same rules in every test. Both are pure functions of what this plugin keys them on:

- the parts and trace depend on the rule's text, its subdomain (or host), whether it merges
  slashes, and the map's converter classes; the converters themselves are still made for each rule
  (``Rule.get_converter``, bound to its own map) from the arguments recorded at the first parse;
- a builder's code depends only on the rule's parsed parts (its trace: static text and variable
  names), the defaults it folds in as constants, and whether unknown arguments are appended as a
  query string; the converters are looked up on the rule at call time.

So this plugin parses each distinct rule and compiles each distinct builder once per process, and
gives every later rule with the same key the same (immutable) parts and the same function;
werkzeug binds it to that rule as before.

tests/test_support_routing.py checks, for every rule of a real app, that the shared parts, trace,
converters and builders are what werkzeug makes for that rule itself.
"""

from werkzeug.routing.rules import Rule

_compile = Rule.compile
_compile_builder = Rule._compile_builder
_builders: dict = {}
_parsed: dict = {}  # parse key -> (parts, trace, [(variable, converter, args, kwargs)])


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


def parse_key(rule: Rule) -> tuple:
    """What a rule's parts, trace and converters' arguments depend on."""
    domain = (rule.host if rule.map.host_matching else rule.subdomain) or ""
    return rule.rule, domain, bool(rule.merge_slashes), tuple(rule.map.converters.items())


def _recording_compile(rule: Rule) -> list:
    """Werkzeug's own compile of rule; returns the converters it asked for, in order."""
    asked = []
    own = rule.get_converter

    def get_converter(variable, converter, args, kwargs):
        asked.append((variable, converter, args, kwargs))
        return own(variable, converter, args, kwargs)

    rule.get_converter = get_converter
    try:
        _compile(rule)
    finally:
        del rule.get_converter
    return asked


def _shared_compile(self: Rule) -> None:
    assert self.map is not None, "rule not bound"
    key = parse_key(self)
    known = _parsed.get(key)
    if known is None:
        asked = _recording_compile(self)
        _parsed[key] = (tuple(self._parts), tuple(self._trace), tuple(asked))
        return
    parts, trace, asked = known
    self._parts = list(parts)
    self._trace = list(trace)
    self._converters = {variable: self.get_converter(variable, converter, args, kwargs)
                        for variable, converter, args, kwargs in asked}
    self.arguments.update(self._converters)
    self._build = self._compile_builder(False).__get__(self, None)
    self._build_unknown = self._compile_builder(True).__get__(self, None)


def compile_uncached_rule(rule: Rule) -> Rule:
    """A copy of rule bound to a map like its own and parsed by werkzeug itself (for the check)."""
    own = Rule(rule.rule, defaults=rule.defaults, subdomain=rule.subdomain, methods=rule.methods,
               build_only=rule.build_only, endpoint=rule.endpoint, strict_slashes=rule.strict_slashes,
               merge_slashes=rule.merge_slashes, redirect_to=rule.redirect_to, alias=rule.alias,
               host=rule.host, websocket=rule.websocket)
    own.map = rule.map
    _recording_compile(own)
    return own


def pytest_configure(config):
    Rule._compile_builder = _shared_builder
    Rule.compile = _shared_compile


def pytest_unconfigure(config):
    Rule._compile_builder = _compile_builder
    Rule.compile = _compile

