"""The back office's side of agencies (issue 17): which centres are not ready (no electronic identity
code: their dossier codes would start with 000.00.00.H00), the codes edited in the centre list, and
mergers of centres decided by a province's or the country's administrator."""

from datetime import date

from flask import flash, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from markupsafe import Markup
from wtforms import DateField, StringField
from wtforms.validators import DataRequired, Length

from onestop.models import local_today
from onestop.services import agencies, centres, mergers
from onestop.services.errors import Invalid, ServiceError

from . import views


def _readiness(view, context, model, name):
    if model.closed_on is not None:
        return Markup('<span class="label label-default">Đã sáp nhập</span>')
    if agencies.ready(model):
        return Markup('<span class="label label-success">Sẵn sàng</span>')
    return Markup('<span class="label label-danger" title="Mã hồ sơ sẽ bắt đầu bằng 000.00.00.H00">'
                  'Chưa sẵn sàng: thiếu mã định danh</span>')


class CentreView(views.CentreView):
    """The centres in scope, each marked ready or not; a centre's identity code is edited here (the
    services check its shape against the national list)."""

    column_list = ("code", "name", "level", "parent", "agency_code", "ready", "agency_code_source", "closed_on")
    column_labels = views.CentreView.column_labels | {"ready": "Sẵn sàng", "agency_code_source": "Nguồn mã định danh"}
    column_formatters = views.CentreView.column_formatters | {"ready": _readiness}
    column_sortable_list = ("code", "name", "level", "agency_code", "closed_on")


def not_ready_facts(actor) -> dict:
    """What the back office's home shows of the centres without an identity code in the actor's scope."""
    ids = centres.scope_ids(actor)
    return {"count": agencies.count_not_ready(ids), "first": agencies.not_ready(ids, limit=10)}


class MergeForm(FlaskForm):
    merged = StringField("Trung tâm bị sáp nhập (mã, ví dụ W07090)", validators=[DataRequired(), Length(max=64)])
    successor = StringField("Trung tâm tiếp nhận (mã)", validators=[DataRequired(), Length(max=64)])
    on = DateField("Ngày sáp nhập có hiệu lực", validators=[DataRequired()])


class MergerView(views.Guarded, BaseView):
    """Merging a centre into another of its province from a date: the successor takes over its open
    dossiers on that date (at once if it is today)."""

    roles = ("province_admin", "system_admin")

    @expose("/", methods=("GET", "POST"))
    def index(self):
        actor, form = views._actor(), MergeForm()
        if request.method == "POST" and form.validate_on_submit():
            try:
                [done] = mergers.merge_centres(actor, form.merged.data.strip(), form.successor.data.strip(),
                                               form.on.data)
            except ServiceError as exc:
                flash(exc.message, "error")
            else:
                then = (f"{done.handed_over} hồ sơ đang giải quyết đã được chuyển giao ngay."
                        if done.handed_over is not None else "Hồ sơ đang giải quyết sẽ được chuyển giao vào ngày đó.")
                flash(f"Đã sáp nhập {done.merged} vào {done.successor} từ ngày {done.on:%d/%m/%Y}. {then}", "success")
                return redirect(url_for(".index"))
        elif request.method == "POST":
            flash("Nhập mã hai trung tâm và ngày sáp nhập (hôm nay hoặc sau này).", "error")
        if form.on.data is None:
            form.on.data = local_today()
        return self.render("onestop_admin/agencies/mergers.html", form=form, rows=mergers.mergers(actor),
                           today=date.isoformat(local_today()))


class CodesForm(FlaskForm):
    file = FileField("Tệp CSV: mã đơn vị hành chính, mã định danh điện tử", validators=[FileRequired()])


class CodesView(views.Guarded, BaseView):
    """The identity codes of the centres in scope: import them from a CSV of the national list (all or
    nothing, every wrong row named), and the centres still without one."""

    roles = ("province_admin", "system_admin")
    MAX_BYTES = 2 * 1024 * 1024

    @expose("/", methods=("GET", "POST"))
    def index(self):
        actor, form, problems = views._actor(), CodesForm(), []
        if request.method == "POST" and form.validate_on_submit():
            upload = form.file.data
            data = upload.read(self.MAX_BYTES + 1)
            try:
                if len(data) > self.MAX_BYTES:
                    raise Invalid(f"the file is larger than {self.MAX_BYTES // (1024 * 1024)} MiB")
                report = agencies.import_codes(actor, data.decode("utf-8-sig"), upload.filename or "codes.csv")
            except UnicodeDecodeError:
                flash("Tệp không phải văn bản UTF-8: lưu lại từ bảng tính dưới dạng CSV UTF-8.", "error")
            except ServiceError as exc:
                flash(exc.message, "error")
                problems = exc.details or []
            else:
                flash(f"Đã nhập mã định danh cho {report.changed} trung tâm ({report.unchanged} không đổi).", "success")
                return redirect(url_for(".index"))
        ids = centres.scope_ids(actor)
        return self.render("onestop_admin/agencies/codes.html", form=form, problems=problems,
                           count=agencies.count_not_ready(ids), missing=agencies.not_ready(ids, limit=200))

