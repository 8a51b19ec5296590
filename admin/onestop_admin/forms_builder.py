"""The form builder (issue 16, area forms): a draft's forms listed, and one form edited in the
vendored bpmn.io form editor, previewed as onestop itself renders it, and saved into the draft.

/admin/modeller/<draft_id>/forms                  the draft's forms (HTML; ?format=json for the modeller)
/admin/modeller/<draft_id>/forms/new              POST: a new empty form, then its builder
/admin/modeller/<draft_id>/forms/<form_name>           the builder page
/admin/modeller/<draft_id>/forms/<form_name>/preview   POST (JSON): the form as the citizen and the officer see it
/admin/modeller/<draft_id>/forms/<form_name>/save      POST (JSON): save at the page's revision

Every write goes through onestop.services.form_builder (and drafts.save); the JSON answers carry
each problem in Vietnamese with the component it is about, so the page puts it next to the field.
The back office speaks Vietnamese, as its other pages do.
"""

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_admin import BaseView, expose
from flask_wtf.csrf import CSRFError, validate_csrf
from wtforms import ValidationError

from onestop import boundedjson
from onestop.services import form_builder
from onestop.services.errors import Conflict, NotFound, ServiceError
from onestop.web import forms as web_forms
from onestop.web.security import csp_nonce

from .views import ActionForm, Guarded, _actor

MAX_BODY = form_builder.MAX_DOCUMENT_BYTES + 64 * 1024

PROBLEMS = {
    "empty_key": "Trường chưa có khóa (key): đặt một khóa gồm chữ cái không dấu, chữ số và dấu _.",
    "bad_key": "Khóa “{key}” không hợp lệ: chỉ dùng chữ cái không dấu, chữ số và dấu _, không bắt đầu bằng chữ số.",
    "duplicate_key": "Khóa “{key}” trùng với một trường khác: mỗi trường cần một khóa riêng.",
    "bad_pattern": "Mẫu kiểm tra (biểu thức chính quy) của trường không dùng được: sửa hoặc bỏ nó. Chi tiết: {detail}",
    "no_options": "Trường lựa chọn chưa có phương án nào: thêm ít nhất một phương án (nhãn và giá trị).",
    "empty_option": "Một phương án của trường lựa chọn chưa có giá trị.",
    "duplicate_option": "Hai phương án của trường lựa chọn có cùng giá trị: mỗi phương án cần một giá trị riêng.",
    "unsupported": "Loại trường này onestop chưa hiển thị được cho người dân và cán bộ; hãy dùng ô chữ, vùng văn "
                   "bản, số, ngày giờ, danh sách chọn, nút chọn, ô đánh dấu, danh sách đánh dấu, tệp, nhóm, danh sách "
                   "lặp hoặc đoạn chữ.",
    "expression": "Biểu thức FEEL và điều kiện ẩn/hiện của trình soạn chưa dùng được trong biểu mẫu của onestop: "
                  "bỏ nó (rẽ nhánh theo dữ liệu đặt ở cổng rẽ nhánh của quy trình). Chi tiết: {detail}",
    "schema": "Định nghĩa trường chưa hợp lệ. Chi tiết: {detail}",
    "document": "Biểu mẫu không đọc được. Chi tiết: {detail}",
}


def _problems(exc: ServiceError) -> list[dict]:
    """The service's problems, each with its Vietnamese message (the English detail kept apart)."""
    out = []
    for p in exc.details if isinstance(exc.details, list) else []:
        template = PROBLEMS.get(p.get("code"), PROBLEMS["schema"])
        out.append({**p, "message": template.format(key=p.get("key") or "", detail=p.get("detail") or "")})
    return out or [{"code": "document", "component": "", "key": "", "label": "",
                    "message": PROBLEMS["document"].format(detail=exc.message), "detail": exc.message}]


def _conflict_message(exc: Conflict) -> str:
    details = exc.details if isinstance(exc.details, dict) else {}
    if details.get("published_version") is not None:
        return (f"Bản nháp này đã được công bố thành phiên bản {details['published_version']}; mở lại thủ tục để "
                "sửa tiếp (thay đổi của bạn vẫn còn trên trang).")
    who = details.get("edited_by") or "Một quản trị viên khác"
    return (f"{who} đã lưu bản nháp này sau khi bạn mở trang; chưa lưu gì của bạn. Thay đổi của bạn vẫn còn trên "
            "trang: sao chép phần cần giữ rồi tải lại để xem bản của họ.")


class FormBuilderView(Guarded, BaseView):
    """No menu entry: the builder is reached from a draft (the modeller, the review page)."""

    def is_visible(self):
        return False

    def _read_json(self):
        try:
            validate_csrf(request.headers.get("X-CSRFToken", ""))
        except (ValidationError, CSRFError):
            abort(400)
        if (request.content_length or 0) > MAX_BODY:
            abort(413)
        try:
            body = boundedjson.loads(request.get_data(cache=False), max_bytes=MAX_BODY)
        except boundedjson.Refused:
            abort(400)
        if not isinstance(body, dict):
            abort(400)
        return body

    @expose("/<rowid:draft_id>/forms")
    def index(self, draft_id):
        try:
            state, found = form_builder.list_forms(_actor(), draft_id)
        except NotFound:
            abort(404)
        if request.args.get("format") == "json":
            return jsonify({"draft": state.draft_id, "revision": state.revision, "forms": [
                {"name": f.name, "file": f.file, "ui_file": f.ui_file, "title": f.title, "fields": f.fields, "dialect": f.dialect,
                 "url": url_for(".builder", draft_id=draft_id, form_name=f.name)} for f in found]})
        return self.render("onestop_admin/forms/list.html", state=state, forms=found, new=ActionForm())

    @expose("/<rowid:draft_id>/forms/new", methods=("POST",))
    def new(self, draft_id):
        if not ActionForm().validate_on_submit():
            abort(400)
        name = (request.form.get("name") or "").strip().lower()
        try:
            revision = int(request.form.get("revision") or 0)
            form_builder.create_form(_actor(), draft_id, name, request.form.get("title") or "", revision)
        except NotFound:
            abort(404)
        except ValueError:
            abort(400)
        except Conflict as exc:
            flash(_conflict_message(exc), "error")
            return redirect(url_for(".index", draft_id=draft_id), 303)
        except ServiceError as exc:
            flash(_new_form_message(exc.message, name), "error")
            return redirect(url_for(".index", draft_id=draft_id), 303)
        return redirect(url_for(".builder", draft_id=draft_id, form_name=name), 303)

    @expose("/<rowid:draft_id>/forms/<form_name>")
    def builder(self, draft_id, form_name):
        name = form_name
        try:
            opened = form_builder.open_form(_actor(), draft_id, name)
        except NotFound:
            abort(404)
        except ServiceError as exc:
            flash(f"Không mở được biểu mẫu {name}: {exc.message}", "error")
            return redirect(url_for(".index", draft_id=draft_id), 303)
        data = {
            "name": opened.name, "dialect": opened.dialect, "document": opened.document,
            "revision": opened.revision, "palette": form_builder.palette(opened.documents),
            "previewUrl": url_for(".preview", draft_id=draft_id, form_name=name),
            "saveUrl": url_for(".save", draft_id=draft_id, form_name=name),
            "csrfToken": ActionForm().csrf_token.current_token,
            "styleNonce": csp_nonce(),  # this answer's, as flask-admin's own inline elements carry it
        }
        return self.render("onestop_admin/forms/builder.html", opened=opened, draft_id=draft_id, data=data)

    @expose("/<rowid:draft_id>/forms/<form_name>/preview", methods=("POST",))
    def preview(self, draft_id, form_name):
        name = form_name
        body = self._read_json()
        try:
            definition = form_builder.preview(_actor(), draft_id, name, body.get("document"))
        except NotFound:
            abort(404)
        except ServiceError as exc:
            return jsonify({"problems": _problems(exc)}), 422
        html = web_forms.html_form(definition)
        return render_template("onestop_admin/forms/preview.html", html=html, form=html.build({}))

    @expose("/<rowid:draft_id>/forms/<form_name>/save", methods=("POST",))
    def save(self, draft_id, form_name):
        name = form_name
        body = self._read_json()
        revision = body.get("revision")
        if not isinstance(revision, int) or isinstance(revision, bool):
            abort(400)
        try:
            new_revision = form_builder.save_form(_actor(), draft_id, name, body.get("document"), revision)
        except NotFound:
            abort(404)
        except Conflict as exc:
            details = exc.details if isinstance(exc.details, dict) else {}
            return jsonify({"message": _conflict_message(exc), "edited_by": details.get("edited_by"),
                            "revision": details.get("revision")}), 409
        except ServiceError as exc:
            return jsonify({"message": "Chưa lưu: biểu mẫu còn lỗi, xem bên cạnh từng trường.",
                            "problems": _problems(exc)}), 422
        return jsonify({"revision": new_revision, "message": f"Đã lưu biểu mẫu (bản nháp lần {new_revision})."})


def _new_form_message(english: str, name: str) -> str:
    if "already has" in english:
        return f"Bản nháp đã có biểu mẫu tên {name}: chọn tên khác."
    if "name is" in english or "named without" in english:
        return "Tên biểu mẫu chỉ gồm chữ thường không dấu, chữ số và dấu _ (ví dụ: tiep_nhan)."
    return f"Chưa tạo được biểu mẫu: {english}"


# flask-admin wants a view at "/" to link a menu entry to; this view has no menu entry, and
# /admin/modeller/ itself belongs to the modeller's view. Its list of a draft's forms stands in.
FormBuilderView._default_view = "index"
