"""The shared compiled templates of tests/support/jinja.py: a page comes out the same through every
app, compiled once per process; a changed template or an environment configured otherwise gets its own."""

from flask import Flask
from jinja2 import DictLoader, Environment

from tests.conftest import _make_app
from tests.support import jinja


def test_the_plugin_is_active_for_the_run():
    assert Flask.create_jinja_environment is jinja._with_shared_bytecode


def test_a_second_app_renders_the_sign_in_page_alike_without_compiling_it_again(sqlite_app, tmp_path, engine):
    first = sqlite_app.test_client().get("/desk/login", headers={"Accept-Language": "en"})
    assert first.status_code == 200 and sqlite_app.jinja_env.bytecode_cache is jinja.SHARED
    again = _make_app(f"sqlite:///{tmp_path / 'again.db'}", tmp_path / "again", engine)
    compiled = jinja.SHARED.compiled
    second = again.test_client().get("/desk/login", headers={"Accept-Language": "en"})
    assert jinja.SHARED.compiled == compiled  # every template of the page came from the shared code
    assert again.jinja_env is not sqlite_app.jinja_env

    def without_tokens(page):  # each app's session has its own CSRF token and nonce
        import re

        return re.sub(r'(value|nonce)="[^"]+"', "", page.get_data(as_text=True))

    assert without_tokens(second) == without_tokens(first)


def test_a_changed_template_is_compiled_again():
    templates = {"page.html": "<p>{{ who }}</p>"}
    environment = Environment(loader=DictLoader(templates), bytecode_cache=jinja.SHARED)
    assert environment.get_template("page.html").render(who="An") == "<p>An</p>"
    templates["page.html"] = "<b>{{ who }}</b>"
    again = Environment(loader=DictLoader(templates), bytecode_cache=jinja.SHARED)
    assert again.get_template("page.html").render(who="An") == "<b>An</b>"


def test_an_environment_configured_otherwise_compiles_its_own_code():
    templates = {"list.html": "{% for x in xs %}\n{{ x }}\n{% endfor %}"}
    plain = Environment(loader=DictLoader(templates), bytecode_cache=jinja.SHARED)
    trimmed = Environment(loader=DictLoader(templates), bytecode_cache=jinja.SHARED, trim_blocks=True)
    assert jinja.fingerprint(plain) != jinja.fingerprint(trimmed)
    assert plain.get_template("list.html").render(xs=[1, 2]) == "\n1\n\n2\n"
    assert trimmed.get_template("list.html").render(xs=[1, 2]) == "1\n2\n"
    escaping = Environment(loader=DictLoader({"a.html": "{{ x }}"}), bytecode_cache=jinja.SHARED, autoescape=True)
    raw = Environment(loader=DictLoader({"a.html": "{{ x }}"}), bytecode_cache=jinja.SHARED)
    assert escaping.get_template("a.html").render(x="<b>") == "&lt;b&gt;"
    assert raw.get_template("a.html").render(x="<b>") == "<b>"
