"""What flask-admin works out for a model view when it is made, done once per view class or when first used.

Every app (each test's, each gunicorn worker's) makes the back office's model views again, and
flask-admin's constructor does two things whose result serves nothing at that moment:

- it scaffolds the create, edit, delete and action form classes (``_refresh_forms_cache``): for a
  model without a hand-written form, wtfpeewee walks every column and builds a field for it, about a
  third of the back office's start-up. The read-only views (procedures, dossiers, the audit trail)
  never show a create or edit form at all. Here each form class is built the first time the view
  uses it, by the same flask-admin method, and kept on the view as before;
- it finds the view's actions by reading every attribute of the view through its class's method
  resolution order (``init_actions``): the same walk for every view of the same class. Here the class's
  actions are found once per class; the instance's own attributes are still looked at per view, and
  each action is still bound to its own view.

Nothing a view holds is shared between views: only what a class's attributes alone decide is kept
per class. tests/admin/test_scaffolding.py checks both against flask-admin's own results.
"""

import functools

from wtforms import Form

# The form classes flask-admin keeps on a model view, and the method that builds each.
DEFERRED_FORMS = {
    "_create_form_class": "get_create_form",
    "_edit_form_class": "get_edit_form",
    "_delete_form_class": "get_delete_form",
    "_action_form_class": "get_action_form",
    "_list_form_class": "get_list_form",
}


class _NoFields(Form):
    """What flask-admin's check of a form against form rules sees while the view is being made and
    has no form rules: with no rules that check removes nothing, so it need not build the form."""


@functools.cache
def class_actions(cls: type) -> dict:
    """The actions (attribute name -> (name, text, description)) among cls's attributes, as
    flask-admin's `init_actions` finds them (the nearest definition in the method resolution order)."""
    found = {}
    for name in dir(cls):
        for owner in cls.__mro__:
            if name in owner.__dict__:
                value = owner.__dict__[name]
                if hasattr(value, "_action"):
                    found[name] = value._action
                break
    return found


class LazyScaffolding:
    """Mixin for a flask-admin model view: form classes built on first use, actions found per class."""

    def init_actions(self) -> None:
        own = vars(self)
        in_class = class_actions(type(self))
        self._actions = []
        self._actions_data = {}
        for attribute in sorted(set(own) | set(in_class)):  # dir()'s order, as flask-admin walks it
            if attribute in own:
                value = own[attribute]
                if not hasattr(value, "_action"):
                    continue
                name, text, description = value._action
            else:
                name, text, description = in_class[attribute]
            self._actions.append((name, text))
            self._actions_data[name] = (getattr(self, attribute), text, description)

    def _refresh_forms_cache(self) -> None:
        # flask-admin's own, less the form classes: each is built when first asked for (__getattr__).
        self._form_ajax_refs = self._process_ajax_references()
        if self.form_widget_args is None:
            self.form_widget_args = {}
        for attribute in DEFERRED_FORMS:
            self.__dict__.pop(attribute, None)
        if not self.column_editable_list:
            self.column_editable_list = {}

    def _refresh_cache(self) -> None:
        # With form rules, flask-admin checks (and trims) the forms against them now: build them now.
        self.__dict__["_forms_unchecked"] = not (self.form_rules or self.form_create_rules or self.form_edit_rules)
        try:
            super()._refresh_cache()
        finally:
            self.__dict__["_forms_unchecked"] = False

    def __getattr__(self, attribute):
        builder = DEFERRED_FORMS.get(attribute)
        if builder is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {attribute!r}")
        if self.__dict__.get("_forms_unchecked"):
            return _NoFields
        built = getattr(self, builder)()
        setattr(self, attribute, built)
        return built
