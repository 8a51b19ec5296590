"""Task instructions written as Jinja templates (SpiffArena's `instructionsForEndUser`), rendered
against the task's data in a sandbox.

The model is untrusted: `render` uses Jinja's ImmutableSandboxedEnvironment (no attribute of
Python's internals, no method that changes data) with autoescape, and bounds the work a template
may ask for. Every number passed to a function or filter stays under MAX_NUMBER (no range(10**9),
no "x"|center(10**9)); `*`, `**` and `%` on large operands are refused; the template's own code
may run at most MAX_STEPS lines (a loop inside a loop over the data cannot run for minutes); the
text it writes stops at MAX_CHARS. Whatever goes wrong, the caller gets the raw text back and the
reason is logged: a template's error never becomes a page's error. The result is Markdown still to
be rendered and sanitised by the page (web/markup.py), as instructions always were.
"""

from __future__ import annotations

import functools
import logging
import re
import sys

from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

log = logging.getLogger(__name__)

MAX_NUMBER = 10_000
MAX_STEPS = 200_000
MAX_CHARS = 20_000
MAX_TEXT = 100_000  # the longest text or list a template may build on its way
_TEMPLATE_FILE = "<instructions>"
# A width or precision of five digits or more, or one taken from an argument, in %-style or {}-style formats.
_WIDE_FORMAT = re.compile(r"%[-#0 +]*(\*|\d{5,}|\d*\.(\*|\d{5,}))|\{[^{}]*:[^{}]*(\d{5,}|\{)")


class _TooMuch(Exception):
    """The template asked for more work or text than an instruction may take."""


# The calls that turn a small number into a large text or list: their numbers stay under MAX_NUMBER.
_WIDENING = {"range", "center", "ljust", "rjust", "zfill", "expandtabs", "indent", "wordwrap", "truncate", "batch",
             "slice", "filesizeformat"}
MAX_EXPONENT = 64


def _checked(name, values):
    for value in values:
        if name in _WIDENING and isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_NUMBER:
            raise SecurityError(f"the number {value} is larger than {name} may take in an instruction")
        if isinstance(value, str) and _WIDE_FORMAT.search(value):
            raise SecurityError("a format width larger than an instruction may use")


def _size(value) -> int:
    """Roughly how much text a value stands for: a text's length, a list's entries and their texts."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list | tuple):
        return len(value) + sum(len(v) for v in value if isinstance(v, str))
    return 0


def _check_joined(parts, separator=""):
    if sum(_size(p) if isinstance(p, str) else 1 for p in parts) + len(parts) * len(separator) > MAX_TEXT:
        raise SecurityError("the text built is longer than an instruction may use")


def _guard(name, func):
    """The filter (or global) `func`, refusing the arguments that would make it build too much."""

    @functools.wraps(func)
    def guarded(*args, **kwargs):
        plain = [a for a in args if not hasattr(a, "environment") and not hasattr(a, "resolve")]
        _checked(name, plain[1:] if name != "range" else plain)
        _checked(name, kwargs.values())
        if name == "join" and plain:
            items = [str(i) for i in plain[0]]
            _check_joined(items, str(plain[1]) if len(plain) > 1 else "")
            args = tuple(items if a is plain[0] else a for a in args)
        elif name == "replace" and len(plain) >= 3 and plain[1] == "":
            raise SecurityError("replacing the empty text is not allowed in an instruction")
        return func(*args, **kwargs)

    return guarded


def _guarded_join(join):
    def joined(seq):
        parts = list(seq)
        _check_joined(parts)
        return join(parts)

    return joined


class _Environment(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def __init__(self):
        super().__init__(autoescape=True)
        self.filters = {name: _guard(name, f) for name, f in self.filters.items()}
        self.globals["range"] = _guard("range", self.globals["range"])

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805 (Jinja's own signature)
        owner, name = getattr(__obj, "__self__", None), getattr(__obj, "__name__", "")
        if isinstance(owner, str):
            _checked(name, [*args, *kwargs.values()])
            if name == "join" and args:
                args = (list(args[0]), *args[1:])
                _check_joined(args[0], owner)
            if name == "replace" and args and args[0] == "":
                raise SecurityError("replacing the empty text is not allowed in an instruction")
        return super().call(__context, __obj, *args, **kwargs)

    def wrap_str_format(self, value):
        wrapped = super().wrap_str_format(value)
        if wrapped is not None:
            _checked("format", [value.__self__])
        return wrapped

    def call_binop(self, context, operator, left, right):
        if operator == "**" and isinstance(right, int | float) and abs(right) > MAX_EXPONENT:
            raise SecurityError("an exponent larger than an instruction may use")
        if operator == "*" and (_size(left) * (right if isinstance(right, int) else 1) > MAX_TEXT
                                or _size(right) * (left if isinstance(left, int) else 1) > MAX_TEXT):
            raise SecurityError("the text built is longer than an instruction may use")
        if operator == "+" and _size(left) + _size(right) > MAX_TEXT:
            raise SecurityError("the text built is longer than an instruction may use")
        if operator == "%" and isinstance(left, str):
            _checked("format", [left])
        return super().call_binop(context, operator, left, right)


_environment = _Environment()


def _budgeted(steps: list):
    """A tracer counting the lines the template's own code runs; raises past MAX_STEPS."""

    def on_line(frame, event, arg):
        if event == "line":
            steps[0] += 1
            if steps[0] > MAX_STEPS:
                raise _TooMuch("the template runs too long")
        return on_line

    def on_call(frame, event, arg):
        return on_line if frame.f_code.co_filename == _TEMPLATE_FILE else None

    return on_call


@functools.lru_cache(maxsize=512)
def _compiled(text: str):
    """The template of a text, compiled once (a model's instructions are few and shown often)."""
    code = _environment.compile(text, filename=_TEMPLATE_FILE)  # the name the step counter knows it by
    template = _environment.template_class.from_code(_environment, code, _environment.make_globals(None))
    namespace = template.root_render_func.__globals__  # `~` joins text through these, out of the sandbox's sight
    namespace["markup_join"], namespace["str_join"] = (_guarded_join(namespace["markup_join"]),
                                                       _guarded_join(namespace["str_join"]))
    return template


def is_template(text: str) -> bool:
    """Whether the text holds Jinja syntax at all (most instructions are plain Markdown)."""
    return isinstance(text, str) and ("{{" in text or "{%" in text)


def render(text: str, data: dict) -> str:
    """The instruction with its {{ variables }} and {% blocks %} filled from the task's data; the
    raw text when it is no template or the template fails (the reason is logged)."""
    if not is_template(text):
        return text or ""
    steps = [0]
    previous = sys.gettrace()
    try:
        template = _compiled(text)
        sys.settrace(_budgeted(steps))
        out, size = [], 0
        for chunk in template.root_render_func(template.new_context(dict(data or {}))):
            size += len(chunk)
            if size > MAX_CHARS:
                raise _TooMuch(f"the text is longer than {MAX_CHARS} characters")
            out.append(chunk)
        return "".join(out)
    except Exception as exc:  # an untrusted template may raise anything (KeyError, IndexError, …): never a page's error
        log.warning("task instructions not rendered, shown as written: %s: %s", type(exc).__name__, exc)
        return text
    finally:
        sys.settrace(previous)
