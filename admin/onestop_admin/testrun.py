"""Trying a draft before publishing it, at /admin/modeller/<draft_id>/tests: its unit tests run with
pass or fail per case, practice dossiers stepped through with the real forms and the calendar's due
dates, a finished practice saved as a test case, and the coverage of all runs on the diagram."""

from datetime import datetime

from flask import Response, abort, current_app, flash, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from onestop.services import drafts, practice, testrun, unittests
from onestop.services.attachments import Upload
from onestop.services.errors import Invalid, NotFound, ServiceError
from onestop.web import diagram, forms

from .views import ActionForm, Guarded, _actor

# Why a case failed, in the administrator's words (engine.unittests' reason kinds).
REASONS = {
    "error": "Mô hình gặp lỗi tại {element}: {got}",
    "no_data": "Ca kiểm thử không cho dữ liệu cho bước {element}",
    "data_exhausted": "Bước {element} được giao lần thứ {got} nhưng ca kiểm thử chỉ cho dữ liệu {expected} lần",
    "lane": "Bước {element} được giao ở làn «{got}», ca kiểm thử chờ làn «{expected}»",
    "role": "Bước {element} do vai trò «{got}» làm, ca kiểm thử chờ vai trò «{expected}»",
    "end_event": "Quy trình kết thúc ở {got}, ca kiểm thử chờ kết thúc ở {expected}",
    "output": "Dữ liệu cuối khác với expected_output_json: {differences}",
    "not_completed": "Quy trình không đi đến kết thúc",
    "stuck": "Quy trình dừng lại chờ một sự kiện mà ca kiểm thử không cho (tại {element})",
    "steps": "Ca kiểm thử đi quá số bước cho phép mà quy trình chưa kết thúc (tại {element})",
    "time": "Lượt chạy kiểm thử hết thời gian; ca này không chạy xong",
}


def reason_text(reason) -> str:
    """A failed case's reason in Vietnamese: which task, what was expected and what came."""
    if not reason:
        return ""
    template = REASONS.get(reason.get("kind"))
    if template is None:
        return str(reason.get("message") or "")
    differences = "; ".join(reason.get("differences") or [])
    return template.format(element=reason.get("element_id") or "—", expected=_short(reason.get("expected")),
                           got=_short(reason.get("got")), differences=differences)


def _short(value, limit=200) -> str:
    text = "—" if value is None else str(value)
    return text if len(text) <= limit else text[:limit] + "…"


class CaseForm(FlaskForm):
    name = StringField("Tên ca kiểm thử", validators=[DataRequired(), Length(max=80)])


class TestRunView(Guarded, BaseView):
    """The draft's test page; hidden from the menu (reached from the draft's pages)."""

    def is_visible(self):
        return False

    def create_blueprint(self, admin):
        blueprint = super().create_blueprint(admin)
        blueprint.add_app_template_filter(reason_text, "test_reason")  # the review page says reasons too
        return blueprint

    def _settings(self):
        return current_app.config["ONESTOP"]

    @expose("/<int:draft_id>/tests")
    def index(self, draft_id):
        actor = _actor()
        try:
            state, model = practice.draft_model(actor, draft_id, self._settings().max_model_bytes)
        except Invalid as exc:
            return self.render("onestop_admin/testrun/refused.html", draft_id=draft_id,
                               problems=exc.details or [{"message": exc.message}])
        start = practice.start_form(model)
        html = forms.html_form(start) if start is not None else None
        return self._page(state, model, html, html.build({}) if html else ActionForm())

    def _page(self, state, model, html, start_form, status=200):
        actor = _actor()
        cover = testrun.coverage(state.draft_id, model)
        svg = diagram.render(model.diagram, done=frozenset(cover.covered), title=str(
            model.metadata.get("name") or model.start_id)) if model.diagram else Markup("")
        files = [(f.name, unittests.read_test_file(f.name, f.content)) for f in unittests.test_files(state.files)]
        return self.render("onestop_admin/testrun/index.html", state=state, model=model, report=unittests.latest(
            actor, state.draft_id), files=files, practices=practice.of_draft(actor, state.draft_id), cover=cover,
            svg=svg, html=html, start_form=start_form, action=ActionForm(), reason_text=reason_text), status

    @expose("/<int:draft_id>/tests/run", methods=("POST",))
    def run(self, draft_id):
        if not ActionForm().validate_on_submit():
            abort(400)
        try:
            report = unittests.run(_actor(), draft_id, "page", self._settings().max_model_bytes)
        except NotFound:
            raise
        except ServiceError as exc:
            flash(exc.message, "error")
            return redirect(url_for(".index", draft_id=draft_id), 303)
        if report is None:
            flash("Bản nháp chưa có tệp kiểm thử (test_<tên mô hình>.json).", "error")
        else:
            flash(f"Đã chạy kiểm thử: {report.passed} ca đạt, {report.failed} ca không đạt.",
                  "success" if not report.failed else "error")
        return redirect(url_for(".index", draft_id=draft_id), 303)

    @expose("/<int:draft_id>/tests/practice", methods=("POST",))
    def start(self, draft_id):
        actor = _actor()
        state, model = practice.draft_model(actor, draft_id, self._settings().max_model_bytes)
        definition = practice.start_form(model)
        html = forms.html_form(definition) if definition is not None else None
        form = html.build({}, submitted=True) if html is not None else ActionForm()
        if html is not None and html.edit_rows(form, request.form):
            return self._page(state, model, html, form)
        if not form.validate_on_submit():
            abort(400)
        data, files = forms.submitted(html, form) if html is not None else ({}, {})
        try:
            row = practice.start(actor, draft_id, data, _uploads(files), self._settings().max_model_bytes)
        except ServiceError as exc:
            if exc.field_errors and html is not None:
                forms.put_errors(html, form, exc.field_errors)
            flash(exc.message, "error")
            return self._page(state, model, html, form, exc.status)
        return redirect(url_for(".practice_page", draft_id=draft_id, practice_id=row.id), 303)

    @expose("/<int:draft_id>/tests/practice/<int:practice_id>")
    def practice_page(self, draft_id, practice_id, failed=None, status=200):
        actor = _actor()
        row = _practice(actor, draft_id, practice_id)
        model = practice.model_of(row)
        tasks = []
        for task in row.ready:
            data = practice.task_data(actor, practice_id, task["id"])
            definition = practice.task_form(model, task, data)
            html = forms.html_form(definition) if definition is not None else None
            form = failed[1] if failed and failed[0] == task["id"] else (html.build(data) if html else ActionForm())
            tasks.append((task, html, form))
        svg = diagram.render(model.diagram, done=frozenset(row.reached), current=frozenset(
            t["element_id"] for t in row.ready), title=str(model.metadata.get("name") or model.start_id))
        return self.render("onestop_admin/testrun/practice.html", row=row, model=model, tasks=tasks, svg=svg,
                           action=ActionForm(), case_form=CaseForm(formdata=None), when=datetime.fromisoformat,
                           end_event=practice.end_event(row, model)), status

    @expose("/<int:draft_id>/tests/diagram.bpmn")
    def diagram_xml(self, draft_id):
        """The draft's BPMN for the coverage viewer: as text to download, never a document the
        browser would render (an uploaded model is untrusted)."""
        state, model = practice.draft_model(_actor(), draft_id, self._settings().max_model_bytes)
        bpmn = unittests.primary_bpmn(list(state.files), model)
        if bpmn is None:
            abort(404)
        return Response(bpmn.content, mimetype="text/plain", headers={
            "Content-Disposition": "attachment; filename=model.bpmn", "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store"})

    @expose("/<int:draft_id>/tests/practice/<int:practice_id>/tasks/<task_id>", methods=("POST",))
    def complete(self, draft_id, practice_id, task_id):
        actor = _actor()
        row = _practice(actor, draft_id, practice_id)
        task = next((t for t in row.ready if t["id"] == task_id), None)
        if task is None:
            flash("Bước này không còn chờ trong hồ sơ thử.", "error")
            return redirect(url_for(".practice_page", draft_id=draft_id, practice_id=practice_id), 303)
        definition = practice.task_form(practice.model_of(row), task, practice.task_data(actor, practice_id, task_id))
        html = forms.html_form(definition) if definition is not None else None
        form = html.build({}, submitted=True) if html is not None else ActionForm()
        if html is not None and html.edit_rows(form, request.form):
            return self.practice_page(draft_id, practice_id, (task_id, form))
        if not form.validate_on_submit():
            abort(400)
        earlier = practice.task_data(actor, practice_id, task_id) if html is not None else {}
        data, files = forms.submitted(html, form, earlier) if html is not None else ({}, {})
        try:
            practice.complete(actor, practice_id, task_id, data, _uploads(files))
        except ServiceError as exc:
            if exc.field_errors and html is not None:
                forms.put_errors(html, form, exc.field_errors)
            flash(exc.message, "error")
            return self.practice_page(draft_id, practice_id, (task_id, form), exc.status)
        flash(f"Đã làm bước «{task['name']}» của hồ sơ thử.", "success")
        return redirect(url_for(".practice_page", draft_id=draft_id, practice_id=practice_id), 303)

    @expose("/<int:draft_id>/tests/practice/<int:practice_id>/<how>", methods=("POST",))
    def act(self, draft_id, practice_id, how):
        actor = _actor()
        _practice(actor, draft_id, practice_id)
        if how == "case":
            return self._save_case(draft_id, practice_id)
        if how not in ("skip", "abandon") or not ActionForm().validate_on_submit():
            abort(400)
        try:
            (practice.skip_wait if how == "skip" else practice.abandon)(actor, practice_id)
        except ServiceError as exc:
            flash(exc.message, "error")
        return redirect(url_for(".practice_page", draft_id=draft_id, practice_id=practice_id), 303)

    def _save_case(self, draft_id, practice_id):
        form = CaseForm()
        if not form.validate_on_submit():
            flash("Đặt tên cho ca kiểm thử (tối đa 80 ký tự).", "error")
            return redirect(url_for(".practice_page", draft_id=draft_id, practice_id=practice_id), 303)
        actor = _actor()
        try:
            revision = drafts.state(actor, draft_id).revision
            unittests.add_case(actor, draft_id, practice_id, form.name.data, revision,
                               self._settings().max_model_bytes)
        except ServiceError as exc:
            flash(exc.message, "error")
            return redirect(url_for(".practice_page", draft_id=draft_id, practice_id=practice_id), 303)
        flash(f"Đã lưu ca kiểm thử «{form.name.data.strip()}» vào bản nháp.", "success")
        return redirect(url_for(".index", draft_id=draft_id), 303)


def _practice(actor, draft_id, practice_id):
    row = practice.get(actor, practice_id)
    if row.draft_id != draft_id:
        raise NotFound("no such practice dossier in this draft")
    return row


def _uploads(files) -> dict:
    return {path: Upload(f.filename or "", f.read()) for path, f in files.items()}


# flask-admin wants a view at "/" of the view's address; /admin/modeller/ is the modeller's page (its
# own view), so this one names its draft page as its default instead. It is never in the menu.
TestRunView._default_view = "index"
