"""The official calendar in the back office: a system administrator keeps the country's days off
and day swaps, each with the notice that decided it (one by one, or a CSV or JSON file); a province
administrator keeps the province's own days, which its communes inherit. Every write is one call
to onestop.services.calendar, which checks who may make it, audits it and tells every process."""

from datetime import date

from flask import flash, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, DateField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from onestop.models import Centre, local_today
from onestop.services import calendar
from onestop.services.errors import ServiceError

from .views import ActionForm, Guarded, _actor


class OfficialDayForm(FlaskForm):
    day = DateField("Ngày", validators=[DataRequired()])
    working = SelectField("Loại ngày", choices=[SelectChoice("0", "Nghỉ (lễ, Tết, nghỉ hoán đổi)"),
                                                 SelectChoice("1", "Làm việc (làm bù)")])
    name = StringField("Tên ngày", validators=[DataRequired(), Length(max=255)])
    source = StringField("Văn bản (số, ký hiệu)", validators=[DataRequired(), Length(max=255)])
    source_date = DateField("Ngày văn bản", validators=[Optional()])
    source_url = StringField("Địa chỉ văn bản", validators=[Optional(), Length(max=500)])
    confirmed = BooleanField("Đã đối chiếu văn bản", default=True)
    note = StringField("Ghi chú", validators=[Optional(), Length(max=500)])


class ImportForm(FlaskForm):
    file = FileField("Tệp CSV hoặc JSON", validators=[FileRequired()])


def _province(actor):
    """The province whose days the actor keeps: None (the country) for a system administrator, the
    actor's own province centre for a province administrator."""
    if actor.has_role("system_admin"):
        return None
    return Centre.get_by_id(actor.centre_id).code


class OfficialCalendarView(Guarded, BaseView):
    roles = ("system_admin", "province_admin")

    @expose("/", methods=("GET", "POST"))
    def index(self):
        actor, form, upload = _actor(), OfficialDayForm(prefix="day"), ImportForm(prefix="import")
        province, problems = _province(actor), []
        try:
            if request.method == "POST" and "day-day" in request.form and form.validate_on_submit():
                calendar.set_day(actor, {
                    "date": form.day.data.isoformat(), "working": form.working.data == "1", "name": form.name.data,
                    "source": form.source.data, "source_date": form.source_date.data.isoformat()
                    if form.source_date.data else None, "source_url": form.source_url.data or None,
                    "confirmed": form.confirmed.data, "note": form.note.data or ""}, province)
                flash("Đã ghi ngày.", "success")
                return redirect(url_for(".index", year=form.day.data.year))
            if request.method == "POST" and "import-file" in request.files and upload.validate_on_submit():
                data = upload.file.data
                report = calendar.import_days(actor, data.read(calendar.MAX_BYTES + 1), data.filename or "", province)
                flash(f"Đã nhập {report.added} ngày mới, thay {report.updated} ngày.", "success")
                return redirect(url_for(".index"))
        except ServiceError as exc:
            flash(exc.message, "error")
            problems = exc.details or []
        year = request.args.get("year", type=int) or local_today().year
        days = calendar.list_days(actor, year if 2000 <= year <= 2100 else None, province)
        return self.render("onestop_admin/calendar/official.html", days=days, year=year, province=province,
                           form=form, upload=upload, problems=problems, clear=ActionForm())

    @expose("/clear/<day>", methods=("POST",))
    def clear(self, day):
        actor = _actor()
        try:
            if ActionForm().validate_on_submit():
                calendar.clear_day(actor, date.fromisoformat(day), _province(actor))
                flash("Đã bỏ ngày.", "success")
        except (ServiceError, ValueError) as exc:
            flash(getattr(exc, "message", "Ngày không hợp lệ."), "error")
        return redirect(url_for(".index", year=day[:4]))
