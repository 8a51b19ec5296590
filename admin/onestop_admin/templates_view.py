""""New procedure" from a template (/admin/modeller/new) and two versions of a procedure side by side
(/admin/modeller/diff/<code>?from=N&to=M). The draft a template becomes opens in the modeller
(/admin/modeller/<draft_id>); an uploaded file goes to the existing onboarding upload."""

from flask import abort, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_wtf import FlaskForm
from wtforms import RadioField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, Regexp

from onestop.models import Procedure
from onestop.services import templates, versions
from onestop.services.errors import NotFound, ServiceError
from onestop.web import diagram

from .views import Guarded, UploadForm, _actor

# The same rule as the catalogue's (services/procedures._CODE), said in Vietnamese next to the field.
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
# What changed on an element, as the listing says it.
ASPECTS = {"name": "tên", "type": "loại phần tử", "lane": "làn (đơn vị thực hiện)", "form": "biểu mẫu",
           "form_content": "nội dung biểu mẫu", "instructions": "hướng dẫn cho cán bộ",
           "conditions": "điều kiện rẽ nhánh", "outputs": "bước tiếp theo"}


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class NewProcedureForm(FlaskForm):
    template = RadioField("Mẫu quy trình", validators=[InputRequired("Chọn một mẫu quy trình.")], choices=[])
    code = StringField("Mã thủ tục", filters=[_strip], description="Mã trong Cơ sở dữ liệu quốc gia về thủ tục hành "
                       "chính, ví dụ 1.001193", validators=[
                           DataRequired("Nhập mã thủ tục."),
                           Regexp(CODE_PATTERN, message="Mã thủ tục chỉ gồm chữ cái không dấu, chữ số và các dấu . _ - "
                                                        "(tối đa 128 ký tự), bắt đầu bằng chữ hoặc số; ví dụ 1.001193.")])
    name = StringField("Tên thủ tục", filters=[_strip], validators=[
        DataRequired("Nhập tên thủ tục."), Length(max=templates.MAX_NAME, message="Tên thủ tục dài quá 1000 ký tự.")])


def modeller_url(draft_id) -> str:
    """The modeller page of a draft (the modeller's own view answers there)."""
    return f"{url_for('admin.index').rstrip('/')}/modeller/{int(draft_id)}"


class TemplatesView(Guarded, BaseView):
    """Start a procedure from a template, or from uploaded files."""

    # Both /admin/modeller/new and .../new/: the bare one is what links use, and as a static path it is
    # matched before the modeller's /admin/modeller/<draft_id>.
    @expose("", methods=("GET", "POST"))
    @expose("/", methods=("GET", "POST"))
    def index(self):
        offered = templates.all_templates()
        form = NewProcedureForm()
        form.template.choices = [(t.name, t.title) for t in offered]
        if form.validate_on_submit():
            actor = _actor()
            if Procedure.get_or_none((Procedure.centre == actor.centre_id) & (Procedure.code == form.code.data)):
                form.code.errors = [f"Trung tâm đã có thủ tục mã {form.code.data}: hãy mở phiên bản đang dùng để sửa, "
                                    "hoặc nhập mã khác."]
            else:
                try:
                    draft_id = templates.create_draft(actor, form.template.data, form.code.data, form.name.data)
                except ServiceError:
                    form.code.errors = ["Không tạo được bản nháp từ mẫu này; kiểm tra mã và tên thủ tục rồi thử lại."]
                else:
                    return redirect(modeller_url(draft_id), 303)
        status = 422 if request.method == "POST" else 200
        return self.render("onestop_admin/templates/new.html", form=form, offered=offered,
                           upload=UploadForm(), diagrams=_previews(offered)), status


def _previews(offered) -> dict:
    """Each template's diagram, drawn by the server."""
    return {t.name: diagram.render(templates.diagram(t.name), title=t.title, dom_id=f"template-diagram-{t.name}")
            for t in offered}


class VersionDiffView(Guarded, BaseView):
    """Any two versions of one of the centre's procedures, drawn and listed."""

    def is_visible(self):
        return False  # reached from a procedure or a draft, not from the menu

    @expose("/")
    def index(self):
        procedures = (Procedure.select().where((Procedure.centre == _actor().centre_id) & (Procedure.latest_version > 1))
                      .order_by(Procedure.code))
        return self.render("onestop_admin/templates/diff_index.html", procedures=list(procedures))

    @expose("/<code>")
    def compare(self, code):
        try:
            first = int(request.args["from"]) if request.args.get("from") else None
            second = int(request.args["to"]) if request.args.get("to") else None
        except ValueError:
            abort(404)
        try:
            compared = versions.compare(_actor(), code, first, second)
        except NotFound:
            abort(404)
        old_svg, new_svg = diagram.comparison(
            compared.old_model.diagram, compared.new_model.diagram, compared.diff,
            f"Phiên bản {compared.old.version}", f"Phiên bản {compared.new.version}")
        return self.render("onestop_admin/templates/diff.html", compared=compared, diff=compared.diff,
                           old_svg=old_svg, new_svg=new_svg, aspects=ASPECTS)


def register(admin):
    """Add the views to the back office (one line in onestop_admin.init_app)."""
    admin.add_view(TemplatesView(name="Thủ tục mới", endpoint="templates", url="/admin/modeller/new"))
    admin.add_view(VersionDiffView(name="So sánh phiên bản", endpoint="version_diff", url="/admin/modeller/diff"))
