"""Compiling each page template once per process, not once per test's app.

Every test builds its own app, and with it its own Jinja environment: the first page a test renders
compiles that page's template and every template it extends or includes (parse, generate Python
source, compile it), about 20-130 ms each on this machine, so the page tests spent some 40 % of
their time compiling the same templates again. Jinja's own answer is a bytecode cache: the code
compiled from a template's source, handed to the next environment that loads the same file with
the same source. This plugin gives every Flask app of the run one in-memory bytecode cache, keyed
on the template's name and file and on everything of its environment that the generated code
depends on (delimiters, whitespace handling, autoescaping, extensions, ...); Jinja itself checks the
source's checksum, so a changed template is compiled again. Each app still has its own environment,
its own template objects, globals and filters: only the compiled code is shared.

tests/test_support_jinja.py checks that a page comes out the same through a second app, compiled
once, and that an environment configured otherwise compiles its own.
"""

from flask import Flask
from jinja2 import BytecodeCache
from jinja2.bccache import Bucket
from jinja2.environment import Environment

_create_jinja_environment = Flask.create_jinja_environment


def fingerprint(environment: Environment) -> str:
    """What of an environment the code Jinja generates for a template depends on."""
    autoescape = environment.autoescape
    return repr((
        environment.block_start_string, environment.block_end_string, environment.variable_start_string,
        environment.variable_end_string, environment.comment_start_string, environment.comment_end_string,
        environment.line_statement_prefix, environment.line_comment_prefix, environment.trim_blocks,
        environment.lstrip_blocks, environment.newline_sequence, environment.keep_trailing_newline,
        environment.optimized, environment.is_async, environment.finalize is not None,
        autoescape if isinstance(autoescape, bool) else getattr(autoescape, "__qualname__", repr(autoescape)),
        sorted(environment.extensions), environment.code_generator_class,
    ))


class SharedBytecode(BytecodeCache):
    """The compiled code of every template this process has loaded, in memory."""

    def __init__(self):
        self.code: dict[str, bytes] = {}
        self.compiled = 0  # how many templates were compiled (for the check of this plugin)

    def get_bucket(self, environment, name, filename, source) -> Bucket:
        key = self.get_cache_key(f"{fingerprint(environment)}\n{name}", filename)
        bucket = Bucket(environment, key, self.get_source_checksum(source))
        self.load_bytecode(bucket)
        return bucket

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self.code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self.compiled += 1
        self.code[bucket.key] = bucket.bytecode_to_string()

    def clear(self) -> None:
        self.code.clear()


SHARED = SharedBytecode()


def _with_shared_bytecode(self: Flask):
    environment = _create_jinja_environment(self)
    environment.bytecode_cache = SHARED
    return environment


def pytest_configure(config):
    Flask.create_jinja_environment = _with_shared_bytecode


def pytest_unconfigure(config):
    Flask.create_jinja_environment = _create_jinja_environment
