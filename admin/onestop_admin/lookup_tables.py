"""The centre's lookup tables in the back office: the values of the data stores its models read
(SpiffArena's JSONDataStore), uploaded as JSON or CSV, listed, viewed and dropped. Every write goes
through onestop.services.lookup_tables, which checks the file and writes the audit event."""

import json

from flask import flash, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from onestop.services import lookup_tables
from onestop.services.errors import NotFound, ServiceError

from . import views

SHOWN_ROWS = 200  # a table's page shows its first rows; the whole value is in the JSON below them


class UploadForm(FlaskForm):
    name = StringField("Tên bảng (đúng id của kho dữ liệu trong mô hình, ví dụ fees)",
                       validators=[DataRequired(), Length(max=128)])
    file = FileField("Tệp JSON hoặc CSV (UTF-8, dòng đầu là tên cột)", validators=[FileRequired()])


def _columns(rows) -> list:
    """The column names of a list of row objects, in first-seen order; [] if it is not one."""
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
        return []
    seen = {}
    for row in rows[:SHOWN_ROWS]:
        seen.update(dict.fromkeys(row))
    return list(seen)


class LookupTablesView(views.Guarded, BaseView):
    """The centre's lookup tables: upload (replaces one of the same name), list, view, drop."""

    @expose("/", methods=("GET", "POST"))
    def index(self):
        actor, form = views._actor(), UploadForm()
        if request.method == "POST" and form.validate_on_submit():
            upload = form.file.data
            try:
                table = lookup_tables.put(actor, form.name.data.strip(), upload.filename or "", upload.read())
            except ServiceError as exc:
                flash(f"Không nhận bảng: {exc.message}", "error")
            else:
                flash(f"Đã lưu bảng {table.name}.", "success")
                return redirect(url_for(".show", table_name=table.name))
        elif request.method == "POST":
            flash("Nhập tên bảng và chọn tệp JSON hoặc CSV.", "error")
        return self.render("onestop_admin/lookup_tables/index.html", form=form, tables=lookup_tables.tables(actor),
                           drop=FlaskForm())

    @expose("/<table_name>")
    def show(self, table_name):
        try:
            table = lookup_tables.get(views._actor(), table_name)
        except NotFound:
            flash("Không có bảng này ở trung tâm.", "error")
            return redirect(url_for(".index"))
        rows = table.value if isinstance(table.value, list) else None
        return self.render("onestop_admin/lookup_tables/show.html", table=table, columns=_columns(rows),
                           rows=(rows or [])[:SHOWN_ROWS], more=max(len(rows or []) - SHOWN_ROWS, 0),
                           text=json.dumps(table.value, ensure_ascii=False, indent=2)[:200_000], drop=FlaskForm())

    @expose("/<table_name>/delete", methods=("POST",))
    def delete(self, table_name):
        if not FlaskForm().validate_on_submit():
            flash("Trang đã mở quá lâu; hãy thử lại.", "error")
            return redirect(url_for(".index"))
        try:
            lookup_tables.delete(views._actor(), table_name)
        except ServiceError as exc:
            flash(exc.message, "error")
        else:
            flash(f"Đã xoá bảng {table_name}.", "success")
        return redirect(url_for(".index"))
