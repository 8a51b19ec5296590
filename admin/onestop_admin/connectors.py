"""The back office's connectors page (issue 18): a centre's administrator says which hosts its models'
service tasks may call, plugs in a SpiffArena connector proxy by URL, and keeps the secrets models name
(`SPIFF_SECRET:name`). A secret's value is written once and never shown again: the page lists names."""

from flask import flash, redirect, url_for
from flask_admin import BaseView, expose
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from onestop.services import connectors
from onestop.services.errors import NotFound, ServiceError

from . import views


class SettingsForm(FlaskForm):
    allowed_hosts = TextAreaField("Máy chủ được phép gọi (mỗi dòng một tên, *.miền, địa chỉ IP hoặc dải mạng; "
                                  "có thể kèm :cổng)", validators=[Optional(), Length(max=20_000)])
    proxy_url = StringField("Địa chỉ connector proxy của SpiffArena (để trống nếu không dùng)",
                            validators=[Optional(), Length(max=500)])


class SecretForm(FlaskForm):
    name = StringField("Tên (mô hình ghi SPIFF_SECRET:tên)", validators=[DataRequired(), Length(max=64)])
    value = PasswordField("Giá trị (không hiển thị lại sau khi lưu)", validators=[DataRequired(), Length(max=16_384)])


class ConnectorsView(views.Guarded, BaseView):
    """Allowed hosts, connector proxy and secrets of the administrator's centre; every write is one
    service call, audited there (a secret by its name only)."""

    roles = connectors.MANAGERS

    @expose("/", methods=("GET",))
    def index(self):
        actor = views._actor()
        saved = connectors.settings_of(actor.centre_id)
        form = SettingsForm(data={"allowed_hosts": saved.allowed_hosts, "proxy_url": saved.proxy_url or ""})
        return self._page(form, SecretForm())

    def _page(self, form, secret_form, status=200):
        actor = views._actor()
        return self.render("onestop_admin/connectors.html", form=form, secret_form=secret_form,
                           secrets=connectors.secrets_of(actor), action=views.ActionForm()), status

    @expose("/settings", methods=("POST",))
    def settings(self):
        form = SettingsForm()
        if not form.validate_on_submit():
            flash("Danh sách máy chủ hoặc địa chỉ proxy quá dài.", "error")
            return self._page(form, SecretForm(), 422)
        try:
            connectors.save_settings(views._actor(), form.allowed_hosts.data or "", form.proxy_url.data or "")
        except ServiceError as exc:
            flash(exc.message, "error")
            return self._page(form, SecretForm(), 422)  # what was typed stays in the form
        flash("Đã lưu danh sách máy chủ được phép gọi và connector proxy.", "success")
        return redirect(url_for(".index"))

    @expose("/secrets", methods=("POST",))
    def save_secret(self):
        form = SecretForm()
        if form.validate_on_submit():
            try:
                connectors.save_secret(views._actor(), form.name.data.strip(), form.value.data)
            except ServiceError as exc:
                flash(exc.message, "error")
            else:
                flash(f"Đã lưu bí mật {form.name.data.strip()}; giá trị sẽ không hiển thị lại.", "success")
        else:
            flash("Nhập tên và giá trị của bí mật.", "error")
        return redirect(url_for(".index"))

    @expose("/secrets/<secret>/delete", methods=("POST",))  # not <name>: flask-admin takes that argument itself
    def delete_secret(self, secret):
        if not views.ActionForm().validate_on_submit():
            flash("Phiên làm việc đã hết hạn; thử lại.", "error")
            return redirect(url_for(".index"))
        try:
            connectors.delete_secret(views._actor(), secret)
        except NotFound:
            raise  # none of this centre's (another centre's are not seen): 404 like any unknown address
        except ServiceError as exc:
            flash(exc.message, "error")
        else:
            flash(f"Đã xoá bí mật {secret}.", "success")
        return redirect(url_for(".index"))

    @expose("/commands")
    def commands(self):
        """What the centre's models can call: the built-in connectors and its proxy's commands (asked
        of the proxy now, outside any transaction)."""
        listed, problem = connectors.commands(views._actor())
        if problem:
            flash(f"Không lấy được danh sách lệnh của connector proxy: {problem}", "error")
        return self.render("onestop_admin/connector_commands.html", commands=listed)
