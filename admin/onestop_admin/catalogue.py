"""Catalogue import in the back office, at /admin/catalogue: upload a catalogue file (JSON or XLSX in
the national procedures database's shape), read its bad rows one by one when it is refused, then
review the drafts it generated in bulk — filtered by what their automatic review and test run
found — publish the chosen ones, and roll the published ones out to the centres below."""

from flask import abort, current_app, flash, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired

from onestop.services import catalogue
from onestop.services.errors import Invalid, NotFound, ServiceError

from .views import ActionForm, Guarded, RolloutForm, _actor


class CatalogueForm(FlaskForm):
    file = FileField("Tệp danh mục thủ tục (.json hoặc .xlsx)", validators=[FileRequired("Chọn tệp danh mục.")])


def problem_text(problem: dict) -> str:
    """One bad row said in the reader's language (Vietnamese first)."""
    kind, value, column = problem.get("kind"), problem.get("value") or "", problem.get("column") or ""
    texts = {
        "unreadable": _("The file cannot be read: give a JSON list of procedure records or an XLSX workbook whose "
                        "first row names the columns."),
        "too_large": _("The file is larger than 20 MB."),
        "too_many": _("The file holds %(value)s records, more than one import takes (5000).", value=value),
        "not_a_record": _("This row is not a procedure record."),
        "missing_column": _("The column %(column)s is missing.", column=column),
        "missing_value": _("The column %(column)s is empty.", column=column),
        "bad_code": _("The code %(value)s may only hold letters without diacritics, digits and . _ -.", value=value),
        "duplicate_code": _("The code %(code)s is already the code of row %(value)s.", code=problem.get("code") or "",
                            value=value),
        "unknown_level": _("The level %(value)s is none of commune, province, district or ministry.", value=value),
        "unknown_unit": _("The time limit's unit %(value)s is not one onestop counts (working days, working hours, "
                          "calendar days, the same day).", value=value),
        "impossible_time": _("The time limit %(value)s is impossible: a number from 0 to 3650 (whole days for "
                             "calendar days).", value=value),
        "bad_value": _("The column %(column)s must be a list.", column=column),
    }
    return texts.get(kind) or str(problem.get("message") or "")


def note_text(note: str) -> str:
    """What the importer assumed about a record, in the reader's language."""
    return _(note)


FILTER_TITLES = {"all": "Tất cả", "errors": "Có lỗi", "warnings": "Có cảnh báo", "failed": "Kiểm thử không đạt",
                 "clean": "Không có vấn đề, chưa công bố", "published": "Đã công bố", "edited": "Đã sửa sau khi nhập"}


class CatalogueView(Guarded, BaseView):
    """The catalogue import and the bulk review of its drafts."""

    def _max_bytes(self):
        return current_app.config["ONESTOP"].max_model_bytes

    @expose("/")
    def index(self):
        return self._index(CatalogueForm())

    def _index(self, form, problems=None, status=200):
        return self.render("onestop_admin/catalogue/index.html", form=form, problems=problems or [],
                           imports=catalogue.imports(_actor()), problem_text=problem_text), status

    @expose("/import", methods=("POST",))
    def upload(self):
        form = CatalogueForm()
        if not form.validate_on_submit():
            return self._index(form, status=422)
        data = form.file.data
        try:
            batch = catalogue.import_file(_actor(), data.filename or "catalogue", data.read(),
                                          max_bytes=self._max_bytes())
        except Invalid as exc:
            problems = exc.details or [{"row": 0, "kind": None, "message": exc.message}]
            return self._index(form, problems, 422)
        flash(f"Đã nhập {len(batch.entries)} thủ tục thành bản nháp, đã kiểm tra và chạy thử từng bản nháp.", "success")
        return redirect(url_for(".batch", import_id=batch.id), 303)

    @expose("/<int:import_id>")
    def batch(self, import_id):
        show = request.args.get("show", "all")
        if show not in catalogue.FILTERS:
            show = "all"
        try:
            batch, entries = catalogue.entries_of(_actor(), import_id, show)
        except NotFound:
            abort(404)
        return self.render("onestop_admin/catalogue/batch.html", batch=batch, entries=entries, show=show,
                           filters=FILTER_TITLES, action=ActionForm(), rollout=RolloutForm(), note_text=note_text,
                           can_roll_out=_actor().has_role("province_admin", "system_admin"))

    @expose("/<int:import_id>/publish", methods=("POST",))
    def publish(self, import_id):
        if not ActionForm().validate_on_submit():
            abort(400)
        try:
            _, entries = catalogue.entries_of(_actor(), import_id)
        except NotFound:
            abort(404)
        mine = {e["draft"] for e in entries}
        chosen = [int(d) for d in request.form.getlist("draft") if d.isdigit() and int(d) in mine]
        if not chosen:
            flash("Chọn ít nhất một bản nháp để công bố.", "error")
            return redirect(url_for(".batch", import_id=import_id, show=request.args.get("show", "all")), 303)
        done = catalogue.publish_many(_actor(), chosen, self._max_bytes())
        published = sum(1 for _, version, _ in done if version)
        refused = [f"#{draft_id}: {refusal}" for draft_id, _, refusal in done if refusal]
        flash(f"Đã công bố {published} thủ tục." + (f" Không công bố {len(refused)}: " + "; ".join(refused[:5])
                                                   if refused else ""), "error" if refused else "success")
        return redirect(url_for(".batch", import_id=import_id, show=request.args.get("show", "all")), 303)

    @expose("/<int:import_id>/rollout", methods=("POST",))
    def roll_out(self, import_id):
        try:
            catalogue.entries_of(_actor(), import_id, "published")  # another centre's import: not found
        except NotFound:
            abort(404)
        if not _actor().has_role("province_admin", "system_admin"):
            abort(403)
        form = RolloutForm()
        if not form.validate_on_submit():
            abort(400)
        try:
            report = catalogue.roll_out(_actor(), import_id, form.to.data.strip())
        except ServiceError as exc:
            flash(exc.message, "error")
            return redirect(url_for(".batch", import_id=import_id), 303)
        return self.render("onestop_admin/rollout.html", code=f"danh mục #{import_id}", report=report)


def register(admin):
    """Add the view to the back office (one line in onestop_admin.init_app)."""
    admin.add_view(CatalogueView(name="Nhập danh mục", endpoint="catalogue", url="/admin/catalogue"))
