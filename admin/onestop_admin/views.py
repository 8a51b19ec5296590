"""The back office's views: configuration, scoping, and one service call per write."""

from datetime import date, datetime, timedelta

from flask import abort, current_app, flash, redirect, request, url_for
from flask_admin import AdminIndexView, BaseView, expose
from flask_admin.contrib.peewee import ModelView
from flask_admin.contrib.peewee.filters import FilterEqual
from flask_admin.form import SecureForm
from flask_admin.model import typefmt
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from markupsafe import Markup
from wtforms import BooleanField, DateField, MultipleFileField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from onestop.models import AuditEvent, Centre, Dossier, local_today, utcnow
from onestop.services import (
    audit,
    centres,
    deadlines,
    lifecycle,
    onboarding,
    overview,
    payments,
    procedures,
    rollout,
    units,
    users,
)
from onestop.services.errors import NotFound, ServiceError
from onestop.web import diagram, forms
from onestop.web.auth import local_referrer, sign_out
from onestop.web.i18n import STATUS_NAMES, dmy, dmy_hm

from .events import EVENT_LABELS, event_label
from .scaffolding import LazyScaffolding
from .search import ApplicantSearch

ADMIN_ROLES = ("admin", "province_admin", "system_admin")


def _actor():
    return current_user.user


class Guarded:
    """Only administrators; others are sent to sign in, or refused."""

    roles = ADMIN_ROLES

    def is_accessible(self):
        return current_user.is_authenticated and current_user.user.has_role(*self.roles)

    def inaccessible_callback(self, name, **kwargs):
        if not current_user.is_authenticated:
            return redirect(url_for("desk.login", next=request.full_path.rstrip("?")))
        abort(403)


class SignOutForm(FlaskForm):
    """The header's sign-out button: a POST with its CSRF token, never a link a page could fire."""


class Home(Guarded, AdminIndexView):
    """The landing page: what needs an administrator now, each figure a link to the list behind it."""

    @expose("/")
    def index(self):
        actor = _actor()
        from .agencies import not_ready_facts

        return self.render("onestop_admin/home.html", actor=actor, facts=overview.overview(actor, utcnow()),
                           not_ready=not_ready_facts(actor), centre=Centre.get_by_id(actor.centre_id),
                           province_wide=centres.scope_ids(actor) != {actor.centre_id})

    @expose("/sign-out", methods=("POST",))
    def sign_out(self):
        """End the session and go back to the sign-in page (a missing or stale token changes nothing)."""
        if SignOutForm().validate_on_submit():
            sign_out()
            return redirect(url_for("desk.login"), 303)
        return redirect(url_for(".index"), 303)


def _local_time(view, value, name):
    """A stored UTC time as Vietnam's time, to the minute (the one helper: onestop.web.i18n.dmy_hm)."""
    return dmy_hm(value)


def _local_date(view, value, name):
    return dmy(value)


def _yes_no(view, value, name):
    return "Có" if value else "Không"


# Every back-office list and record shows times in Vietnam's time to the minute, dates as dd/mm/yyyy.
TYPE_FORMATTERS = typefmt.BASE_FORMATTERS | {datetime: _local_time, date: _local_date, bool: _yes_no}
DETAIL_TYPE_FORMATTERS = typefmt.DETAIL_FORMATTERS | {datetime: _local_time, date: _local_date, bool: _yes_no}


class ScopedModelView(Guarded, LazyScaffolding, ModelView):
    """A table of rows that belong to centres: the list, the count and every single record are
    limited to the administrator's scope (flask-admin loads one record without the list query)."""

    centre_column = "centre"
    can_create = can_edit = can_delete = False
    can_view_details = True
    form_base_class = SecureForm
    page_size = 50
    column_type_formatters = TYPE_FORMATTERS
    column_type_formatters_detail = DETAIL_TYPE_FORMATTERS
    list_template = "onestop_admin/model_list.html"

    def search_placeholder(self):
        """What the search box looks in, from the searchable columns' labels (flask-admin's peewee
        views have none and print "None")."""
        labels = [str(self.column_labels.get(c, c)) for c in self.column_searchable_list or ()]
        return ", ".join(labels) if labels else ""

    def _handle_view(self, name, **kwargs):
        # A page this view does not offer is no page at all: the same 404 as an unknown address,
        # whichever record its id names.
        if (name == "edit_view" and not self.can_edit) or (name == "delete_view" and not self.can_delete) \
                or (name == "create_view" and not self.can_create):
            abort(404)
        return super()._handle_view(name, **kwargs)

    def _scoped(self, query):
        ids = centres.scope_ids(_actor())
        if ids is None:
            return query
        return query.where(getattr(self.model, self.centre_column).in_(list(ids)))

    def get_query(self):
        return self._scoped(self.model.select())

    def get_one(self, id):
        try:
            key = int(id)
        except (TypeError, ValueError):
            abort(404)
        if not 1 <= key < 2**63:  # beyond a row id: SQLite cannot even bind it
            abort(404)
        row = self._scoped(self.model.select()).where(self.model._meta.primary_key == key).first()
        if row is None:
            abort(404)
        return row

    def delete_model(self, model):
        flash("Không xóa được ở đây: dữ liệu này chỉ thay đổi qua nghiệp vụ.", "error")
        return False


# The columns every table has, named once.
COMMON_LABELS = {"id": "Số hiệu", "centre": "Trung tâm", "created_at": "Tạo lúc", "updated_at": "Cập nhật"}


def _centre_code(view, context, model, name):
    centre_id = getattr(model, f"{name}_id", None)
    return centres.code_of(centre_id) if centre_id else ""


class ReadOnlyView(ScopedModelView):
    """Engine-managed rows: looked at, never edited here."""

    def create_model(self, form):
        abort(403)

    def update_model(self, form, model):
        abort(403)

    def delete_model(self, model):
        abort(403)


def _code_to_edit(view, context, model, name):
    """The procedure's code and, for the administrator's own centre, a link to edit it in the modeller."""
    if model.centre_id != _actor().centre_id or not model.latest_version:
        return model.code
    return Markup('{} <a class="small" href="{}">Sửa trong trang thiết kế</a>').format(
        model.code, url_for("modeller.open_version", code=model.code))
def _versions(view, context, model, name):
    """The version number, and for the centre's own procedure with several, a link comparing the newest two."""
    if model.latest_version > 1 and model.centre_id == _actor().centre_id:
        return Markup('{} (<a href="{}">so sánh</a>)').format(
            model.latest_version, url_for("version_diff.compare", code=model.code))
    return model.latest_version


class ProcedureView(ReadOnlyView):
    column_list = ("code", "name", "latest_version", "updated_at")
    column_labels = COMMON_LABELS | {"code": "Mã", "name": "Tên thủ tục", "latest_version": "Phiên bản"}
    column_formatters = {"code": _code_to_edit, "latest_version": _versions, "centre": _centre_code}
    column_searchable_list = ("code", "name")
    column_default_sort = ("code", False)


def _status(view, context, model, name):
    return str(STATUS_NAMES.get(model.status, model.status))


# Where a dossier's workflow stands (Dossier.state), as the back office says it.
STATES = {"active": "Đang xử lý", "completed": "Đã xong quy trình", "error": "Gặp sự cố", "cancelled": "Đã dừng"}
# The landing page's selections of dossiers (services.overview.DOSSIER_LISTS), as list titles.
DOSSIER_LISTS = {"incidents": "Hồ sơ gặp sự cố", "overdue": "Hồ sơ quá hạn", "active": "Hồ sơ đang xử lý",
                 "late_timers": "Hồ sơ có hẹn giờ chưa chạy", "unsent": "Hồ sơ có thông báo chưa gửi được"}


class DossierView(ApplicantSearch, ReadOnlyView):
    column_list = ("code", "procedure", "status", "state", "applicant", "received_at", "due_at", "centre")
    column_labels = COMMON_LABELS | {
        "code": "Mã hồ sơ", "procedure": "Thủ tục", "status": "Trạng thái", "state": "Tiến trình",
        "applicant": "Người nộp", "received_at": "Tiếp nhận", "due_at": "Hẹn trả", "authority": "Cơ quan có thẩm quyền",
        "error_element": "Bước gặp sự cố", "error_message": "Sự cố"}
    column_searchable_list = ("code", "applicant")
    column_filters = (
        FilterEqual(column=Dossier.status, name="Trạng thái",
                    options=list(STATUS_NAMES.items())),  # lazy names: each page says them in its language
        FilterEqual(column=Dossier.state, name="Tiến trình", options=list(STATES.items())),
        "received_at", "due_at")
    column_formatters = {"procedure": lambda v, c, m, n: m.procedure.code, "status": _status,
                         "state": lambda v, c, m, n: STATES.get(m.state, m.state),
                         "centre": _centre_code,
                         "applicant": lambda v, c, m, n: (m.applicant or {}).get("name", "")}
    column_details_list = ("code", "procedure", "status", "state", "authority", "applicant", "received_at", "due_at",
                           "error_element", "error_message", "centre")
    column_formatters_detail = column_formatters
    column_default_sort = ("id", True)
    simple_list_pager = True  # a count of a million dossiers on every page is not worth it

    def _shown(self):
        which = request.args.get("show")
        return which if which in DOSSIER_LISTS else None

    def get_query(self):
        """The scoped dossiers, or one of the landing page's selections (?show=overdue)."""
        which = self._shown()
        return overview.dossiers(_actor(), which, utcnow()) if which else super().get_query()

    def render(self, template, **kwargs):
        kwargs.setdefault("selection", DOSSIER_LISTS.get(self._shown()))
        return super().render(template, **kwargs)


class AuditView(ReadOnlyView):
    column_list = ("at", "action", "actor", "dossier", "element_id", "seq", "hash")
    column_labels = COMMON_LABELS | {"at": "Lúc", "action": "Việc", "actor": "Người làm", "dossier": "Hồ sơ",
                                     "element_id": "Bước", "seq": "Số", "hash": "Mã băm", "detail": "Chi tiết",
                                     "chain": "Chuỗi", "history": "Các bước kèm theo"}
    column_searchable_list = ("action",)
    column_filters = (FilterEqual(column=AuditEvent.action, name="Việc", options=sorted(
        EVENT_LABELS.items(), key=lambda pair: pair[1])), "at")
    column_formatters = {"action": lambda v, c, m, n: event_label(m.action),
                         "actor": lambda v, c, m, n: m.actor.username if m.actor_id else "",
                         "dossier": lambda v, c, m, n: m.dossier.code if m.dossier_id else "",
                         "hash": lambda v, c, m, n: (m.hash or "")[:12], "centre": _centre_code}
    column_default_sort = ("id", True)
    simple_list_pager = True
    list_template = "onestop_admin/audit_list.html"

    def render(self, template, **kwargs):
        kwargs.setdefault("verify_form", ActionForm())  # the chain check's button, with its CSRF token
        return super().render(template, **kwargs)

    @expose("/verify", methods=("POST",))
    def verify(self):
        if not FlaskForm().validate_on_submit():
            abort(400)
        result = audit.verify(checkpoints=audit.written_checkpoints())
        if result.broken is None:
            flash(f"Nhật ký toàn vẹn: {result.events} sự kiện, {result.chains} chuỗi, {result.history} bước đã làm; "
                  f"khớp {result.checkpoints} mốc kiểm ngoài cơ sở dữ liệu.", "success")
        else:
            flash(f"Nhật ký bị sửa hoặc xóa tại: {result.broken}", "error")
        return redirect(url_for(".index_view"))


LEVELS = {"nation": "Trung ương", "province": "Tỉnh", "commune": "Xã, phường", "district": "Huyện", "centre": "Trung tâm"}
CENTRE_LISTS = {"without_procedures": "Xã, phường chưa áp dụng thủ tục nào"}


class CentreForm(FlaskForm):
    name = StringField("Tên", validators=[DataRequired(), Length(max=500)])
    agency_code = StringField("Mã định danh điện tử", validators=[Optional(), Length(max=64)])
    address = StringField("Địa chỉ", validators=[Optional(), Length(max=500)])


class CentreView(ScopedModelView):
    centre_column = "id"
    can_edit = True
    column_list = ("code", "name", "level", "parent", "agency_code", "closed_on")
    column_labels = COMMON_LABELS | {
        "code": "Mã", "name": "Tên", "level": "Cấp", "parent": "Trực thuộc", "agency_code": "Mã định danh",
        "closed_on": "Sáp nhập ngày", "admin_code": "Mã đơn vị hành chính", "address": "Địa chỉ",
        "successor": "Trung tâm tiếp nhận sau sáp nhập", "handed_over_at": "Bàn giao hồ sơ lúc",
        "office_hours": "Giờ làm việc", "cutoff": "Giờ chốt nhận hồ sơ"}
    column_searchable_list = ("code", "name")
    column_filters = ("level",)
    column_formatters = {"parent": _centre_code, "successor": _centre_code,
                         "level": lambda v, c, m, n: LEVELS.get(m.level, m.level)}
    column_default_sort = ("code", False)
    form = CentreForm

    def _shown(self):
        which = request.args.get("show")
        return which if which in CENTRE_LISTS else None

    def get_query(self):
        """The centres in scope, or the landing page's selection (?show=without_procedures)."""
        which = self._shown()
        return overview.centre_list(_actor(), which) if which else super().get_query()

    def render(self, template, **kwargs):
        kwargs.setdefault("selection", CENTRE_LISTS.get(self._shown()))
        return super().render(template, **kwargs)

    def update_model(self, form, model):
        values = {k: v for k, v in (("name", form.name.data), ("agency_code", form.agency_code.data),
                                    ("address", form.address.data)) if v}
        try:
            centres.update_centre(_actor(), model.code, values)
        except ServiceError as exc:
            flash(exc.message, "error")
            return False
        return True


UNIT_KINDS = {"department": "Phòng, ban", "counter": "Quầy"}
ROLES = {"officer": "Cán bộ", "leader": "Lãnh đạo", "admin": "Quản trị trung tâm", "province_admin": "Quản trị tỉnh",
         "system_admin": "Quản trị hệ thống", "citizen": "Người dân", "integration": "Hệ thống tích hợp"}


class UnitForm(FlaskForm):
    code = StringField("Mã", validators=[DataRequired(), Length(max=32)])
    name = StringField("Tên", validators=[DataRequired(), Length(max=255)])
    kind = SelectField("Loại", choices=[SelectChoice("department", "Phòng, ban"), SelectChoice("counter", "Quầy")])


class UnitView(ScopedModelView):
    can_create = True
    column_list = ("code", "name", "kind", "centre")
    column_labels = COMMON_LABELS | {"code": "Mã", "name": "Tên", "kind": "Loại"}
    column_formatters = {"centre": _centre_code, "kind": lambda v, c, m, n: UNIT_KINDS.get(m.kind, m.kind)}
    form = UnitForm

    def create_model(self, form):
        try:
            return units.create_unit(_actor(), form.code.data, form.name.data, form.kind.data)
        except ServiceError as exc:
            flash(exc.message, "error")
            return False


class UserForm(FlaskForm):
    username = StringField("Tên đăng nhập", validators=[DataRequired(), Length(max=150)])
    display_name = StringField("Họ tên", validators=[Optional(), Length(max=255)])
    password = PasswordField("Mật khẩu", validators=[DataRequired(), Length(min=10, max=200)])
    officer = BooleanField("Cán bộ")
    leader = BooleanField("Lãnh đạo")
    admin = BooleanField("Quản trị trung tâm")


class UserEditForm(FlaskForm):
    display_name = StringField("Họ tên", validators=[Optional(), Length(max=255)])
    officer = BooleanField("Cán bộ")
    leader = BooleanField("Lãnh đạo")
    admin = BooleanField("Quản trị trung tâm")
    active = BooleanField("Được đăng nhập")
    unit = StringField("Mã đơn vị (để trống: không thuộc đơn vị nào)", validators=[Optional(), Length(max=32)])
    new_password = PasswordField("Mật khẩu mới (để trống: giữ nguyên; đặt mới thì mọi phiên đăng nhập của người này kết thúc)",
                                 validators=[Optional(), Length(min=10, max=200)])


class UserView(ScopedModelView):
    can_create = can_edit = True
    column_list = ("username", "display_name", "roles", "unit", "active", "centre")
    column_labels = COMMON_LABELS | {"username": "Tên đăng nhập", "display_name": "Họ tên", "roles": "Vai trò",
                                     "unit": "Đơn vị", "active": "Hoạt động", "failed_sign_ins": "Số lần đăng nhập sai",
                                     "locked_until": "Tạm khóa đến"}
    column_searchable_list = ("username", "display_name")
    column_formatters = {"centre": _centre_code, "unit": lambda v, c, m, n: m.unit.code if m.unit_id else "",
                         "roles": lambda v, c, m, n: ", ".join(
                             [name for role, name in ROLES.items() if role in m.role_set]
                             + sorted(m.role_set - set(ROLES)))}
    column_details_exclude_list = ("password_hash",)
    column_exclude_list = ("password_hash",)
    form = UserForm

    def edit_form(self, obj=None):
        form = UserEditForm(obj=obj)
        if request.method == "GET" and obj is not None:
            for role in ("officer", "leader", "admin"):
                getattr(form, role).data = obj.has_role(role)
            form.unit.data = obj.unit.code if obj.unit_id else ""
        return form

    def update_model(self, form, model):
        keep = [r for r in model.role_set if r not in ("officer", "leader", "admin")]
        roles = keep + [r for r in ("officer", "leader", "admin") if getattr(form, r).data]
        try:
            users.update_user(_actor(), model.username, roles=roles, active=form.active.data,
                              display_name=form.display_name.data, unit=(form.unit.data or "").strip() or None)
            if form.new_password.data:
                users.set_password(_actor(), model.username, form.new_password.data)
        except ServiceError as exc:
            flash(exc.message, "error")
            return False
        return True

    def create_model(self, form):
        roles = [r for r in ("officer", "leader", "admin") if getattr(form, r).data]
        try:
            return users.create_user(form.username.data, roles or ["officer"], centre=Centre.get_by_id(_actor().centre_id),
                                     password=form.password.data, display_name=form.display_name.data or "",
                                     actor=_actor())
        except ServiceError as exc:
            flash(exc.message, "error")
            return False


class ActionForm(FlaskForm):
    pass


class IncidentsView(Guarded, BaseView):
    @expose("/")
    def index(self):
        return self.render("onestop_admin/incidents.html", failed=lifecycle.failed(_actor()), form=ActionForm(),
                           payments=payments.incidents(_actor()))

    @expose("/payments/<int:payment_id>/retry", methods=("POST",))
    def retry_payment(self, payment_id):
        """Ask the payment gateway again now (the reconciliation would, after its backoff)."""
        if not ActionForm().validate_on_submit():
            abort(400)
        payment = payments.retry(_actor(), payment_id)
        if payment.incident:
            flash(f"Cổng thanh toán vẫn lỗi với giao dịch {payment.order_ref}; hệ thống sẽ tự thử lại.", "error")
        else:
            flash(f"Đã đối soát giao dịch {payment.order_ref}.", "success")
        return redirect(url_for(".index"))

    @expose("/<code>/<how>", methods=("POST",))
    def act(self, code, how):
        if not ActionForm().validate_on_submit():
            abort(400)
        try:
            if how == "cancel":
                lifecycle.end(_actor(), code, "stopped", "Dừng xử lý do sự cố kỹ thuật (quản trị)")
            else:
                lifecycle.recover(_actor(), code, how)
            flash(f"Đã xử lý sự cố của hồ sơ {code}.", "success")
        except NotFound:
            raise  # another centre's dossier, or none: 404 like any unknown address
        except ServiceError as exc:
            flash(exc.message, "error")
        return redirect(url_for(".index"))


class DayForm(FlaskForm):
    day = DateField("Ngày", validators=[DataRequired()])
    working = SelectField("Làm việc?", choices=[SelectChoice("0", "Nghỉ"), SelectChoice("1", "Làm việc")])
    note = StringField("Ghi chú", validators=[Optional(), Length(max=255)])


class HoursForm(FlaskForm):
    morning = StringField("Sáng", validators=[DataRequired()])
    afternoon = StringField("Chiều", validators=[DataRequired()])
    cutoff = StringField("Giờ chốt nhận hồ sơ", validators=[Optional()])


class CalendarView(Guarded, BaseView):
    roles = ("admin",)

    @expose("/", methods=("GET", "POST"))
    def index(self):
        actor, day_form, hours_form = _actor(), DayForm(prefix="day"), HoursForm(prefix="hours")
        try:
            if request.method == "POST" and "day-day" in request.form and day_form.validate_on_submit():
                deadlines.set_day(actor, day_form.day.data, day_form.working.data == "1", day_form.note.data or "")
                flash("Đã ghi ngày ngoại lệ.", "success")
                return redirect(url_for(".index"))
            if request.method == "POST" and "hours-morning" in request.form and hours_form.validate_on_submit():
                periods = [p.split("-") for p in (hours_form.morning.data, hours_form.afternoon.data)]
                deadlines.set_office_hours(actor, [[a.strip(), b.strip()] for a, b in periods],
                                           hours_form.cutoff.data or None)
                flash("Đã ghi giờ làm việc.", "success")
                return redirect(url_for(".index"))
        except (ServiceError, ValueError) as exc:
            flash(getattr(exc, "message", str(exc)), "error")
        today = local_today()
        view = deadlines.calendar_view(actor, today, today + timedelta(days=364))
        special = [d for d in view["days"] if d["source"] == "centre" or d["why"] not in ("", "weekend")]
        hours_form.morning.data = hours_form.morning.data or "-".join(view["office_hours"][0])
        if len(view["office_hours"]) > 1:
            hours_form.afternoon.data = hours_form.afternoon.data or "-".join(view["office_hours"][1])
        hours_form.cutoff.data = hours_form.cutoff.data or view["cutoff"]
        return self.render("onestop_admin/calendar.html", view=view, special=special, day_form=day_form,
                           hours_form=hours_form, clear=ActionForm())

    @expose("/clear/<day>", methods=("POST",))
    def clear(self, day):
        if not ActionForm().validate_on_submit():
            abort(400)
        try:
            deadlines.clear_day(_actor(), date.fromisoformat(day))
        except ValueError:
            abort(404)
        return redirect(url_for(".index"))


class CoverageView(Guarded, BaseView):
    roles = ("province_admin", "system_admin")

    @expose("/")
    def index(self):
        code = (request.args.get("code") or "").strip()[:128]
        rows, error = [], None
        if code:
            try:
                rows = rollout.coverage(_actor(), code)
            except ServiceError as exc:
                error = exc.message
        return self.render("onestop_admin/coverage.html", code=code, rows=rows, error=error)


class UploadForm(FlaskForm):
    files = MultipleFileField("Tệp của thủ tục (BPMN, biểu mẫu JSON, procedure.json) hoặc một tệp .zip")


class RolloutForm(FlaskForm):
    to = StringField("Các trung tâm", validators=[DataRequired(), Length(max=20000)])


class PackForm(FlaskForm):
    pack = FileField("Gói thủ tục (.zip có manifest.json, tạo bằng onestop pack export)",
                     validators=[FileRequired("Chọn tệp gói thủ tục")])
    to = StringField("Các trung tâm (ví dụ province:22/*, nation, hoặc các mã W07090,W07093)",
                     validators=[DataRequired(), Length(max=20000)])
    force = BooleanField("Thay cả các phiên bản trung tâm tự tải lên")


def _plain(message: str) -> str:
    """A service's refusal of an upload as the administrator reads it (in Vietnamese)."""
    from .modeller import vietnamese  # the modeller's table of messages; it imports this module

    return vietnamese(message)


class OnboardView(Guarded, BaseView):
    @expose("/", methods=("GET", "POST"))
    def index(self):
        form = UploadForm()
        if form.validate_on_submit():
            uploads = [procedures.Upload(f.filename or "tep", f.read()) for f in request.files.getlist("files") if f]
            settings = current_app.config["ONESTOP"]
            try:
                result = onboarding.submit(_actor(), uploads, settings.max_model_bytes)
            except ServiceError as exc:
                flash(_plain(exc.message), "error")
                return self.render("onestop_admin/onboard.html", form=form, pack=self._pack_form())
            return redirect(url_for(".draft", draft_id=result.draft_id), 303)
        return self.render("onestop_admin/onboard.html", form=form, pack=self._pack_form())

    @staticmethod
    def _pack_form():
        return PackForm(prefix="pack") if _actor().has_role("province_admin", "system_admin") else None

    @expose("/pack", methods=("POST",))
    def roll_out_pack(self):
        """A verified pack, published at the administrator's level and adopted by the chosen centres."""
        if not _actor().has_role("province_admin", "system_admin"):
            abort(403)
        form = PackForm(prefix="pack")
        if not form.validate_on_submit():
            for errors in form.errors.values():
                for error in errors:
                    flash(error, "error")
            return redirect(url_for(".index"), 303)
        settings = current_app.config["ONESTOP"]
        try:
            report = rollout.rollout_pack(_actor(), form.pack.data.read(), form.to.data.strip(),
                                          force=form.force.data, max_bytes=settings.max_model_bytes)
        except ServiceError as exc:
            flash(_plain(exc.message), "error")
            return redirect(url_for(".index"), 303)
        codes = ", ".join(sorted({o.code for o in report.outcomes}))
        return self.render("onestop_admin/rollout.html", code=codes, report=report)

    @expose("/<rowid:draft_id>")
    def draft(self, draft_id):
        settings = current_app.config["ONESTOP"]
        result = onboarding.review(_actor(), draft_id, settings.max_model_bytes)
        previews = {}
        if result.model is not None:
            from onestop.formdefs import FormDefinition

            for name, form_def in result.model.forms.items():
                try:
                    previews[name] = forms.html_form(FormDefinition.from_dict(form_def))
                except Exception as exc:  # a form that cannot be drawn is a finding, not a crash
                    result.findings.append(onboarding.Finding("error", f"form {name} cannot be shown: {exc}"))
        svg = diagram.render(result.model.diagram, done=frozenset(), current=frozenset(),
                             title=result.name, marked=frozenset(result.marked)) if result.model else Markup("")
        pair = diagram.comparison(result.previous.diagram, result.model.diagram, result.diff,
                                  f"Phiên bản {result.current_version}", "Bản nháp") \
            if result.diff is not None and result.previous is not None else None
        from .templates_view import ASPECTS

        return self.render("onestop_admin/draft.html", result=result, svg=svg, previews=previews, pair=pair,
                           aspects=ASPECTS,
                           publish=ActionForm(), rollout=RolloutForm(), can_roll_out=_actor().has_role(
                               "province_admin", "system_admin"))

    @expose("/<rowid:draft_id>/publish", methods=("POST",))
    def publish(self, draft_id):
        if not ActionForm().validate_on_submit():
            abort(400)
        settings = current_app.config["ONESTOP"]
        try:
            version = onboarding.publish(_actor(), draft_id, settings.max_model_bytes)
            flash(f"Đã công bố {version.procedure.code} phiên bản {version.version}.", "success")
        except NotFound:
            raise
        except ServiceError as exc:
            flash(exc.message, "error")
        return redirect(url_for(".draft", draft_id=draft_id), 303)

    @expose("/rollout/<code>", methods=("POST",))
    def roll_out(self, code):
        if not _actor().has_role("province_admin", "system_admin"):
            abort(403)
        form = RolloutForm()
        if not form.validate_on_submit():
            abort(400)
        try:
            report = onboarding.roll_out(_actor(), code, form.to.data.strip())
        except NotFound as exc:
            if "procedure" in exc.message:
                raise
            flash(exc.message, "error")
            return redirect(local_referrer(url_for(".index")), 303)
        except ServiceError as exc:
            flash(exc.message, "error")
            return redirect(local_referrer(url_for(".index")), 303)
        return self.render("onestop_admin/rollout.html", code=code, report=report)
