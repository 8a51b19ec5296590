"""Legacy dossiers in the back office, at /admin/legacy: upload the old system's file of open
dossiers (CSV or XLSX) with the switch-over day, read the dry run's report by line (every bad line
named, or how many dossiers would stand at which step), then confirm the import of that same file
(services.legacy: all or nothing, once)."""

from datetime import date

from flask import abort, flash, redirect, url_for
from flask_admin import BaseView, expose
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import DateField, HiddenField
from wtforms.validators import DataRequired, Length

from onestop.models import local_today
from onestop.services import legacy
from onestop.services.errors import Invalid, ServiceError

from .views import Guarded, _actor


class CheckForm(FlaskForm):
    file = FileField("Tệp hồ sơ đang xử lý ở hệ thống cũ (.csv hoặc .xlsx)",
                     validators=[FileRequired("Chọn tệp hồ sơ.")])
    switch_over = DateField("Ngày chuyển sang onestop", validators=[DataRequired("Chọn ngày chuyển đổi.")])


class ImportForm(FlaskForm):
    token = HiddenField(validators=[DataRequired(), Length(64, 64)])
    file_name = HiddenField(validators=[DataRequired(), Length(1, 255)])
    switch_over = HiddenField(validators=[DataRequired(), Length(10, 10)])


def _language() -> str:
    return str(get_locale() or "vi")


class LegacyView(Guarded, BaseView):
    """Upload, dry run by line, then import."""

    @expose("/")
    def index(self):
        form = CheckForm()
        if form.switch_over.data is None:
            form.switch_over.data = local_today()
        return self._page(form)

    def _page(self, form, problems=None, report=None, confirm=None, status=200):
        return self.render("onestop_admin/legacy/index.html", form=form, problems=problems or [], report=report,
                           confirm=confirm, language=_language()), status

    @expose("/check", methods=("POST",))
    def check(self):
        form = CheckForm()
        if not form.validate_on_submit():
            return self._page(form, status=422)
        upload = form.file.data
        name = (upload.filename or "legacy.csv")[-255:]
        content = upload.read()
        try:
            report = legacy.import_file(_actor(), name, content, switch_over=form.switch_over.data, dry_run=True)
        except Invalid as exc:
            problems = [legacy.Problem.from_dict(d) for d in exc.details or []]
            return self._page(form, problems=problems, status=422)
        confirm = ImportForm(formdata=None, token=legacy.keep_file(content), file_name=name,
                             switch_over=form.switch_over.data.isoformat())
        return self._page(form, report=report, confirm=confirm)

    @expose("/import", methods=("POST",))
    def run_import(self):
        form = ImportForm()
        if not form.validate_on_submit():
            abort(400)
        content = legacy.kept_file(form.token.data)
        try:
            switch_over = date.fromisoformat(form.switch_over.data)
        except ValueError:
            abort(400)
        if content is None:
            flash(_("The checked file is no longer kept: upload it again."), "error")
            return redirect(url_for(".index"), 303)
        try:
            report = legacy.import_file(_actor(), form.file_name.data, content, switch_over=switch_over)
        except Invalid as exc:  # the centre changed since the check (a procedure withdrawn): said by line again
            problems = [legacy.Problem.from_dict(d) for d in exc.details or []]
            return self._page(CheckForm(formdata=None, switch_over=switch_over), problems=problems, status=422)
        except ServiceError as exc:
            flash(exc.message, "error")
            return redirect(url_for(".index"), 303)
        flash(_("%(imported)s dossier(s) imported, %(skipped)s already imported before.",
                imported=len(report.imported), skipped=len(report.skipped)), "success")
        return redirect(url_for(".index"), 303)


def register(admin):
    """Add the view to the back office (one line in onestop_admin.init_app)."""
    admin.add_view(LegacyView(name="Hồ sơ từ hệ thống cũ", endpoint="legacy", url="/admin/legacy"))
