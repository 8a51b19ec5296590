"""The modeller side panel's questions to the server, as JSON under /admin/modeller/check/<draft_id>/:
a gateway condition or a timer checked by the engine's own rules (nothing run), the roles and units a
lane may map to, the draft's forms. Each answer says, in the administrator's language, what is wrong
and carries a `code` the page (and the tests) can tell apart without reading the words.
"""

from flask import jsonify, request
from flask_admin import BaseView, expose
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError, validate_csrf
from wtforms import ValidationError

from onestop.services import panel
from onestop.services.errors import Forbidden, NotFound
from onestop.web import markup

from .views import Guarded, _actor

ROLE_LABELS = {"officer": "Công chức, viên chức xử lý", "leader": "Lãnh đạo", "admin": "Quản trị viên"}


def _condition_message(check) -> tuple[str, str]:
    """(level, words) for a condition check."""
    if check.code == "empty":
        return "error", _("Write the condition, for example: fee_paid == True")
    if check.code == "untranslatable":
        return "error", _("This condition cannot be read: it uses something onestop cannot evaluate.")
    if check.code == "syntax":
        return "error", _("The condition has a syntax error.")
    if check.code == "refused":
        return "error", _("The engine will not evaluate this condition.")
    if check.unknown_names:
        return "warning", _("No form of this procedure fills in: %(names)s. Check the spelling, unless the data "
                            "comes from elsewhere.", names=", ".join(check.unknown_names))
    return "ok", _("The condition can be used.")


def _timer_message(check, kind) -> tuple[str, str]:
    if check.code in ("empty", "format", "untranslatable", "refused"):
        example = {"duration": "P3D, PT4H", "date": "2026-12-01T08:00:00+07:00", "cycle": "R3/PT10M"}.get(kind, "P3D")
        return "error", _("This is not an ISO 8601 value of that kind (for example %(example)s).", example=example)
    if check.code == "wrong_kind":
        return "error", _("This is a duration; a timer at a date needs a date and time.")
    if check.code == "too_far":
        return "error", _("The timer is too far away for the engine's limits.")
    if check.code == "too_often":
        return "error", _("The cycle repeats too often for the engine's limits.")
    if check.computed:
        return "warning", _("Computed from the dossier's data: it is checked when it runs.")
    return "ok", _("The timer is within the engine's limits.")


class PanelView(Guarded, BaseView):
    """JSON for /static/authoring/panel.js; not in the menu."""

    def is_visible(self):
        return False

    @staticmethod
    def _body() -> dict:
        try:
            validate_csrf(request.headers.get("X-CSRFToken", ""))
        except (ValidationError, CSRFError):
            raise _Refused(400, "csrf", _("The page was open too long; reload it and try again.")) from None
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise _Refused(400, "body", _("Send the value to check as JSON."))
        return body

    def _answer(self, work):
        try:
            return jsonify(work())
        except _Refused as exc:
            return jsonify({"ok": False, "code": exc.code, "level": "error", "message": exc.message}), exc.status
        except NotFound:
            return jsonify({"ok": False, "code": "not_found", "level": "error",
                            "message": _("There is no such draft at your centre.")}), 404
        except Forbidden:
            return jsonify({"ok": False, "code": "forbidden", "level": "error",
                            "message": _("Only an administrator edits procedures.")}), 403

    @expose("/")
    def index(self):
        # flask-admin wants a default view; the panel only asks about one draft at a time.
        return jsonify({"ok": False, "code": "not_found", "message": _("Name a draft.")}), 404

    @expose("/<rowid:draft_id>/expression", methods=("POST",))
    def expression(self, draft_id):
        def work():
            body = self._body()
            check = panel.condition(_actor(), draft_id, body.get("expression") if isinstance(
                body.get("expression"), str) else "")
            level, message = _condition_message(check)
            return {"ok": level != "error", "level": level, "code": check.code or ("unknown_names" if
                    check.unknown_names else None), "message": message, "detail": check.detail,
                    "python": check.python, "unknown_names": check.unknown_names}
        return self._answer(work)

    @expose("/<rowid:draft_id>/timer", methods=("POST",))
    def timer(self, draft_id):
        def work():
            body = self._body()
            kind = body.get("kind") if isinstance(body.get("kind"), str) else ""
            check = panel.timer(_actor(), draft_id, kind, body.get("value") if isinstance(
                body.get("value"), str) else "")
            level, message = _timer_message(check, kind)
            return {"ok": level != "error", "level": level, "code": check.code, "message": message,
                    "detail": check.detail, "value": check.value}
        return self._answer(work)

    @expose("/<rowid:draft_id>/markdown", methods=("POST",))
    def markdown(self, draft_id):
        """Instructions as the officer's task page will show them: rendered and sanitised there and here alike."""
        def work():
            body = self._body()
            panel.authorise(_actor(), draft_id)
            text = body.get("text") if isinstance(body.get("text"), str) else ""
            return {"ok": True, "html": str(markup.render(text[:20000]))}
        return self._answer(work)

    @expose("/<rowid:draft_id>/lanes")
    def lanes(self, draft_id):
        def work():
            choices = panel.lane_choices(_actor(), draft_id)
            return {"roles": [{"value": r, "label": ROLE_LABELS.get(r, r)} for r in choices["roles"]],
                    "units": choices["units"]}
        return self._answer(work)

    @expose("/<rowid:draft_id>/forms")
    def forms(self, draft_id):
        return self._answer(lambda: {"forms": panel.forms(_actor(), draft_id)})


class _Refused(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
