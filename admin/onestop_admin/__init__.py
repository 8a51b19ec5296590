"""The back office (flask-admin): administrators onboard procedures and keep centres, units, people,
calendars and incidents in order. It imports onestop, never the reverse.

Views hold configuration and delegate every write to onestop.services, which own the transaction
and the audit event. Engine-managed tables (dossiers, audit events, versions) are read-only here.
Every list and every single record is scoped to what the signed-in administrator may see: their
centre, their province's centres, or the whole country.
"""

from pathlib import Path

from flask_admin import Admin
from flask_admin.theme import Bootstrap4Theme
from jinja2 import ChoiceLoader, FileSystemLoader

from . import catalogue, i18n, legacy, templates_view
from .forms_builder import FormBuilderView
from .lookup_tables import LookupTablesView
from .modeller import ModellerView
from .panel import PanelView
from .testrun import TestRunView
from .views import (
    AuditView,
    CalendarView,
    CoverageView,
    DossierView,
    Home,
    IncidentsView,
    OnboardView,
    ProcedureView,
    UnitView,
    UserView,
)


def init_app(app):
    app.jinja_loader = ChoiceLoader([app.jinja_loader, FileSystemLoader(str(Path(__file__).with_name("templates")))])
    from onestop.web.security import csp_nonce

    from .views import SignOutForm

    i18n.install()
    app.jinja_env.globals["sign_out_form"] = SignOutForm
    # flask-admin writes this nonce into its inline <script> and <style>; the policy names it. Every
    # view renders in our base template (the portal's look, the menu, sign-out).
    admin = Admin(app, name="onestop", url="/admin", index_view=Home(name="Tổng quan", url="/admin"),
                  csp_nonce_generator=csp_nonce, theme=Bootstrap4Theme(base_template="onestop_admin/base.html"))
    from onestop.models import AuditEvent, Centre, Dossier, Procedure, Unit, User

    admin.add_view(OnboardView(name="Đưa thủ tục vào", endpoint="onboard"))
    admin.add_view(ModellerView(name="Thiết kế quy trình", endpoint="modeller"))
    admin.add_view(ProcedureView(Procedure, name="Thủ tục", endpoint="procedure"))
    admin.add_view(DossierView(Dossier, name="Hồ sơ", endpoint="dossier"))
    admin.add_view(IncidentsView(name="Sự cố", endpoint="incidents"))
    from .connectors import ConnectorsView

    admin.add_view(ConnectorsView(name="Kết nối", endpoint="connectors"))
    from .webhooks import WebhooksView

    admin.add_view(WebhooksView(name="Webhook", endpoint="webhooks"))
    from .national_portal import NationalPortalView

    admin.add_view(NationalPortalView(name="Cổng DVC quốc gia", endpoint="national_portal", url="/admin/national-portal"))
    from .agencies import CentreView, CodesView, MergerView

    admin.add_view(CentreView(Centre, name="Trung tâm", endpoint="centre"))
    admin.add_view(CodesView(name="Mã định danh", endpoint="agency_codes"))
    admin.add_view(MergerView(name="Sáp nhập", endpoint="mergers"))
    admin.add_view(UnitView(Unit, name="Đơn vị", endpoint="unit"))
    admin.add_view(UserView(User, name="Người dùng", endpoint="user"))
    admin.add_view(CalendarView(name="Lịch làm việc", endpoint="calendar"))
    admin.add_view(LookupTablesView(name="Bảng tra cứu", endpoint="lookup_tables", url="/admin/lookup-tables"))
    from .calendar import OfficialCalendarView

    admin.add_view(OfficialCalendarView(name="Lịch quốc gia", endpoint="official_calendar", url="/admin/official-calendar"))
    from .queue import QueueView

    admin.add_view(QueueView(name="Xếp hàng", endpoint="queue_setup", url="/admin/queue"))
    admin.add_view(CoverageView(name="Độ phủ", endpoint="coverage"))
    admin.add_view(AuditView(AuditEvent, name="Nhật ký", endpoint="audit"))
    admin.add_view(TestRunView(name="Thử nghiệm", endpoint="testrun", url="/admin/modeller"))
    templates_view.register(admin)
    catalogue.register(admin)
    legacy.register(admin)
    admin.add_view(PanelView(name="Bảng thuộc tính", endpoint="panel", url="/admin/modeller/check"))
    admin.add_view(FormBuilderView(name="Biểu mẫu", endpoint="form_builder", url="/admin/modeller"))
    app.extensions["onestop.admin"] = admin
    return admin
