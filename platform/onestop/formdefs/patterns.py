"""Regular expressions of forms, matched by RE2: time linear in the input, whatever the pattern.

A form's `pattern` is written by whoever uploads the model and matched against what anyone
submits on the portal. Python's `re` backtracks: `^(a|a)*$` against forty `a`s and a `!` takes
longer than the age of the universe. RE2 (Google's automaton-based engine, `google-re2`) never
backtracks, so a match costs time proportional to the text; what it cannot do in linear time
(back-references, look-around) it refuses to compile, which is reported at upload.

jsonschema validates `pattern` and `patternProperties` with `re`; `Validator` below is the
Draft 2020-12 validator with both keywords matched by RE2 instead. (Forms may not use
patternProperties at all, see schema.SUPPORTED; it is overridden so that no path is left to `re`.)
"""

from __future__ import annotations

from collections import OrderedDict

import jsonschema
import re2

MAX_PATTERN_LENGTH = 500
# RE2 refuses a pattern whose compiled program needs more memory than this (a{1000}{1000}...).
MAX_PROGRAM_BYTES = 1 << 20

_options = re2.Options()
_options.log_errors = False  # a refused pattern is reported to the uploader, not to stderr
_options.max_mem = MAX_PROGRAM_BYTES

_compiled: OrderedDict = OrderedDict()


class PatternError(ValueError):
    """A pattern RE2 cannot run: the reason, in plain words."""


def compile_pattern(pattern: str):
    """The compiled RE2 program of a pattern (cached); PatternError if RE2 refuses it."""
    if not isinstance(pattern, str):  # first: a list or an object is not even a key of the cache
        raise PatternError("pattern must be a string")
    program = _compiled.get(pattern)
    if program is not None:
        _compiled.move_to_end(pattern)
        return program
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise PatternError(f"pattern is longer than {MAX_PATTERN_LENGTH} characters")
    try:
        program = re2.compile(pattern, _options)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise PatternError(f"pattern cannot be used: {reason} (back-references and look-arounds are not "
                           "supported)") from None
    _compiled[pattern] = program
    while len(_compiled) > 4096:
        _compiled.popitem(last=False)
    return program


def check_pattern(pattern) -> str | None:
    """Why a form may not use this pattern, or None."""
    try:
        compile_pattern(pattern)
    except PatternError as exc:
        return str(exc)
    return None


def search(pattern: str, text: str) -> bool:
    """JSON Schema's reading of `pattern`: the expression matches somewhere in the text."""
    return compile_pattern(pattern).search(text) is not None


def _pattern(validator, pattern, instance, schema):
    if not validator.is_type(instance, "string"):
        return
    try:
        matched = search(pattern, instance)
    except PatternError:
        matched = False  # refused at upload; a form stored before cannot let anything through
    if not matched:
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(validator, pattern_properties, instance, schema):
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in pattern_properties.items():
        for key, value in instance.items():
            try:
                matched = search(pattern, key)
            except PatternError:
                matched = False
            if matched:
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


Validator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator,
    {"pattern": _pattern, "patternProperties": _pattern_properties},
)
