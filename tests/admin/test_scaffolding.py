"""The back office's model views build their forms on first use and find their actions once per class,
and end up with what flask-admin itself works out for each view."""

from flask_admin.actions import ActionsMixin
from flask_admin.model.base import BaseModelView
from wtforms.fields.core import UnboundField

from onestop_admin.scaffolding import DEFERRED_FORMS, LazyScaffolding


def _model_views(app):
    return [view for view in app.extensions["onestop.admin"]._views if isinstance(view, LazyScaffolding)]


def _eager_twin(view):
    """The same view made by flask-admin's own constructor: every form built and checked at once."""
    eager = type("Eager" + type(view).__name__, (type(view),), {
        "_refresh_forms_cache": BaseModelView._refresh_forms_cache,
        "_refresh_cache": BaseModelView._refresh_cache,
        "init_actions": ActionsMixin.init_actions,
    })
    return eager(view.model, name=view.name, endpoint="eager_" + view.endpoint)


def _fields(form_class):
    return [(name, field.field_class, str(field.kwargs.get("label", field.args[0] if field.args else None)),
             [type(rule) for rule in field.kwargs.get("validators") or ()])
            for name, field in sorted(vars(form_class).items()) if isinstance(field, UnboundField)]


def test_the_back_office_has_model_views_and_the_read_only_ones_build_no_create_or_edit_form_at_start(sqlite_app):
    views = {view.endpoint: view for view in _model_views(sqlite_app)}
    assert {"procedure", "dossier", "audit", "centre", "unit", "user"} <= set(views)
    for endpoint in ("procedure", "dossier", "audit"):
        built = set(vars(views[endpoint])) & set(DEFERRED_FORMS)
        assert not built, (endpoint, built)


def test_every_form_a_view_builds_on_first_use_has_the_fields_flask_admin_builds_for_it_at_once(sqlite_app):
    for view in _model_views(sqlite_app):
        twin = _eager_twin(view)
        for attribute in DEFERRED_FORMS:
            if attribute not in vars(twin):
                continue
            lazy = getattr(view, attribute)
            assert getattr(view, attribute) is lazy, (view.endpoint, attribute)  # built once, then kept
            assert _fields(lazy) == _fields(getattr(twin, attribute)), (view.endpoint, attribute)
            assert lazy.__bases__ == getattr(twin, attribute).__bases__, (view.endpoint, attribute)
        assert view.form_widget_args == twin.form_widget_args
        assert view.column_editable_list == twin.column_editable_list


def test_every_view_finds_the_actions_flask_admin_finds_each_bound_to_that_view(sqlite_app):
    for view in _model_views(sqlite_app):
        found = list(view._actions), dict(view._actions_data)
        ActionsMixin.init_actions(view)
        assert found == (view._actions, view._actions_data), view.endpoint
        assert found[0], view.endpoint  # flask-admin's delete action at least
        for method, _text, _description in found[1].values():
            assert method.__self__ is view


def test_an_action_defined_on_the_view_itself_shadows_or_adds_as_flask_admin_says(sqlite_app):
    from flask_admin.actions import action

    view = next(view for view in _model_views(sqlite_app) if view.endpoint == "dossier")
    view.action_delete = "not an action"  # an attribute of the view hides the class's action of that name
    view.action_extra = action("extra", "Extra")(lambda ids: None)
    try:
        ActionsMixin.init_actions(view)
        expected = list(view._actions), dict(view._actions_data)
        view.init_actions()
        assert (view._actions, view._actions_data) == expected
        assert [name for name, _text in view._actions] == ["extra"]
    finally:
        del view.action_delete, view.action_extra
        view.init_actions()


def test_two_apps_share_no_view_and_no_form_a_view_built(sqlite_app, tmp_path, engine):
    from tests.conftest import _make_app

    again = _make_app(f"sqlite:///{tmp_path / 'again.db'}", tmp_path / "again", engine)
    first = {view.endpoint: view for view in _model_views(sqlite_app)}
    for view in _model_views(again):
        twin = first[view.endpoint]
        assert view is not twin
        assert view._actions_data is not twin._actions_data
        for method, _text, _description in view._actions_data.values():
            assert method.__self__ is view
        view._create_form_class  # noqa: B018 - built for this view only
        assert "_create_form_class" in vars(view)
        if view.endpoint in ("procedure", "dossier", "audit"):
            assert "_create_form_class" not in vars(twin)
