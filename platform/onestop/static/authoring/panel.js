/*
 * The modeller's side panel (<aside id="onestop-panel">): edits, in Vietnamese and without XML, what
 * onestop needs on the selected element of the diagram, and writes it the way the model's dialect
 * already says it, so that SpiffArena's and Camunda's modellers open the saved model unchanged:
 *
 *   lane -> role / unit        procedure.json "lanes": {"<lane name>": "officer" | "officer@UNIT"}
 *   form of a task or start    SpiffArena: spiffworkflow:properties/property formJsonSchemaFilename
 *                              (and formUiSchemaFilename); Camunda: camunda:formKey
 *   time allowance of a step   procedure.json "deadline": {"steps": {"<element id>": {"working_days": n}}}
 *   instructions (Markdown)    spiffworkflow:instructionsForEndUser, else bpmn:documentation
 *   condition of a flow        bpmn:conditionExpression (checked by the server with the engine's rules)
 *   timer                      bpmn:timeDuration / timeDate / timeCycle (a quoted Python string in
 *                              SpiffArena's dialect, the bare ISO 8601 value in Camunda's)
 *   message (events, send and  bpmn:message + messageRef; payload and variable as spiffworkflow:
 *   receive tasks)             messagePayload / messageVariable, or camunda:expression / resultVariable
 *
 * It talks to the page through window.onestopModeller (modeller.js) and to the server through
 * /admin/modeller/check/<draft id>/... Every change goes through bpmn-js's command stack (undo works)
 * or through setFile (procedure.json), so the page's save keeps it.
 */
(function () {
  "use strict";

  var aside = document.getElementById("onestop-panel");
  if (!aside) {
    return;
  }
  var ROLE_WORDS = { officer: "Công chức, viên chức xử lý", leader: "Lãnh đạo", admin: "Quản trị viên" };
  var TIMER_PROPS = { duration: "timeDuration", date: "timeDate", cycle: "timeCycle" };
  var TYPE_WORDS = {
    "bpmn:Process": "Quy trình", "bpmn:Collaboration": "Quy trình", "bpmn:Participant": "Bể (cơ quan)",
    "bpmn:Lane": "Làn (bộ phận)", "bpmn:UserTask": "Bước do người thực hiện", "bpmn:ManualTask": "Bước thủ công",
    "bpmn:Task": "Bước", "bpmn:StartEvent": "Sự kiện bắt đầu", "bpmn:EndEvent": "Sự kiện kết thúc",
    "bpmn:IntermediateCatchEvent": "Sự kiện chờ", "bpmn:IntermediateThrowEvent": "Sự kiện phát",
    "bpmn:BoundaryEvent": "Sự kiện biên", "bpmn:ExclusiveGateway": "Rẽ nhánh (chọn một)",
    "bpmn:InclusiveGateway": "Rẽ nhánh (chọn nhiều)", "bpmn:ParallelGateway": "Song song",
    "bpmn:EventBasedGateway": "Rẽ nhánh theo sự kiện", "bpmn:SequenceFlow": "Luồng",
    "bpmn:ScriptTask": "Bước tự động (kịch bản)", "bpmn:ServiceTask": "Bước dịch vụ",
    "bpmn:SendTask": "Bước gửi", "bpmn:ReceiveTask": "Bước nhận", "bpmn:SubProcess": "Quy trình con",
    "bpmn:CallActivity": "Gọi quy trình khác"
  };

  var api = null; // window.onestopModeller
  var modeler = null;
  var dialect = "spiff";
  var selected = null;
  var writing = false; // the panel's own change: the element.changed it causes does not redraw the panel
  var findings = [];
  var choices = { roles: null, units: [], forms: [] };
  var wired = null;

  function base() {
    return "/admin/modeller/check/" + api.draftId;
  }

  /* ---- the server ---- */

  var freshToken = null; // a CSRF token fetched after the page's own one expired

  function renewToken() {
    return fetch("/admin/modeller/" + api.draftId + "/draft", { credentials: "same-origin",
      headers: { "Accept": "application/json" } }).then(function (response) {
      return response.json();
    }).then(function (data) {
      freshToken = (data && data.csrf_token) || freshToken;
    }, function () { return null; });
  }

  function ask(path, body, retried) {
    var options = { credentials: "same-origin", headers: { "Accept": "application/json" } };
    if (body !== undefined) {
      options.method = "POST";
      options.headers["Content-Type"] = "application/json";
      options.headers["X-CSRFToken"] = freshToken || api.csrfToken || "";
      options.body = JSON.stringify(body);
    }
    return fetch(base() + path, options).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        data = data || {};
        if (response.status === 400 && data.code === "csrf" && !retried) {
          // The token outlived its hour while the administrator worked: a fresh one, then the same question.
          return renewToken().then(function () { return ask(path, body, true); });
        }
        if (!response.ok && !data.message) {
          data.message = "Máy chủ không trả lời được lúc này; thử lại sau ít giây.";
        }
        data.status = response.status;
        return data;
      });
    }, function () {
      return { ok: false, level: "error", code: "offline", message: "Không kết nối được máy chủ để kiểm tra." };
    });
  }

  function loadChoices() {
    return Promise.all([ask("/lanes"), ask("/forms")]).then(function (answers) {
      choices.roles = answers[0].roles || Object.keys(ROLE_WORDS).map(function (r) {
        return { value: r, label: ROLE_WORDS[r] };
      });
      choices.units = answers[0].units || [];
      choices.forms = answers[1].forms || [];
    });
  }

  /* ---- small DOM helpers (text only: nothing the model holds is read as HTML) ---- */

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") {
        node.textContent = attrs[key];
      } else if (key === "className") {
        node.className = attrs[key];
      } else if (attrs[key] !== undefined && attrs[key] !== null && attrs[key] !== false) {
        node.setAttribute(key, attrs[key] === true ? "" : attrs[key]);
      }
    });
    (children || []).forEach(function (child) {
      if (child) {
        node.appendChild(child);
      }
    });
    return node;
  }

  function field(label, control, hint) {
    var id = control.id;
    return el("div", { className: "form-group panel-field" }, [
      el("label", { "for": id, text: label }), control,
      hint ? el("small", { className: "form-text text-muted", text: hint }) : null
    ]);
  }

  function select(id, options, value) {
    var node = el("select", { id: id, className: "form-control form-control-sm" });
    options.forEach(function (option) {
      var item = el("option", { value: option.value, text: option.label });
      if (option.value === value) {
        item.selected = true;
      }
      node.appendChild(item);
    });
    return node;
  }

  function section(title, children) {
    return el("section", { className: "panel-section" }, [el("h3", { text: title })].concat(children));
  }

  function note(level, code, message, detail) {
    var box = el("div", { className: "panel-check panel-check-" + level, role: "status", "aria-live": "polite" });
    box.setAttribute("data-level", level);
    box.setAttribute("data-code", code || "");
    box.appendChild(el("span", { text: message }));
    if (detail) {
      box.appendChild(el("small", { className: "panel-detail", text: detail }));
    }
    return box;
  }

  function debounce(fn, ms) {
    var timer = null;
    return function () {
      var args = arguments;
      clearTimeout(timer);
      timer = setTimeout(function () { fn.apply(null, args); }, ms);
    };
  }

  /* ---- the model ---- */

  function is(bo, type) {
    return bo && typeof bo.$instanceOf === "function" && bo.$instanceOf(type);
  }

  function moddle() {
    return modeler.get("moddle");
  }

  function modeling() {
    return modeler.get("modeling");
  }

  function write(fn) {
    writing = true;
    try {
      fn();
    } finally {
      writing = false;
    }
  }

  function update(element, target, props) {
    write(function () {
      if (target === element.businessObject) {
        modeling().updateProperties(element, props);
      } else {
        modeling().updateModdleProperties(element, target, props);
      }
    });
  }

  function guessDialect() {
    var name = api.bpmnFile || (api.fileNames() || []).filter(function (n) { return /\.bpmn$/i.test(n); })[0];
    var text = (name && api.getFile(name)) || "";
    // The same choice as the engine's: SpiffArena's extensions win, then Camunda's; a model with
    // neither is written in SpiffArena's dialect (onestop's own).
    if (/<spiffworkflow:|\sspiffworkflow:\w+=/.test(text)) {
      return "spiff";
    }
    if (/<camunda:|\scamunda:\w+=/.test(text)) {
      return "camunda";
    }
    return "spiff";
  }

  function extensionValues(target) {
    return (target.extensionElements && target.extensionElements.get("values")) || [];
  }

  function findExtension(target, type) {
    return extensionValues(target).filter(function (v) { return is(v, type); })[0] || null;
  }

  /* Put `item` into target's extensionElements (created if missing), or take `old` out (item null). */
  function replaceExtension(element, target, old, item) {
    var ext = target.extensionElements;
    if (!ext) {
      if (!item) {
        return;
      }
      ext = moddle().create("bpmn:ExtensionElements", { values: [] });
      ext.$parent = target;
      update(element, target, { extensionElements: ext });
    }
    var values = extensionValues(target).filter(function (v) { return v !== old; });
    if (item) {
      item.$parent = ext;
      var at = old ? extensionValues(target).indexOf(old) : values.length;
      values.splice(Math.min(at, values.length), 0, item);
    }
    update(element, ext, { values: values });
    if (!values.length) {
      update(element, target, { extensionElements: undefined });
    }
  }

  function setTextExtension(element, target, type, text) {
    var old = findExtension(target, type);
    if (!text) {
      if (old) {
        replaceExtension(element, target, old, null);
      }
      return;
    }
    if (old) {
      update(element, old, { value: text });
    } else {
      replaceExtension(element, target, null, moddle().create(type, { value: text }));
    }
  }

  /* ---- procedure.json ---- */

  function readProcedure() {
    var text = api.getFile("procedure.json");
    if (text === null || text === undefined || !String(text).trim()) {
      return { data: {}, ok: true };
    }
    try {
      var data = JSON.parse(text);
      return { data: data && typeof data === "object" && !Array.isArray(data) ? data : {}, ok: !!data && typeof data === "object" };
    } catch (e) {
      return { data: {}, ok: false };
    }
  }

  function writeProcedure(change) {
    var read = readProcedure();
    if (!read.ok) {
      return false;
    }
    change(read.data);
    api.setFile("procedure.json", JSON.stringify(read.data, null, 2) + "\n");
    return true;
  }

  function procedureProblem() {
    return readProcedure().ok ? null :
      note("error", "procedure_json", "procedure.json không đọc được (không phải JSON hợp lệ): sửa tệp đó trước.");
  }

  /* ---- sections ---- */

  function nameSection(element) {
    var bo = element.businessObject;
    var input = el("input", { id: "panel-name", className: "form-control form-control-sm", type: "text" });
    input.value = bo.name || "";
    input.addEventListener("change", function () {
      var before = bo.name || "";
      var after = input.value.trim();
      update(element, bo, { name: after || undefined });
      if (is(bo, "bpmn:Lane") && before && after && before !== after) {
        writeProcedure(function (proc) { // the lane's mapping follows its new name
          if (proc.lanes && Object.prototype.hasOwnProperty.call(proc.lanes, before)) {
            proc.lanes[after] = proc.lanes[before];
            delete proc.lanes[before];
          }
          var steps = proc.deadline && proc.deadline.steps;
          if (steps && Object.prototype.hasOwnProperty.call(steps, before)) {
            steps[after] = steps[before];
            delete steps[before];
          }
        });
      }
    });
    return field("Tên", input);
  }

  function laneSection(element) {
    var name = element.businessObject.name || "";
    var proc = readProcedure();
    var mapping = ((proc.data.lanes || {})[name]) || "";
    var parts = mapping.split("@");
    var roleOptions = [{ value: "", label: "— chưa giao (mọi công chức của trung tâm) —" }].concat(
      (choices.roles || []).map(function (r) { return { value: r.value, label: r.label }; }));
    var role = select("panel-lane-role", roleOptions, parts[0] || "");
    var unitOptions = [{ value: "", label: "— mọi đơn vị —" }].concat(choices.units.map(function (u) {
      return { value: u.code, label: u.name + " (" + u.code + ")" };
    }));
    if (parts[1] && !choices.units.some(function (u) { return u.code === parts[1]; })) {
      unitOptions.push({ value: parts[1], label: parts[1] + " (không có ở trung tâm này)" });
    }
    var unit = select("panel-lane-unit", unitOptions, parts[1] || "");
    var children = [procedureProblem()];
    if (!name) {
      children.push(note("warning", "lane_unnamed", "Đặt tên cho làn trước: vai trò được gán theo tên làn."));
      role.disabled = unit.disabled = true;
    }
    function save() {
      unit.disabled = !role.value;
      writeProcedure(function (data) {
        data.lanes = data.lanes || {};
        if (role.value) {
          data.lanes[name] = role.value + (unit.value ? "@" + unit.value : "");
        } else {
          delete data.lanes[name];
        }
      });
    }
    unit.disabled = unit.disabled || !role.value;
    role.addEventListener("change", save);
    unit.addEventListener("change", save);
    children.push(field("Vai trò được giao các bước của làn", role),
      field("Đơn vị thực hiện", unit, "Chỉ công chức của đơn vị này nhận các bước; trung tâm không có đơn vị đó thì mọi người có vai trò trên nhận."));
    return section("Phân công", children);
  }

  function formName(bo) {
    if (dialect === "camunda") {
      return bo.get("camunda:formKey") || "";
    }
    var props = findExtension(bo, "spiffworkflow:Properties");
    var found = props && props.get("properties").filter(function (p) { return p.name === "formJsonSchemaFilename"; })[0];
    return found ? found.value || "" : "";
  }

  function setForm(element, name) {
    var bo = element.businessObject;
    if (dialect === "camunda") {
      update(element, bo, { "camunda:formKey": name || undefined });
      return;
    }
    var chosen = choices.forms.filter(function (f) { return f.name === name; })[0];
    var props = findExtension(bo, "spiffworkflow:Properties");
    if (!props) {
      if (!name) {
        return;
      }
      props = moddle().create("spiffworkflow:Properties", { properties: [] });
      replaceExtension(element, bo, null, props);
    }
    var keep = props.get("properties").filter(function (p) {
      return p.name !== "formJsonSchemaFilename" && p.name !== "formUiSchemaFilename";
    });
    if (name) {
      keep.push(moddle().create("spiffworkflow:Property", { name: "formJsonSchemaFilename", value: name }));
      if (chosen && chosen.ui) {
        keep.push(moddle().create("spiffworkflow:Property", { name: "formUiSchemaFilename", value: chosen.ui }));
      }
    }
    keep.forEach(function (p) { p.$parent = props; });
    if (keep.length) {
      update(element, props, { properties: keep });
    } else {
      replaceExtension(element, bo, props, null);
    }
  }

  /* The form builder's address for a form file: it names a JSON Schema form without its
     "-schema.json" ("receive-schema.json" is the form "receive") and a Camunda form by its file;
     any other file, or none, goes to the draft's list of forms (a new form's name suggested). */
  function builderHref(fileName, elementId) {
    var forms = "/admin/modeller/" + api.draftId + "/forms";
    var schema = /^([a-z0-9][a-z0-9_]*)-schema\.json$/.exec(fileName || "");
    if (schema) {
      return forms + "/" + encodeURIComponent(schema[1]);
    }
    if (/^[a-z0-9][a-z0-9_]*\.form$/.test(fileName || "")) {
      return forms + "/" + encodeURIComponent(fileName);
    }
    if (fileName) {
      return forms;
    }
    var suggested = elementId.toLowerCase().replace(/[^a-z0-9_]+/g, "_").replace(/^[^a-z0-9]+/, "").slice(0, 60);
    return forms + "?name=" + encodeURIComponent(suggested || "bieu_mau");
  }

  function formSection(element) {
    var bo = element.businessObject;
    var current = formName(bo);
    var options = [{ value: "", label: "— không có biểu mẫu —" }].concat(choices.forms.map(function (f) {
      return { value: f.name, label: f.name };
    }));
    if (current && !choices.forms.some(function (f) { return f.name === current; })) {
      options.push({ value: current, label: current + " (không có trong bản nháp)" });
    }
    var chooser = select("panel-form", options, current);
    var children = [];
    if (dialect === "camunda" && findExtension(bo, "camunda:FormData")) {
      chooser.disabled = true;
      children.push(note("warning", "form_data", "Biểu mẫu của bước này khai báo ngay trong sơ đồ (camunda:formData, từ Camunda Modeler); sửa trong Camunda Modeler hoặc xoá nó để chọn một tệp biểu mẫu."));
    }
    var links = el("p", { className: "panel-links" });
    function drawLinks() {
      links.textContent = "";
      links.appendChild(el("a", {
        href: builderHref(chooser.value, element.id),
        text: chooser.value ? "Sửa biểu mẫu này" : "Tạo biểu mẫu mới cho bước này"
      }));
    }
    chooser.addEventListener("change", function () {
      setForm(element, chooser.value);
      drawLinks();
    });
    drawLinks();
    children.unshift(field(is(bo, "bpmn:StartEvent") ? "Biểu mẫu người dân điền khi nộp" : "Biểu mẫu công chức điền", chooser));
    children.push(links);
    return section("Biểu mẫu", children);
  }

  function allowanceSection(element) {
    var id = element.id;
    var proc = readProcedure();
    var deadline = proc.data.deadline && typeof proc.data.deadline === "object" ? proc.data.deadline : null;
    var step = deadline && deadline.steps && deadline.steps[id];
    var unitNow = step && step.working_hours !== undefined ? "working_hours" : "working_days";
    var amount = el("input", { id: "panel-allowance", className: "form-control form-control-sm", type: "number",
      min: "0", step: "0.5", inputmode: "decimal" });
    amount.value = step ? String(step[unitNow]) : "";
    var unit = select("panel-allowance-unit", [{ value: "working_days", label: "ngày làm việc" },
      { value: "working_hours", label: "giờ làm việc" }], unitNow);
    var outside = el("input", { id: "panel-not-counted", type: "checkbox", className: "form-check-input" });
    outside.checked = !!(deadline && Array.isArray(deadline.not_counted) && deadline.not_counted.indexOf(id) >= 0);
    var message = el("div", { className: "panel-allowance-check" });
    var children = [procedureProblem()];
    if (!deadline || (deadline.working_days === undefined && deadline.working_hours === undefined)) {
      children.push(note("warning", "no_total", "Thủ tục chưa có thời hạn giải quyết: chọn vùng trống của sơ đồ để đặt trước, rồi mới chia thời gian cho từng bước."));
      amount.disabled = unit.disabled = outside.disabled = true;
    }
    function save() {
      var value = amount.value.trim() === "" ? null : Number(amount.value);
      message.textContent = "";
      if (value !== null && (!isFinite(value) || value < 0)) {
        message.appendChild(note("error", "allowance", "Thời gian là một số không âm (ví dụ 2 hoặc 0,5)."));
        return;
      }
      writeProcedure(function (data) {
        data.deadline = data.deadline || {};
        var steps = data.deadline.steps || {};
        if (value === null) {
          delete steps[id];
        } else {
          steps[id] = {};
          steps[id][unit.value] = value;
        }
        if (Object.keys(steps).length) {
          data.deadline.steps = steps;
        } else {
          delete data.deadline.steps;
        }
        var off = (data.deadline.not_counted || []).filter(function (x) { return x !== id; });
        if (outside.checked) {
          off.push(id);
        }
        if (off.length) {
          data.deadline.not_counted = off;
        } else {
          delete data.deadline.not_counted;
        }
      });
      message.appendChild(note("ok", "saved_in_draft", value === null ? "Bước này dùng thời hạn của cả hồ sơ." :
        "Hạn của bước: " + value + " " + (unit.value === "working_hours" ? "giờ" : "ngày") + " làm việc kể từ khi giao."));
    }
    amount.addEventListener("change", save);
    unit.addEventListener("change", save);
    outside.addEventListener("change", save);
    children.push(el("div", { className: "panel-row" }, [field("Thời gian được giao", amount), field("Đơn vị", unit)]),
      el("div", { className: "form-check" }, [outside, el("label", { "for": "panel-not-counted", className: "form-check-label",
        text: "Không tính vào thời hạn giải quyết (trả kết quả, thời gian của cơ quan khác)" })]), message);
    return section("Thời hạn của bước", children);
  }

  function instructionsTarget(bo) {
    var spiff = findExtension(bo, "spiffworkflow:InstructionsForEndUser");
    if (spiff) {
      return { kind: "spiff", text: spiff.value || "" };
    }
    var doc = (bo.get("documentation") || [])[0];
    if (doc || dialect !== "spiff") {
      return { kind: "documentation", text: doc ? doc.text || "" : "" };
    }
    return { kind: "spiff", text: "" };
  }

  function instructionsSection(element) {
    var bo = element.businessObject;
    var target = instructionsTarget(bo);
    var area = el("textarea", { id: "panel-instructions", className: "form-control form-control-sm", rows: "6" });
    area.value = target.text;
    area.addEventListener("change", function () {
      var text = area.value.replace(/\s+$/, "");
      if (target.kind === "spiff") {
        setTextExtension(element, bo, "spiffworkflow:InstructionsForEndUser", text);
        return;
      }
      var docs = (bo.get("documentation") || []).slice();
      if (!text) {
        docs.shift();
      } else if (docs[0]) {
        update(element, docs[0], { text: text });
        return;
      } else {
        var doc = moddle().create("bpmn:Documentation", { text: text });
        doc.$parent = bo;
        docs.unshift(doc);
      }
      update(element, bo, { documentation: docs });
    });
    var preview = el("div", { id: "panel-instructions-preview", className: "panel-preview", "aria-live": "polite" });
    var count = 0;
    var show = debounce(function () {
      var mine = ++count;
      if (!area.value.trim()) {
        preview.textContent = "";
        return;
      }
      ask("/markdown", { text: area.value }).then(function (answer) {
        if (mine === count && typeof answer.html === "string") {
          preview.innerHTML = answer.html; // rendered and sanitised by the server, as on the task page
        }
      });
    }, 300);
    area.addEventListener("input", show);
    show();
    return section("Hướng dẫn cho công chức", [field("Nội dung (Markdown)", area,
      "Hiện trên trang của bước. **chữ đậm**, dòng bắt đầu bằng - là danh sách, [tên](địa chỉ) là liên kết."),
      el("p", { className: "panel-preview-title", text: "Công chức sẽ thấy:" }), preview]);
  }

  /* A check answered by the server, shown under the field; older answers than the last asked are dropped. */
  function checker(box, path, body) {
    var count = 0;
    return debounce(function (value) {
      var mine = ++count;
      ask(path, body(value)).then(function (answer) {
        if (mine !== count) {
          return;
        }
        box.textContent = "";
        box.appendChild(note(answer.level || (answer.ok ? "ok" : "error"), answer.code, answer.message || "",
          answer.level === "error" ? answer.detail : ""));
      });
    }, 250);
  }

  function conditionField(flowElement, label) {
    var bo = flowElement.businessObject;
    var area = el("textarea", { id: "panel-condition-" + bo.id, className: "form-control form-control-sm panel-condition",
      rows: "2", spellcheck: "false" });
    area.setAttribute("data-flow", bo.id);
    area.value = bo.conditionExpression ? bo.conditionExpression.body || "" : "";
    var box = el("div", { className: "panel-condition-check" });
    var check = checker(box, "/expression", function (value) { return { expression: value }; });
    var gateway = bo.sourceRef;
    var isDefault = gateway && gateway.default === bo;
    area.addEventListener("input", function () {
      var text = area.value.trim();
      update(flowElement, bo, {
        conditionExpression: text ? moddle().create("bpmn:FormalExpression", { body: text }) : undefined
      });
      if (text) {
        check(area.value);
      } else {
        box.textContent = "";
      }
    });
    if (area.value.trim()) {
      check(area.value);
    }
    var children = [field(label, area, isDefault ? "Luồng mặc định: đi theo luồng này khi không điều kiện nào đúng." :
      "Biểu thức Python trên dữ liệu của hồ sơ, ví dụ: ho_so_day_du == True")];
    if (gateway && (is(gateway, "bpmn:ExclusiveGateway") || is(gateway, "bpmn:InclusiveGateway"))) {
      var mark = el("input", { type: "checkbox", id: "panel-default-" + bo.id, className: "form-check-input" });
      mark.checked = isDefault;
      mark.addEventListener("change", function () {
        var gatewayElement = modeler.get("elementRegistry").get(gateway.id);
        update(gatewayElement, gateway, { "default": mark.checked ? bo : undefined });
      });
      children.push(el("div", { className: "form-check" }, [mark, el("label", { "for": mark.id, className: "form-check-label",
        text: "Luồng mặc định" })]));
    }
    children.push(box);
    return el("div", { className: "panel-flow" }, children);
  }

  function flowLabel(flowBo) {
    var target = flowBo.targetRef;
    return (flowBo.name ? flowBo.name + " → " : "→ ") + ((target && (target.name || target.id)) || "");
  }

  function gatewaySection(element) {
    var registry = modeler.get("elementRegistry");
    var flows = (element.businessObject.outgoing || []).map(function (f) { return registry.get(f.id); })
      .filter(Boolean);
    if (flows.length < 2) {
      return section("Điều kiện rẽ nhánh", [note("warning", "one_way", "Cổng này chỉ có một lối ra: không cần điều kiện.")]);
    }
    return section("Điều kiện rẽ nhánh", flows.map(function (flow) {
      return conditionField(flow, "Điều kiện đi " + flowLabel(flow.businessObject));
    }));
  }

  function timerSection(element, definition) {
    var kind = "duration";
    Object.keys(TIMER_PROPS).forEach(function (k) {
      if (definition.get(TIMER_PROPS[k])) {
        kind = k;
      }
    });
    var expression = definition.get(TIMER_PROPS[kind]);
    var body = expression ? String(expression.body || "").trim() : "";
    var quoted = /^(["'])(.*)\1$/.exec(body);
    var computed = body && !quoted && !/^(P|R|\d{4}-)/i.test(body);
    var chooser = select("panel-timer-kind", [{ value: "duration", label: "Sau một khoảng thời gian" },
      { value: "date", label: "Vào một thời điểm" }, { value: "cycle", label: "Lặp lại" }], kind);
    var input = el("input", { id: "panel-timer-value", className: "form-control form-control-sm", type: "text",
      spellcheck: "false" });
    input.value = quoted ? quoted[2] : body;
    var box = el("div", { className: "panel-timer-check" });
    var check = checker(box, "/timer", function (value) { return { kind: chooser.value, value: value }; });
    var children = [field("Loại hẹn giờ", chooser), field("Giá trị (ISO 8601)", input,
      "Ví dụ: P3D = 3 ngày, PT4H = 4 giờ, R3/PT10M = 3 lần, mỗi 10 phút, 2026-12-01T08:00:00+07:00 = một thời điểm."), box];
    if (computed) {
      input.disabled = chooser.disabled = true;
      children.splice(2, 0, note("warning", "computed", "Giá trị được tính từ dữ liệu hồ sơ (" + body + "); sửa trong công cụ vẽ gốc."));
    }
    function save() {
      var value = input.value.trim();
      var props = { timeDuration: undefined, timeDate: undefined, timeCycle: undefined };
      if (value) {
        // SpiffArena evaluates a timer as Python: its value is a quoted string there.
        props[TIMER_PROPS[chooser.value]] = moddle().create("bpmn:FormalExpression",
          { body: dialect === "camunda" ? value : JSON.stringify(value) });
      }
      update(element, definition, props);
      if (value) {
        check(value);
      } else {
        box.textContent = "";
        box.appendChild(note("error", "empty", "Hẹn giờ cần một giá trị."));
      }
    }
    input.addEventListener("input", save);
    chooser.addEventListener("change", save);
    if (input.value && !computed) {
      check(input.value);
    }
    return section("Hẹn giờ", children);
  }

  function messageSection(element, definition) {
    var definitions = modeler.getDefinitions();
    var messages = (definitions.get("rootElements") || []).filter(function (r) { return is(r, "bpmn:Message"); });
    var current = definition.messageRef;
    var options = [{ value: "", label: "— chọn thông điệp —" }].concat(messages.map(function (m) {
      return { value: m.id, label: m.name || m.id };
    }), [{ value: "__new__", label: "+ thông điệp mới…" }]);
    var chooser = select("panel-message", options, current ? current.id : "");
    var fresh = el("input", { id: "panel-message-new", className: "form-control form-control-sm", type: "text",
      placeholder: "Tên thông điệp mới" });
    fresh.hidden = true;
    chooser.addEventListener("change", function () {
      fresh.hidden = chooser.value !== "__new__";
      if (chooser.value === "__new__") {
        fresh.focus();
        return;
      }
      var found = messages.filter(function (m) { return m.id === chooser.value; })[0];
      update(element, definition, { messageRef: found || undefined });
    });
    fresh.addEventListener("change", function () {
      var name = fresh.value.trim();
      if (!name) {
        return;
      }
      fresh.value = ""; // removing the field below blurs it: that "change" must not make a second message
      var message = moddle().create("bpmn:Message", { id: "Message_" + Math.random().toString(36).slice(2, 9), name: name });
      message.$parent = definitions;
      update(element, definitions, { rootElements: (definitions.get("rootElements") || []).concat([message]) });
      update(element, definition, { messageRef: message });
      render(); // the new message is now one of the choices
    });
    var bo = element.businessObject;
    var throwing = is(bo, "bpmn:IntermediateThrowEvent") || is(bo, "bpmn:EndEvent") || is(bo, "bpmn:SendTask");
    var children = [field("Thông điệp", chooser), fresh];
    if (throwing) {
      var payload = el("textarea", { id: "panel-message-payload", className: "form-control form-control-sm", rows: "2",
        spellcheck: "false" });
      payload.value = dialect === "camunda" ? definition.get("camunda:expression") || "" :
        ((findExtension(definition, "spiffworkflow:MessagePayload") || {}).value || "");
      var box = el("div", { className: "panel-payload-check" });
      var check = checker(box, "/expression", function (value) { return { expression: value }; });
      payload.addEventListener("input", function () {
        var text = payload.value.trim();
        if (dialect === "camunda") {
          update(element, definition, { "camunda:expression": text || undefined });
        } else {
          setTextExtension(element, definition, "spiffworkflow:MessagePayload", text);
        }
        if (text) {
          check(text);
        } else {
          box.textContent = "";
        }
      });
      children.push(field("Nội dung gửi đi (biểu thức)", payload, "Ví dụ: {\"ma_ho_so\": ma_ho_so}"), box);
    } else {
      var variable = el("input", { id: "panel-message-variable", className: "form-control form-control-sm", type: "text",
        spellcheck: "false" });
      variable.value = dialect === "camunda" ? definition.get("camunda:resultVariable") || "" :
        ((findExtension(definition, "spiffworkflow:MessageVariable") || {}).value || "");
      variable.addEventListener("change", function () {
        var text = variable.value.trim();
        if (text && !/^[A-Za-z][A-Za-z0-9_]*$/.test(text)) {
          variable.setCustomValidity("Tên biến gồm chữ không dấu, số và _, bắt đầu bằng chữ.");
          variable.reportValidity();
          return;
        }
        variable.setCustomValidity("");
        if (dialect === "camunda") {
          update(element, definition, { "camunda:resultVariable": text || undefined });
        } else {
          setTextExtension(element, definition, "spiffworkflow:MessageVariable", text);
        }
      });
      children.push(field("Lưu nội dung nhận được vào biến", variable));
    }
    return section("Thông điệp", children);
  }

  function deadlineSection() {
    var proc = readProcedure();
    var deadline = proc.data.deadline && typeof proc.data.deadline === "object" ? proc.data.deadline : {};
    var unitNow = deadline.working_hours !== undefined ? "working_hours" : "working_days";
    var amount = el("input", { id: "panel-deadline", className: "form-control form-control-sm", type: "number",
      min: "0", step: "0.5" });
    amount.value = deadline[unitNow] !== undefined ? String(deadline[unitNow]) : "";
    var unit = select("panel-deadline-unit", [{ value: "working_days", label: "ngày làm việc" },
      { value: "working_hours", label: "giờ làm việc" }], unitNow);
    var policy = select("panel-on-supplement", [{ value: "pause", label: "Tạm dừng, cộng thời gian chờ" },
      { value: "restart", label: "Tính lại từ đầu khi bổ sung xong" }], deadline.on_supplement || "pause");
    function save() {
      var value = amount.value.trim() === "" ? null : Number(amount.value);
      if (value !== null && (!isFinite(value) || value < 0)) {
        return;
      }
      writeProcedure(function (data) {
        var d = data.deadline || {};
        delete d.working_days;
        delete d.working_hours;
        if (value !== null) {
          d[unit.value] = value;
          d.on_supplement = policy.value;
          data.deadline = d;
        } else if (!d.steps && !d.not_counted) {
          delete data.deadline;
        }
      });
    }
    [amount, unit, policy].forEach(function (n) { n.addEventListener("change", save); });
    return section("Thời hạn giải quyết của thủ tục", [procedureProblem(),
      el("div", { className: "panel-row" }, [field("Thời hạn", amount, "0 ngày: giải quyết trong ngày."), field("Đơn vị", unit)]),
      field("Khi yêu cầu bổ sung hồ sơ", policy)]);
  }

  /* What the catalogue shows of the procedure (procedure.json): field, agency, fee, result, legal basis,
     papers. A template writes "Điều chỉnh: ..." in each; the check lists those left until replaced. */
  function descriptionSection() {
    var data = readProcedure().data;
    function text(id, key) {
      var input = el("input", { id: id, className: "form-control form-control-sm", type: "text" });
      input.value = typeof data[key] === "string" || typeof data[key] === "number" ? String(data[key]) : "";
      input.addEventListener("change", function () {
        var value = input.value.trim();
        writeProcedure(function (proc) {
          if (key === "fee_vnd" && /^[0-9]+$/.test(value)) {
            proc[key] = Number(value); // an amount in đồng; a text such as "Miễn phí" stays a text
          } else if (value) {
            proc[key] = value;
          } else {
            delete proc[key];
          }
        });
      });
      return input;
    }
    function lines(id, key, keep) {
      var area = el("textarea", { id: id, className: "form-control form-control-sm", rows: "4" });
      var now = Array.isArray(data[key]) ? data[key] : [];
      area.value = now.map(function (item) {
        return item && typeof item === "object" ? String(item.name || "") : String(item);
      }).join("\n");
      area.addEventListener("change", function () {
        var typed = area.value.split("\n").map(function (line) { return line.trim(); }).filter(Boolean);
        writeProcedure(function (proc) {
          var before = Array.isArray(proc[key]) ? proc[key] : [];
          proc[key] = typed.map(function (line) { return keep(before, line); });
        });
      });
      return area;
    }
    function asText(before, line) { return line; }
    function paper(before, line) { // a paper keeps its counts and note while its name stays the same
      var same = before.filter(function (item) {
        return item && typeof item === "object" ? item.name === line : item === line;
      })[0];
      return same !== undefined ? same : { name: line };
    }
    return section("Thông tin thủ tục", [
      field("Lĩnh vực", text("panel-proc-field", "field")),
      field("Cơ quan giải quyết", text("panel-proc-agency", "agency")),
      field("Phí, lệ phí (đồng)", text("panel-proc-fee", "fee_vnd"), "Số tiền, hoặc «Miễn phí»; 0 nếu không thu."),
      field("Kết quả giải quyết", text("panel-proc-result", "result")),
      field("Căn cứ pháp lý", lines("panel-proc-legal", "legal_basis", asText), "Mỗi dòng một văn bản."),
      field("Giấy tờ phải nộp", lines("panel-proc-documents", "documents", paper), "Mỗi dòng một giấy tờ.")
    ]);
  }

  function findingsSection(id) {
    var mine = findings.filter(function (f) { return f.element_id === id; });
    if (!mine.length) {
      return null;
    }
    return section("Kiểm tra", mine.map(function (f) {
      return note(f.level === "error" ? "error" : "warning", "lint", f.message || "");
    }));
  }

  /* ---- drawing the panel ---- */

  function render() {
    if (!api) {
      return;
    }
    aside.textContent = "";
    var element = selected;
    var root = modeler.get("canvas").getRootElement();
    if (!element || element === root || is(element.businessObject, "bpmn:Participant")) {
      aside.appendChild(el("h2", { text: "Thủ tục" }));
      if (element && element !== root) {
        aside.appendChild(nameSection(element));
      }
      aside.appendChild(deadlineSection());
      aside.appendChild(descriptionSection());
      aside.appendChild(el("p", { className: "panel-hint", text: "Chọn một phần tử trên sơ đồ để sửa những gì onestop cần ở nó." }));
      return;
    }
    var bo = element.businessObject;
    aside.appendChild(el("h2", { text: TYPE_WORDS[bo.$type] || bo.$type.replace("bpmn:", "") }));
    aside.appendChild(el("p", { className: "panel-id", text: "Mã: " + bo.id }));
    if (element.type !== "label") {
      aside.appendChild(nameSection(element));
    }
    var problems = findingsSection(bo.id);
    if (problems) {
      aside.appendChild(problems);
    }
    if (is(bo, "bpmn:Lane")) {
      aside.appendChild(laneSection(element));
    }
    if (is(bo, "bpmn:UserTask") || is(bo, "bpmn:StartEvent") && !(bo.eventDefinitions || []).length) {
      aside.appendChild(formSection(element));
    }
    if (is(bo, "bpmn:UserTask") || is(bo, "bpmn:ManualTask") || bo.$type === "bpmn:Task") {
      aside.appendChild(allowanceSection(element));
    }
    if (is(bo, "bpmn:UserTask") || is(bo, "bpmn:ManualTask") || bo.$type === "bpmn:Task") {
      aside.appendChild(instructionsSection(element));
    }
    if (is(bo, "bpmn:ExclusiveGateway") || is(bo, "bpmn:InclusiveGateway")) {
      aside.appendChild(gatewaySection(element));
    }
    if (is(bo, "bpmn:SequenceFlow") && bo.sourceRef &&
        (is(bo.sourceRef, "bpmn:ExclusiveGateway") || is(bo.sourceRef, "bpmn:InclusiveGateway"))) {
      aside.appendChild(section("Điều kiện", [conditionField(element, "Điều kiện đi " + flowLabel(bo))]));
    }
    if (is(bo, "bpmn:SendTask") || is(bo, "bpmn:ReceiveTask")) {
      aside.appendChild(messageSection(element, bo)); // a task holds its message itself
    }
    (bo.eventDefinitions || []).forEach(function (definition) {
      if (is(definition, "bpmn:TimerEventDefinition")) {
        aside.appendChild(timerSection(element, definition));
      } else if (is(definition, "bpmn:MessageEventDefinition")) {
        aside.appendChild(messageSection(element, definition));
      }
    });
  }

  /* ---- what bpmn-js itself would lose on the way through ---- */

  /* A reference to an id the file does not define (SpiffWorkflow reads bpmn:loopDataInputRef as the
     name of a variable, not a data object's id) is dropped by bpmn-js on import and gone on save: it is
     put back as a stand-in that saves as the same id. */
  function keepUnresolvedReferences(instance, event) {
    (event.warnings || []).forEach(function (warning) {
      var owner = warning.element;
      if (!owner || !warning.property || !warning.value || !/^unresolved reference/.test(warning.message || "")) {
        return;
      }
      var described = owner.$descriptor && owner.$descriptor.propertiesByName[warning.property];
      if (!described || !described.isReference) {
        return;
      }
      var standIn;
      try {
        standIn = instance.get("moddle").create(described.type, { id: warning.value });
      } catch (e) {
        standIn = { id: warning.value };
      }
      if (described.isMany) {
        owner.get(warning.property).push(standIn);
      } else {
        owner.set(warning.property, standIn);
      }
    });
  }

  /* bpmn-js writes a correlation's bpmn:messagePath as <bpmn:formalExpression>, which SpiffWorkflow does
     not read: written under its own name, as SpiffArena's and Camunda's files have it. */
  function keepMessagePath(moddleInstance) {
    try {
      var probe = moddleInstance.create("bpmn:CorrelationPropertyRetrievalExpression");
      var path = moddleInstance.getElementDescriptor(probe).propertiesByName["messagePath"];
      if (path) {
        path.xml = { serialize: "property" };
      }
    } catch (e) {
      // an older or newer bpmn-js without that type: nothing to mend
    }
  }

  function wire(instance) {
    if (!instance || wired === instance) {
      return;
    }
    wired = instance;
    keepMessagePath(instance.get("moddle"));
    var bus = instance.get("eventBus");
    bus.on("import.done", function (event) { keepUnresolvedReferences(instance, event); });
    bus.on("selection.changed", function (event) {
      if (modeler !== instance) {
        return;
      }
      var list = event.newSelection || [];
      selected = list.length === 1 ? list[0] : null;
      render();
    });
    bus.on("element.changed", function (event) {
      if (modeler === instance && !writing && selected && event.element === selected) {
        var focused = document.activeElement;
        if (!focused || !aside.contains(focused)) { // never redraw under the administrator's typing
          render();
        }
      }
    });
  }

  function start() {
    api = window.onestopModeller;
    if (!api || !api.modeler || !api.modeler.getDefinitions()) {
      return;
    }
    modeler = api.modeler;
    wire(modeler);
    dialect = guessDialect();
    aside.setAttribute("data-dialect", dialect);
    selected = null;
    loadChoices().then(function () {
      aside.setAttribute("data-ready", "true");
      render();
    });
  }

  var link = document.createElement("link");
  link.rel = "stylesheet";
  link.href = "/static/authoring/panel.css";
  document.head.appendChild(link);

  document.addEventListener("onestop:modeller-ready", start);
  document.addEventListener("onestop:lint", function (event) {
    findings = (event.detail && event.detail.findings) || [];
    var focused = document.activeElement;
    if (api && (!focused || !aside.contains(focused))) {
      render();
    }
  });
  if (window.onestopModeller && window.onestopModeller.modeler) {
    wire(window.onestopModeller.modeler); // before the page imports its diagram: import.done is heard
  }
  start(); // the diagram may already be on the page
}());
