"""The modeller: an administrator draws a procedure's BPMN in the browser (bpmn-js, vendored), sees
the same checks as publishing while drawing, saves the draft with its revision, and publishes it.

The page is static HTML and JavaScript (platform/onestop/static/authoring/modeller.js); these views
answer its JSON requests and delegate every read and write to onestop.services: drafts (load, save
with compare-and-set, a copy as a new draft), onboarding (the review of unsaved files, publish).
A save over someone else's newer revision is refused with who saved and when; what is on the page
stays there and can be kept as a new draft, so nothing typed is lost.
"""

import io
import re
from pathlib import Path

from flask import abort, current_app, jsonify, redirect, request, send_file, url_for
from flask_admin import BaseView, expose
from flask_wtf.csrf import generate_csrf, validate_csrf
from wtforms import ValidationError

from onestop.models import Draft, Procedure, User
from onestop.services import drafts, onboarding, procedures
from onestop.services.errors import Conflict, NotFound, ServiceError
from onestop.web.i18n import dmy_hm

from .views import ActionForm, Guarded, _actor


def _json_body() -> dict:
    """The request's JSON object, after its CSRF token (header X-CSRFToken) is checked."""
    try:
        validate_csrf(request.headers.get("X-CSRFToken"))
    except ValidationError:
        abort(_refused(400, "Phiên làm việc đã hết hạn: tải lại trang rồi thử lại (những gì đang vẽ vẫn còn "
                            "trên trang).", error="csrf"))
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400)
    return body


def _refused(status, message, **extra):
    response = jsonify(message=message, csrf_token=generate_csrf(), **extra)
    response.status_code = status
    return response


def _texts(body) -> dict:
    """{file name: text or None} from a request: only strings are file contents."""
    files = body.get("files")
    if not isinstance(files, dict) or not all(isinstance(k, str) for k in files) or not all(
            v is None or isinstance(v, str) for v in files.values()) or any(
            k.lower().endswith(".zip") for k in files):
        abort(400)
    return files


def _when(value) -> str:
    return dmy_hm(value) if value else ""


def _who(state) -> dict:
    return {"edited_by": state.edited_by or "", "edited_at": _when(state.edited_at)}


# The messages of the engine and the lint, as an administrator reads them next to an element.
# Patterns over the English messages of onestop.engine and services.onboarding (which stay in
# English for the API and the logs); whatever is not listed is shown after a Vietnamese lead.
_VIETNAMESE = [
    (r"^(?P<file>\S+) is not well-formed XML(?: \(line (?P<line>\d+)\))?: (?P<rest>.*)$",
     "Tệp {file} không phải XML hợp lệ (dòng {line}): sơ đồ bị hỏng, chưa đọc được."),
    (r"^(?P<file>\S+) could not be read as XML: .*$", "Tệp {file} không đọc được như XML."),
    (r"^(?P<file>\S+) contains a DOCTYPE declaration.*$",
     "Tệp {file} có khai báo DOCTYPE: không được phép (lý do an toàn)."),
    (r"^(?P<file>\S+) is not a BPMN 2.0 document.*$", "Tệp {file} không phải sơ đồ BPMN 2.0."),
    (r"^(?P<file>\S+) is larger than (?P<kib>\d+) KiB$", "Tệp {file} lớn hơn {kib} KiB cho phép."),
    (r"^(?P<file>\S+) does not follow the BPMN schema \(line (?P<line>\d+)\): .*$",
     "Tệp {file} không đúng lược đồ BPMN (dòng {line})."),
    (r"^sequenceFlow (?P<id>\S+) has no source: '(?P<ref>[^']*)' does not exist in the model$",
     "Luồng {id} xuất phát từ '{ref}', phần tử không còn trong sơ đồ: nối lại luồng này hoặc xóa nó."),
    (r"^sequenceFlow (?P<id>\S+) has no target: '(?P<ref>[^']*)' does not exist in the model$",
     "Luồng {id} đi tới '{ref}', phần tử không còn trong sơ đồ: nối lại luồng này hoặc xóa nó."),
    (r"^sequenceFlow (?P<id>\S+) has no source$", "Luồng {id} chưa có điểm đầu: nối lại cho đủ hai đầu."),
    (r"^sequenceFlow (?P<id>\S+) has no target$", "Luồng {id} chưa có điểm cuối: nối lại cho đủ hai đầu."),
    (r"^(?P<tag>\w+) (?P<id>\S+): There is no support implemented for this task type\.?$",
     "Phần tử loại {tag} chưa được hỗ trợ: thay bằng một loại bước hoặc cổng khác."),
    (r"^.*: (?:expression|timer) '(?P<text>.*)': syntax error: .*$",
     "Biểu thức '{text}' viết sai cú pháp."),
    (r"^.*: cannot translate (?:expression|timer) '(?P<text>.*)': .*$", "Không hiểu được biểu thức '{text}'."),
    (r"^\w+ \S+: Multiple outgoing flows are not supported.*$",
     "Một bước chỉ được có một luồng ra: muốn rẽ nhánh, thêm một cổng (gateway) sau bước này."),
    (r"^.*: expression '(?P<text>.*)': (?P<rest>.*not allowed.*)$",
     "Biểu thức '{text}' dùng điều không được phép (lý do an toàn): {rest}"),
    (r"^.*: Non-default exclusive outgoing sequence flow without condition.*$",
     "Nhánh ra khỏi cổng chưa có điều kiện và không phải nhánh mặc định: thêm điều kiện, hoặc đặt làm nhánh mặc "
     "định."),
    (r"^\w+ \S+ refers to form '(?P<form>.*)' that does not exist$",
     "Bước này dùng biểu mẫu '{form}' nhưng bản nháp không có tệp đó."),
    (r"^\w+ \S+: (?P<rest>.*(?:not allowed|not permitted|forbidden).*)$",
     "Mã lệnh (script) không qua được kiểm tra an toàn: {rest}"),
    (r"^.*: timer has no value$", "Bộ hẹn giờ chưa có giá trị."),
    (r"^the model has no executable process.*$",
     "Sơ đồ không có quy trình nào được đánh dấu thực thi được (isExecutable)."),
    (r"^no BPMN file was uploaded$", "Bản nháp không có sơ đồ BPMN."),
    (r"^.*(?:no start event|No start event).*$", "Quy trình chưa có sự kiện bắt đầu: thêm một sự kiện bắt đầu."),
    (r"^.* is in no lane; it will be offered without one$",
     "Bước này không nằm trong làn nào: sẽ được giao không theo vai trò."),
    (r"^.*: (?:expression|timer) '(?P<text>.*)' read as (?P<python>.*)$", "Biểu thức '{text}' được hiểu là {python}."),
    # onboarding.lint
    (r"^a task people do is in no lane: no role is offered it$",
     "Bước do người làm nhưng không nằm trong làn nào: không vai trò nào được giao."),
    (r"^its lane '(?P<lane>.*)' maps to no role in procedure.json \"lanes\"$",
     "Làn '{lane}' chưa gắn với vai trò nào trong procedure.json (\"lanes\")."),
    (r"^no path from here reaches an end.*$",
     "Từ đây không có đường đến điểm kết thúc: hồ sơ có thể bị kẹt mãi ở đây."),
    (r"^procedure.json sets no processing time.*$",
     "procedure.json chưa đặt thời hạn giải quyết (\"deadline\"): không hẹn được ngày trả."),
    (r"^the steps' allocations add up to (?P<a>[\d.]+) working days, more than the (?P<t>[\d.]+) .*$",
     "Thời gian các bước cộng lại {a} ngày làm việc, nhiều hơn {t} ngày của thủ tục (chỉ được khi các bước chạy "
     "song song)."),
    (r"^procedure.json lists no required documents.*$", "procedure.json chưa liệt kê giấy tờ phải nộp (\"documents\")."),
    (r"^procedure.json states no fee.*$",
     "procedure.json chưa ghi lệ phí (\"fee_vnd\"; 0 hoặc \"Miễn phí\" nếu không thu)."),
    (r"^the model runs scripts.*$",
     "Sơ đồ có chạy mã lệnh (script): đã qua kiểm tra an toàn; nên dùng biểu mẫu và cổng khi có thể."),
    (r"^procedure.json \"lanes\": lane '(?P<lane>.*)' maps to '(?P<role>.*)'; a lane maps to one of: (?P<roles>.*)$",
     "procedure.json \"lanes\": làn '{lane}' gắn với vai trò '{role}' không có; vai trò phải là một trong: "
     "{roles}."),
    (r"^procedure.json \"(?P<key>[^\"]+)\" still holds the template's placeholder.*$",
     "procedure.json: mục \"{key}\" vẫn còn chữ của mẫu («Điều chỉnh: ...»): ghi giá trị của chính thủ tục này."),
    (r"^procedure.json: (?P<rest>.*)$", "procedure.json: {rest}"),
    # services.testrun (the review before publishing)
    (r"^the draft was never tried.*$",
     "Bản nháp chưa được thử lần nào: chưa chạy kiểm thử, chưa làm thử hồ sơ nào (trang «Chạy thử»); chưa nhánh nào "
     "được đi qua."),
    (r"^no test case or practice dossier ever reached this element.*$",
     "Chưa ca kiểm thử hay hồ sơ thử nào đi đến bước này: nhánh này chưa được thử."),
    # services.drafts and procedures.unpack
    (r"^a draft keeps BPMN, DMN and JSON files, not '(?P<name>.*)'$",
     "Bản nháp chỉ giữ tệp BPMN, DMN và JSON, không giữ '{name}'."),
    (r"^a draft needs at least a BPMN model$", "Bản nháp cần ít nhất một sơ đồ BPMN."),
    (r"^too many files \((?P<n>\d+)\); at most (?P<m>\d+)$", "Quá nhiều tệp ({n}); tối đa {m}."),
    (r"^(?P<file>.+) is larger than the limit of (?P<kib>\d+) KiB per file$",
     "Tệp {file} lớn hơn giới hạn {kib} KiB một tệp."),
    (r"^procedure code (?P<code>.*) may only hold .*$",
     "Mã thủ tục {code} chỉ được gồm chữ, số và . _ - (tối đa 128 ký tự)."),
    # issue 19: the upload's own refusals (services.procedures.unpack and services.onboarding)
    (r"^choose the procedure's files .*$",
     "Chọn các tệp của thủ tục (sơ đồ BPMN, biểu mẫu, procedure.json) hoặc một tệp .zip."),
    (r"^file '(?P<file>.*)' was given twice$", "Tệp '{file}' được chọn hai lần."),
    (r"^(?P<file>.+) is not a readable zip file$", "Tệp {file} không phải tệp .zip đọc được."),
    (r"^(?P<file>.+) holds too many files \((?P<n>\d+)\)$", "Tệp {file} chứa quá nhiều tệp ({n})."),
    (r"^(?P<file>.+) unpacks to more than (?P<mib>\d+) MiB$", "Tệp {file} giải nén ra hơn {mib} MiB."),
    (r"^(?P<name>.+) in (?P<file>.+) is larger than (?P<kib>\d+) KiB$",
     "Tệp {name} trong {file} lớn hơn {kib} KiB."),
    (r"^(?P<name>.+) in (?P<file>.+) cannot be read \(encrypted or damaged\)$",
     "Tệp {name} trong {file} không đọc được (bị mã hóa hoặc hỏng)."),
    (r"^the model was refused; fix what the report names.*$",
     "Sơ đồ bị từ chối: sửa những gì báo cáo nêu rồi tải lên lại."),
    (r"^the model was refused: (?P<rest>.*)$", "Sơ đồ bị từ chối: {rest}"),
    (r"^the model was refused$", "Sơ đồ bị từ chối: xem các lỗi được liệt kê."),
    (r"^not published: (?P<rest>.*)$", "Chưa công bố: {rest}"),
]
_PATTERNS = [(re.compile(pattern, re.S), text) for pattern, text in _VIETNAMESE]


def vietnamese(message: str) -> str:
    """An engine or lint message as the administrator reads it."""
    for pattern, text in _PATTERNS:
        match = pattern.match(message or "")
        if match:
            values = {k: (v if v is not None else "?") for k, v in match.groupdict().items()}
            return text.format(**values)
    return f"Trình kiểm tra báo: {message}"


def checked(result) -> dict:
    """A review as the page lists it: each item with its element, level and Vietnamese message."""
    items = []
    refused = result.model is None
    for p in result.problems:
        items.append({"level": "error" if refused else "warning", "element_id": p.get("element_id"),
                      "file": p.get("file"), "message": vietnamese(p.get("message", "")),
                      "detail": p.get("message", "")})
    for f in result.findings:
        items.append({"level": f.level, "element_id": f.element_id, "message": vietnamese(f.message),
                      "detail": f.message})
    return {"findings": items, "compiled": not refused, "publishable": result.publishable,
            "code": result.code, "name": result.name}


class ModellerView(Guarded, BaseView):
    """/admin/modeller/<draft_id>: the page, and the JSON it loads, checks, saves and publishes with."""

    def create_blueprint(self, admin):
        blueprint = super().create_blueprint(admin)
        blueprint.add_app_template_filter(vietnamese, "vietnamese_finding")  # the review page says them too
        return blueprint

    def _state(self, draft_id):
        try:
            return drafts.state(_actor(), draft_id)
        except NotFound:
            abort(404)

    def _max_bytes(self):
        return current_app.config["ONESTOP"].max_model_bytes

    def _files(self, files: dict) -> list:
        """{name: bytes} as the files a draft keeps (with the size limit of an upload)."""
        return procedures.unpack([procedures.Upload(n, c) for n, c in sorted(files.items())], self._max_bytes())

    def _laid_over(self, draft_id, body) -> dict:
        """The draft's stored files with the page's over them (a None removes one): what the page shows."""
        files = {f.name: f.content for f in self._state(draft_id).files}
        for name, text in _texts(body).items():
            if text is None:
                files.pop(name, None)
            else:
                files[name] = text.encode("utf-8")
        return files

    @expose("/")
    def index(self):
        """The centre's drafts (newest first) and its procedures, each to open in the modeller."""
        actor = _actor()
        listed = list(Draft.select(Draft.id, Draft.code, Draft.published_version, Draft.edited_at, Draft.created_at,
                                   Draft.edited_by).where(Draft.centre == actor.centre_id)
                      .order_by(Draft.id.desc()).limit(100))
        editors = {u.id: u.display_name or u.username for u in
                   User.select().where(User.id.in_({d.edited_by_id for d in listed if d.edited_by_id}))}
        procedures = (Procedure.select().where((Procedure.centre == actor.centre_id)
                                               & Procedure.latest_version.is_null(False))
                      .order_by(Procedure.code))
        return self.render("onestop_admin/modeller/index.html", drafts=listed, editors=editors,
                           procedures=procedures, when=_when)

    @expose("/<rowid:draft_id>")
    def page(self, draft_id):
        state = self._state(draft_id)
        # The side panel (panel.js) is its own piece: loaded when it is there.
        panel = (Path(current_app.static_folder) / "authoring" / "panel.js").is_file()
        return self.render("onestop_admin/modeller/page.html", state=state, when=_when(state.edited_at),
                           csrf=generate_csrf(), panel=panel)

    @expose("/<rowid:draft_id>/draft")
    def load(self, draft_id):
        """The draft's files (as text), its revision and who saved it last."""
        state = self._state(draft_id)
        files = {f.name: f.content.decode("utf-8", errors="replace") for f in state.files}
        return jsonify(draft_id=state.draft_id, revision=state.revision, code=state.code,
                       published_version=state.published_version, files=files,
                       csrf_token=generate_csrf(), **_who(state))

    @expose("/<rowid:draft_id>/download")
    def download(self, draft_id):
        """The saved draft as a zip of its files: to open in SpiffArena or the Camunda Modeler, or keep."""
        state = self._state(draft_id)
        name = f"{state.code + '-' if state.code else ''}ban-nhap-{state.draft_id}-luu-{state.revision}.zip"
        return send_file(io.BytesIO(drafts.pack(state.files)), mimetype="application/zip", as_attachment=True,
                         download_name=name)

    @expose("/<rowid:draft_id>/revision")
    def revision(self, draft_id):
        """The draft's revision and who saved it last: the page asks now and then, to say early that
        someone else saved."""
        state = self._state(draft_id)
        return jsonify(revision=state.revision, published_version=state.published_version, **_who(state))

    @expose("/<rowid:draft_id>/save", methods=("POST",))
    def save(self, draft_id):
        """Save the files the page changed, based on the revision it loaded; 409 when someone saved
        in between (with who and when) or the draft was published."""
        body = _json_body()
        revision = body.get("revision")
        if not isinstance(revision, int) or isinstance(revision, bool):
            abort(400)
        changes = {name: (text.encode("utf-8") if text is not None else None) for name, text in _texts(body).items()}
        self._state(draft_id)
        try:
            new_revision = drafts.save(_actor(), draft_id, changes, revision, self._max_bytes())
        except Conflict as exc:
            state = self._state(draft_id)
            if state.published_version is not None:
                message = (f"Bản nháp này đã được công bố thành phiên bản {state.published_version}; không sửa "
                           "được nữa. Những gì đang vẽ vẫn còn trên trang: lưu thành bản nháp mới để sửa tiếp.")
            else:
                message = (f"{state.edited_by or 'Một quản trị viên khác'} đã lưu bản nháp này lúc "
                           f"{_when(state.edited_at)}, sau khi anh/chị mở nó. Những gì anh/chị đang vẽ vẫn còn "
                           "trên trang: lưu thành bản nháp mới, hoặc tải lại để xem bản của họ.")
            return _refused(409, message, conflict=True, revision=state.revision,
                            published_version=state.published_version, detail=exc.message, **_who(state))
        except ServiceError as exc:
            return _refused(422, f"Chưa lưu: {vietnamese(exc.message)}", detail=exc.message)
        state = self._state(draft_id)
        return jsonify(revision=new_revision, csrf_token=generate_csrf(), **_who(state))

    @expose("/<rowid:draft_id>/copy", methods=("POST",))
    def copy(self, draft_id):
        """A new draft holding the stored files with the page's files over them: what the page shows."""
        files = self._laid_over(draft_id, _json_body())
        try:
            new_id = drafts.create(_actor(), self._files(files), f"copy of draft {draft_id} kept after a conflicting save")
        except ServiceError as exc:
            return _refused(422, f"Chưa lưu được bản mới: {vietnamese(exc.message)}", detail=exc.message)
        return jsonify(draft_id=new_id, url=url_for(".page", draft_id=new_id), csrf_token=generate_csrf())

    @expose("/<rowid:draft_id>/check", methods=("POST",))
    def check(self, draft_id):
        """The checks of publishing, run on what the page holds (stored files with the page's over them)."""
        files = self._laid_over(draft_id, _json_body())
        try:
            files = self._files(files)
        except ServiceError as exc:
            return _refused(422, f"Chưa kiểm tra được: {vietnamese(exc.message)}", detail=exc.message)
        result = onboarding.review_files(_actor(), files, self._max_bytes(), draft_id=draft_id, untried=False)
        return jsonify(csrf_token=generate_csrf(), **checked(result))

    @expose("/<rowid:draft_id>/publish", methods=("POST",))
    def publish(self, draft_id):
        """Publish the saved draft; refused with the reasons while the checks find errors."""
        _json_body()
        self._state(draft_id)
        try:
            version = onboarding.publish(_actor(), draft_id, self._max_bytes())
        except NotFound:
            abort(404)
        except ServiceError as exc:
            listed = checked(onboarding.review(_actor(), draft_id, self._max_bytes()))
            blocked = any(f["level"] == "error" for f in listed["findings"])
            message = ("Chưa công bố được: sửa các lỗi được đánh dấu trên sơ đồ rồi lưu lại." if blocked
                       else f"Chưa công bố được: {vietnamese(exc.message)}")
            return _refused(exc.status, message, detail=exc.message, **listed)
        return jsonify(code=version.procedure.code, version=version.version, csrf_token=generate_csrf(),
                       message=f"Đã công bố {version.procedure.code} phiên bản {version.version}.")

    @expose("/open/<code>", methods=("GET", "POST"))
    def open_version(self, code):
        """Open the version of a procedure in force as a new draft (asked first: it creates one)."""
        procedure = Procedure.get_or_none((Procedure.centre == _actor().centre_id) & (Procedure.code == code)
                                          & Procedure.latest_version.is_null(False))
        if procedure is None:
            abort(404)
        form = ActionForm()
        if request.method == "POST":
            if not form.validate_on_submit():
                abort(400)
            try:
                draft_id = drafts.open_version(_actor(), code)
            except NotFound:
                abort(404)
            return redirect(url_for(".page", draft_id=draft_id), 303)
        return self.render("onestop_admin/modeller/open.html", procedure=procedure, form=form)
