/*
 * The modeller page (/admin/modeller/<draft id>): bpmn-js's Modeler on a draft of the back office.
 *
 * Loads the draft's files and revision, shows its BPMN, checks what is drawn after each change (the
 * same checks as publishing, run by the server on the unsaved files) and marks what they find on the
 * canvas, saves with the revision it loaded, and publishes the saved draft. A save refused because
 * someone else saved in between says who, and offers to keep what is on the page as a new draft.
 *
 * For the side panel (panel.js, loaded after this file) it sets window.onestopModeller and dispatches
 * "onestop:modeller-ready" on document once a diagram is imported, and "onestop:lint" after each check.
 */
(function () {
  "use strict";

  var root = document.getElementById("modeller");
  if (!root || typeof window.BpmnJS !== "function") {
    return;
  }
  var base = root.getAttribute("data-base");
  var draftId = Number(root.getAttribute("data-draft-id"));
  var csrfToken = root.getAttribute("data-csrf-token");
  var revision = Number(root.getAttribute("data-revision"));

  var saved = {}; // file name -> text, as last loaded or saved
  var changed = {}; // file name -> text (or null: removed), changed through setFile since the last save
  var bpmnName = null; // the BPMN file on the canvas
  var bpmnDirty = false; // the canvas changed since it was imported or saved
  var canvasUsable = false; // the canvas shows its file: a file it could not show is never saved from it
  var importing = false;
  var changeCount = 0; // every change; a save clears the dirty state only if nothing changed meanwhile
  var lintCount = 0; // the newest check asked for; older answers are dropped
  var lintTimer = null;
  var lintMarked = []; // [element id, marker class] put on the canvas by the last check
  var lastFindings = [];
  var busy = false;
  var published = Boolean(root.getAttribute("data-published")); // a published draft is frozen: not published again

  var $ = function (id) { return document.getElementById(id); };

  var modeler = new window.BpmnJS({
    container: "#canvas",
    moddleExtensions: window.onestopModdleExtensions || {}
  });

  function say(text, tone) {
    var status = $("status");
    status.textContent = text || "";
    status.className = tone ? "modeller-status modeller-status-" + tone : "modeller-status";
  }

  function isDirty() {
    return (bpmnDirty && canvasUsable) || Object.keys(changed).length > 0;
  }

  function showDirty() {
    $("dirty").hidden = !isDirty();
  }

  function markChanged() {
    changeCount += 1;
    showDirty();
    if (!busy) {
      setBusy(false);
    }
    scheduleLint();
  }

  function request(path, body, retried) {
    return fetch(base + path, {
      method: body === undefined ? "GET" : "POST",
      credentials: "same-origin",
      headers: body === undefined ? { "Accept": "application/json" } :
        { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrfToken },
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (data && data.csrf_token) {
          csrfToken = data.csrf_token;
        }
        if (response.status === 400 && data && data.error === "csrf" && !retried) {
          // The token outlived its hour: a GET hands out a fresh one, then the request is sent again.
          return request("/draft").then(function () { return request(path, body, true); });
        }
        return { ok: response.ok, status: response.status, data: data || {} };
      });
    }, function () {
      return { ok: false, status: 0, data: { message: "Không kết nối được máy chủ: kiểm tra mạng rồi thử lại " +
        "(những gì đang vẽ vẫn còn trên trang)." } };
    });
  }

  /* The files the page holds that the server does not: those set through setFile, and the canvas. */
  function pending() {
    var out = {};
    Object.keys(changed).forEach(function (name) { out[name] = changed[name]; });
    if (!bpmnDirty || !bpmnName || !canvasUsable) {
      return Promise.resolve(out);
    }
    return modeler.saveXML({ format: true }).then(function (result) {
      out[bpmnName] = result.xml;
      return out;
    });
  }

  function getFile(name) {
    if (Object.prototype.hasOwnProperty.call(changed, name)) {
      return changed[name];
    }
    return Object.prototype.hasOwnProperty.call(saved, name) ? saved[name] : null;
  }

  function fileNames() {
    var names = {};
    Object.keys(saved).forEach(function (n) { names[n] = true; });
    Object.keys(changed).forEach(function (n) { names[n] = changed[n] !== null; });
    return Object.keys(names).filter(function (n) { return names[n]; }).sort();
  }

  function setFile(name, text) {
    if (typeof name !== "string" || !name) {
      throw new Error("setFile needs a file name");
    }
    changed[name] = text === null || text === undefined ? null : String(text);
    if (name === bpmnName && text !== null && text !== undefined) {
      // The canvas file replaced from outside: show it (its import is itself a change to save).
      importDiagram(name, changed[name]).then(function () { bpmnDirty = true; markChanged(); });
      delete changed[name];
      return;
    }
    markChanged();
  }

  /* ---- the live check ---- */

  function scheduleLint() {
    if (lintTimer) {
      clearTimeout(lintTimer);
    }
    lintTimer = setTimeout(lint, 600);
  }

  function clearMarks() {
    var canvas = modeler.get("canvas");
    var registry = modeler.get("elementRegistry");
    lintMarked.forEach(function (pair) {
      if (registry.get(pair[0])) {
        canvas.removeMarker(pair[0], pair[1]);
      }
    });
    lintMarked = [];
    modeler.get("overlays").remove({ type: "onestop-lint" });
  }

  function focusElement(id) {
    var element = modeler.get("elementRegistry").get(id);
    if (!element) {
      return;
    }
    modeler.get("selection").select(element);
    var canvas = modeler.get("canvas");
    if (typeof canvas.scrollToElement === "function" && !element.waypoints) {
      canvas.scrollToElement(element, { top: 120, bottom: 120, left: 120, right: 120 });
    }
    if (typeof canvas.focus === "function") {
      canvas.focus(); // the keyboard (delete, undo) acts on the canvas that has the focus
    }
  }

  function showFindings(findings) {
    var canvas = modeler.get("canvas");
    var registry = modeler.get("elementRegistry");
    var overlays = modeler.get("overlays");
    clearMarks();
    var list = $("lint");
    list.textContent = "";
    var errors = 0;
    var onCanvas = {};
    findings.forEach(function (finding) {
      if (finding.level === "error") {
        errors += 1;
      }
      var item = document.createElement("li");
      item.className = "finding-" + finding.level;
      var level = document.createElement("strong");
      level.textContent = finding.level === "error" ? "Lỗi" : "Lưu ý";
      item.appendChild(level);
      var element = finding.element_id ? registry.get(finding.element_id) : null;
      if (element && element === canvas.getRootElement()) {
        element = null; // the process itself: listed, not drawn round the whole canvas
      }
      if (element) {
        var go = document.createElement("button");
        go.type = "button";
        go.className = "btn btn-link btn-sm lint-element";
        go.textContent = (element.businessObject && element.businessObject.name) || finding.element_id;
        go.setAttribute("data-element-id", finding.element_id);
        go.addEventListener("click", function () { focusElement(finding.element_id); });
        item.appendChild(document.createTextNode(" "));
        item.appendChild(go);
      } else if (finding.element_id) {
        var code = document.createElement("code");
        code.textContent = finding.element_id;
        item.appendChild(document.createTextNode(" "));
        item.appendChild(code);
      } else if (finding.file) {
        var file = document.createElement("code");
        file.textContent = finding.file;
        item.appendChild(document.createTextNode(" "));
        item.appendChild(file);
      }
      item.appendChild(document.createTextNode(": " + finding.message));
      if (finding.detail && finding.detail !== finding.message) {
        item.title = finding.detail;
      }
      list.appendChild(item);
      if (element) {
        var marker = "onestop-lint-" + (finding.level === "error" ? "error" : "warning");
        canvas.addMarker(finding.element_id, marker);
        lintMarked.push([finding.element_id, marker]);
        var badge = onCanvas[finding.element_id];
        if (!badge) {
          badge = onCanvas[finding.element_id] = document.createElement("div");
          badge.className = "onestop-lint-note " + marker;
          badge.setAttribute("data-element-id", finding.element_id);
          overlays.add(finding.element_id, "onestop-lint", {
            position: element.waypoints ? { top: -24, left: 0 } : { bottom: -6, left: 0 },
            html: badge
          });
        }
        var line = document.createElement("div");
        line.textContent = finding.message;
        badge.appendChild(line);
      }
    });
    $("lint-summary").textContent = findings.length ? "(" + errors + " lỗi, " + (findings.length - errors) + " lưu ý)" :
      "(không có vấn đề)";
    if (!findings.length) {
      var none = document.createElement("li");
      none.className = "text-success";
      none.textContent = "Không có vấn đề: có thể công bố sau khi lưu.";
      list.appendChild(none);
    }
  }

  function lint() {
    lintTimer = null;
    var mine = ++lintCount;
    return pending().then(function (files) {
      return request("/check", { files: files });
    }).then(function (answer) {
      if (mine !== lintCount) {
        return lastFindings; // a newer check is on its way
      }
      if (!answer.ok) {
        say(answer.data.message || "Không kiểm tra được sơ đồ lúc này.", "error");
        return lastFindings;
      }
      lastFindings = answer.data.findings || [];
      showFindings(lastFindings);
      document.dispatchEvent(new CustomEvent("onestop:lint", { detail: { findings: lastFindings } }));
      return lastFindings;
    });
  }

  /* ---- load, save, keep as new, publish ---- */

  function showEdited(data) {
    $("edited-by").textContent = data.edited_by || "—";
    $("edited-at").textContent = data.edited_at || "—";
    $("revision").textContent = String(revision);
  }

  function importDiagram(name, xml) {
    importing = true;
    return modeler.importXML(xml).then(function (result) {
      bpmnName = name;
      canvasUsable = true;
      modeler.get("canvas").zoom("fit-viewport", "auto");
      if (result && result.warnings && result.warnings.length) {
        say("Sơ đồ có " + result.warnings.length + " chỗ trình vẽ không hiểu hết; kiểm tra kỹ trước khi lưu.", "warning");
      }
      return true;
    }, function (error) {
      bpmnName = name;
      canvasUsable = false;
      var undrawn = /no diagram to display/i.test(String(error && error.message));
      say(undrawn ? "Tệp " + name + " không có phần hình vẽ (BPMN DI): trình vẽ không hiển thị được nó. Hãy mở tệp " +
        "bằng công cụ đã tạo ra nó, lưu kèm hình vẽ rồi tải lên lại; các kiểm tra bên dưới vẫn chạy." :
        "Không mở được sơ đồ " + name + " trong trình vẽ: tệp không phải BPMN hợp lệ. Xem danh sách lỗi bên dưới.",
        "error");
      if (window.console) {
        window.console.warn(error);
      }
      return false;
    }).then(function (ok) {
      importing = false;
      bpmnDirty = false;
      showHistory();
      return ok;
    });
  }

  function chooseBpmn(files) {
    var names = Object.keys(files).filter(function (n) { return /\.bpmn$/i.test(n); }).sort();
    var executable = names.filter(function (n) { return /isExecutable="true"/.test(files[n]); });
    var select = $("bpmn-file");
    select.textContent = "";
    names.forEach(function (n) {
      var option = document.createElement("option");
      option.value = n;
      option.textContent = n;
      select.appendChild(option);
    });
    select.hidden = $("bpmn-file-label").hidden = names.length < 2;
    return executable[0] || names[0] || null;
  }

  function ready() {
    document.dispatchEvent(new CustomEvent("onestop:modeller-ready", { detail: { fileName: bpmnName } }));
  }

  function load() {
    say("Đang mở bản nháp…");
    return request("/draft").then(function (answer) {
      if (!answer.ok) {
        say(answer.data.message || "Không mở được bản nháp.", "error");
        return;
      }
      saved = answer.data.files || {};
      changed = {};
      revision = answer.data.revision;
      showEdited(answer.data);
      var name = chooseBpmn(saved);
      if (!name) {
        say("Bản nháp không có sơ đồ BPMN.", "error");
        return;
      }
      $("bpmn-file").value = name;
      return importDiagram(name, saved[name]).then(function (shown) {
        if (shown) {
          say("");
        }
        showDirty();
        setBusy(false);
        ready();
        return lint();
      });
    });
  }

  function switchBpmn() {
    var name = $("bpmn-file").value;
    if (name === bpmnName) {
      return;
    }
    pending().then(function (files) {
      if (bpmnDirty && canvasUsable) {
        changed[bpmnName] = files[bpmnName]; // kept for the next save while another file is shown
      }
      return importDiagram(name, getFile(name) || "");
    }).then(function () {
      showDirty();
      setBusy(busy);
      ready();
      scheduleLint();
    });
  }

  function setBusy(value) {
    busy = value;
    // Nothing to save from a canvas that could not show its file, unless other files changed.
    $("save").disabled = value || (!canvasUsable && !Object.keys(changed).length);
    $("publish").disabled = value || published;
  }

  function save() {
    if (busy) {
      return Promise.resolve(false);
    }
    setBusy(true);
    var startedAt = changeCount;
    say("Đang lưu…");
    return pending().then(function (files) {
      return request("/save", { revision: revision, files: files }).then(function (answer) {
        if (answer.ok) {
          revision = answer.data.revision;
          Object.keys(files).forEach(function (name) {
            if (files[name] === null) {
              delete saved[name];
            } else {
              saved[name] = files[name];
            }
            if (changed[name] === files[name]) {
              delete changed[name];
            }
          });
          if (changeCount === startedAt) {
            bpmnDirty = false;
          }
          showEdited(answer.data);
          showDirty();
          $("conflict").hidden = true;
          $("others").hidden = true;
          say("Đã lưu (phiên bản lưu " + revision + ").", "success");
          return true;
        }
        if (answer.status === 409) {
          $("edited-by").textContent = answer.data.edited_by || "—"; // who saved in between, and when
          $("edited-at").textContent = answer.data.edited_at || "—";
          $("conflict-message").textContent = answer.data.message;
          $("conflict").hidden = false;
          say("Chưa lưu.", "error");
          return false;
        }
        say(answer.data.message || "Chưa lưu được; những gì đang vẽ vẫn còn trên trang.", "error");
        return false;
      });
    }).then(function (ok) {
      setBusy(false);
      return ok;
    });
  }

  function saveAsNew() {
    $("save-as-new").disabled = true;
    return pending().then(function (files) {
      return request("/copy", { files: files });
    }).then(function (answer) {
      if (!answer.ok) {
        $("save-as-new").disabled = false;
        say(answer.data.message || "Chưa lưu được bản nháp mới.", "error");
        return;
      }
      changed = {};
      bpmnDirty = false; // kept in the new draft: leaving this page loses nothing
      say("Đã lưu thành bản nháp mới số " + answer.data.draft_id + ".", "success");
      window.location.assign(answer.data.url);
    });
  }

  function reloadTheirs() {
    changed = {};
    bpmnDirty = false;
    window.location.reload();
  }

  function publish() {
    if (isDirty()) {
      say("Có thay đổi chưa lưu: bấm «Lưu» trước, rồi công bố.", "error");
      return Promise.resolve(false);
    }
    setBusy(true);
    say("Đang công bố…");
    return request("/publish", {}).then(function (answer) {
      setBusy(false);
      if (answer.ok) {
        published = true;
        $("publish").disabled = true;
        say(answer.data.message, "success");
        // What comes next is on the review page: rolling the procedure out to the communes.
        var next = document.createElement("a");
        next.id = "after-publish";
        next.href = $("review-link").getAttribute("href");
        next.textContent = "Tiếp theo: trang duyệt (triển khai xuống các trung tâm cấp xã)";
        $("status").appendChild(document.createTextNode(" "));
        $("status").appendChild(next);
        return true;
      }
      if (answer.data.findings) {
        lastFindings = answer.data.findings;
        showFindings(lastFindings);
      }
      var reasons = (answer.data.findings || []).filter(function (f) { return f.level === "error"; })
        .map(function (f) { return f.message; });
      say((answer.data.message || "Chưa công bố được.") + (reasons.length ? " " + reasons.join(" ") : ""), "error");
      return false;
    });
  }

  /* Someone else saved (or published) since this page loaded or saved: said before a save is refused. */
  function watchOthers() {
    if (busy || !$("conflict").hidden) {
      return Promise.resolve();
    }
    return request("/revision").then(function (answer) {
      if (!answer.ok || answer.data.revision <= revision) {
        $("others").hidden = true;
        return;
      }
      $("others").textContent = answer.data.published_version ?
        "Bản nháp này vừa được công bố thành phiên bản " + answer.data.published_version + ". Những gì đang vẽ " +
          "vẫn còn trên trang: khi lưu, anh/chị sẽ được đề nghị lưu thành bản nháp mới." :
        (answer.data.edited_by || "Một quản trị viên khác") + " đã lưu bản nháp này lúc " + answer.data.edited_at +
          ". Khi lưu, anh/chị sẽ được đề nghị lưu những gì đang vẽ thành bản nháp mới.";
      $("others").hidden = false;
    });
  }

  /* ---- wiring ---- */

  function showHistory() {
    var stack = modeler.get("commandStack");
    $("undo").disabled = !stack.canUndo();
    $("redo").disabled = !stack.canRedo();
  }

  modeler.on("commandStack.changed", function (event) {
    showHistory();
    if (importing || (event && event.trigger === "clear")) {
      return;
    }
    bpmnDirty = true;
    markChanged();
  });

  window.addEventListener("beforeunload", function (event) {
    if (isDirty()) {
      event.preventDefault();
      event.returnValue = "";
    }
  });

  window.addEventListener("focus", watchOthers);
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) {
      watchOthers();
    }
  });
  setInterval(watchOthers, 30000);
  $("undo").addEventListener("click", function () { modeler.get("commandStack").undo(); });
  $("redo").addEventListener("click", function () { modeler.get("commandStack").redo(); });
  $("fit").addEventListener("click", function () { modeler.get("canvas").zoom("fit-viewport", "auto"); });
  $("save").addEventListener("click", save);
  $("publish").addEventListener("click", publish);
  $("save-as-new").addEventListener("click", saveAsNew);
  $("reload-theirs").addEventListener("click", reloadTheirs);
  $("bpmn-file").addEventListener("change", switchBpmn);
  document.addEventListener("keydown", function (event) {
    if ((event.ctrlKey || event.metaKey) && (event.key === "s" || event.key === "S")) {
      event.preventDefault();
      save();
    }
  });

  var api = {
    modeler: modeler,
    draftId: draftId,
    getFile: getFile,
    setFile: setFile,
    fileNames: fileNames,
    lint: lint,
    save: save,
    isDirty: isDirty
  };
  Object.defineProperty(api, "revision", { enumerable: true, get: function () { return revision; } });
  Object.defineProperty(api, "csrfToken", { enumerable: true, get: function () { return csrfToken; } });
  Object.defineProperty(api, "bpmnFile", { enumerable: true, get: function () { return bpmnName; } });
  window.onestopModeller = api;

  // Start once every script of the page has run, so that panel.js listens before the diagram is ready.
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", load);
  } else {
    load();
  }
}());
