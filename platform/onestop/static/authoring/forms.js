/*
 * The form builder page: the vendored bpmn.io form editor (global FormEditor) on one form of a
 * draft, a palette of onestop's ready-made fields and blocks, a preview drawn by the server exactly
 * as the citizen and the officer will see the form, and saving at the revision the page was opened
 * at. Every problem comes from the server (the same checks as saving), in Vietnamese, and is put
 * next to the field it is about. No inline script: the page's data is a JSON block.
 */
(function () {
  'use strict';

  var data = JSON.parse(document.getElementById('form-builder-data').textContent);
  var revision = data.revision;
  var editorElement = document.getElementById('form-editor');
  var previewElement = document.getElementById('form-preview');
  var problemsElement = document.getElementById('form-problems');
  var statusElement = document.getElementById('form-status');
  var saveButton = document.getElementById('form-save');
  var titleInput = document.getElementById('form-title');
  /* The properties panel's expression editors (CodeMirror) add <style> elements as they open;
     the back office's Content-Security-Policy admits a style element only with this answer's
     nonce, which CodeMirror supports but form-js does not pass on. Styles created here carry it. */
  if (data.styleNonce) {
    var createElement = document.createElement.bind(document);
    document.createElement = function (name, options) {
      var element = createElement(name, options);
      if (String(name).toLowerCase() === 'style') { element.setAttribute('nonce', data.styleNonce); }
      return element;
    };
  }
  var editor = new FormEditor.FormEditor({ container: editorElement });
  var problems = [];
  var previewTimer = null;
  var previewSequence = 0;
  var OFFLINE = 'Không kết nối được máy chủ; thay đổi của bạn vẫn còn trên trang.';

  function say(text, kind) {
    statusElement.textContent = text;
    statusElement.className = kind ? 'is-' + kind : '';
  }

  function book(documentValue) {
    if (!documentValue.onestop || typeof documentValue.onestop !== 'object') {
      documentValue.onestop = {};
    }
    if (!documentValue.onestop.schema || typeof documentValue.onestop.schema !== 'object') {
      documentValue.onestop.schema = { '$schema': 'https://json-schema.org/draft/2020-12/schema', type: 'object' };
    }
    return documentValue.onestop;
  }

  /* The document as it stands in the editor, with the form's title from the page. */
  function currentDocument() {
    var documentValue = editor.saveSchema();
    if (titleInput) {
      var title = titleInput.value.trim();
      var schema = book(documentValue).schema;
      if (title) { schema.title = title; } else { delete schema.title; }
    }
    return documentValue;
  }

  function post(url, body) {
    return fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRFToken': data.csrfToken },
      body: JSON.stringify(body)
    });
  }

  /* Problems: listed above the editor, and each written under its field on the canvas. */
  function markProblems() {
    Array.prototype.forEach.call(editorElement.querySelectorAll('.onestop-field-problem'), function (node) {
      node.parentNode.removeChild(node);
    });
    Array.prototype.forEach.call(editorElement.querySelectorAll('.onestop-has-problem'), function (node) {
      node.classList.remove('onestop-has-problem');
    });
    problems.forEach(function (problem) {
      if (!problem.component) { return; }
      var selector = '.fjs-element[data-id="' + CSS.escape(problem.component) + '"]';
      var element = editorElement.querySelector(selector);
      if (!element) { return; }
      element.classList.add('onestop-has-problem');
      var note = document.createElement('p');
      note.className = 'onestop-field-problem';
      note.setAttribute('data-code', problem.code);
      note.textContent = problem.message;
      element.appendChild(note);
    });
  }

  function showProblems(list) {
    problems = list || [];
    var ul = problemsElement.querySelector('ul');
    ul.textContent = '';
    problems.forEach(function (problem) {
      var li = document.createElement('li');
      li.setAttribute('data-code', problem.code);
      li.setAttribute('data-component', problem.component || '');
      var who = problem.label || problem.key;
      if (who) {
        var strong = document.createElement('strong');
        strong.textContent = who + (problem.key && problem.label ? ' (' + problem.key + ')' : '') + ': ';
        li.appendChild(strong);
      }
      li.appendChild(document.createTextNode(problem.message));
      if (problem.component) {
        li.tabIndex = 0;  // reachable by keyboard: Enter selects the field in the editor
        li.addEventListener('click', function () { select(problem.component); });
        li.addEventListener('keydown', function (event) {
          if (event.key === 'Enter') { select(problem.component); }
        });
      }
      ul.appendChild(li);
    });
    problemsElement.hidden = problems.length === 0;
    markProblems();
  }

  function select(componentId) {
    if (!componentId) { return; }
    var field = editor.get('formFieldRegistry').get(componentId);
    if (field) { editor.get('selection').set(field); }
  }

  function refreshPreview() {
    var sequence = ++previewSequence;
    post(data.previewUrl, { document: currentDocument() }).then(function (response) {
      if (sequence !== previewSequence) { return null; }
      if (response.status === 422) {
        return response.json().then(function (body) {
          showProblems(body.problems);
          previewElement.textContent = '';
          var note = document.createElement('p');
          note.className = 'text-danger';
          note.textContent = 'Chưa xem thử được: biểu mẫu còn lỗi (xem danh sách ở trên).';
          previewElement.appendChild(note);
        });
      }
      if (!response.ok) { throw new Error(String(response.status)); }
      return response.text().then(function (html) {
        showProblems([]);
        previewElement.innerHTML = html;  // drawn by onestop's own server, from _form.html
      });
    }).catch(function () { say(OFFLINE, 'error'); });
  }

  var unsaved = false;
  window.addEventListener('beforeunload', function (event) {
    if (unsaved) { event.preventDefault(); event.returnValue = ''; }
  });

  function schedulePreview() {
    unsaved = true;
    window.clearTimeout(previewTimer);
    previewTimer = window.setTimeout(refreshPreview, 400);
  }

  function save() {
    saveButton.disabled = true;
    say('Đang lưu…');
    post(data.saveUrl, { document: currentDocument(), revision: revision }).then(function (response) {
      return response.json().then(function (body) { return { status: response.status, body: body }; });
    }).then(function (answer) {
      if (answer.status === 200) {
        revision = answer.body.revision;
        unsaved = false;
        showProblems([]);
        say(answer.body.message, 'ok');
      } else if (answer.status === 422) {
        showProblems(answer.body.problems);
        say(answer.body.message, 'error');
      } else if (answer.status === 409) {
        say(answer.body.message, 'error');
      } else {
        say('Chưa lưu được (lỗi ' + answer.status + '); thay đổi của bạn vẫn còn trên trang.', 'error');
      }
    }).catch(function () { say(OFFLINE, 'error'); }).then(function () { saveButton.disabled = false; });
  }

  /* Inserting ready-made fields: their keys made unique in the form, fresh component ids. */
  function usedKeys(components, keys) {
    (components || []).forEach(function (component) {
      if (component.key) { keys[component.key] = true; }
      if (component.path) { keys[component.path] = true; }
      if (component.onestop && component.onestop.key) { keys[component.onestop.key] = true; }
      usedKeys(component.components, keys);
    });
    return keys;
  }

  function freshen(component, keys) {
    component.id = 'Field_' + Math.random().toString(36).slice(2, 10);
    ['key', 'path'].forEach(function (name) {
      if (!component[name]) { return; }
      var base = component[name];
      var candidate = base;
      for (var n = 2; keys[candidate]; n++) { candidate = base + '_' + n; }
      keys[candidate] = true;
      component[name] = candidate;
    });
    (component.components || []).forEach(function (child) { freshen(child, {}); });
  }

  function insert(entry) {
    var documentValue = currentDocument();
    var keys = usedKeys(documentValue.components, {});
    var added = JSON.parse(JSON.stringify(entry.components));
    added.forEach(function (component) { freshen(component, keys); });
    documentValue.components = (documentValue.components || []).concat(added);
    editor.importSchema(documentValue).then(function () {
      say('Đã thêm: ' + entry.label + '. Nhớ bấm Lưu.');
      if (added.length) { select(added[0].id); }
      schedulePreview();
    });
  }

  data.palette.forEach(function (entry) {
    var holder = document.getElementById('palette-' + entry.kind);
    if (!holder) { return; }
    var button = document.createElement('button');
    button.type = 'button';
    button.className = 'btn btn-outline-secondary btn-sm';
    button.setAttribute('data-palette', entry.id);
    button.textContent = (entry.kind === 'block' ? 'Chèn khối: ' : '+ ') + entry.label;
    button.addEventListener('click', function () { insert(entry); });
    holder.appendChild(button);
  });
  ['document'].forEach(function (kind) {
    var holder = document.getElementById('palette-' + kind);
    if (holder && !holder.querySelector('button')) {
      var note = document.createElement('p');
      note.className = 'text-muted';
      note.textContent = 'procedure.json của bản nháp chưa liệt kê giấy tờ ("documents").';
      holder.appendChild(note);
    }
  });

  if (titleInput) {
    var stored = data.document.onestop && data.document.onestop.schema && data.document.onestop.schema.title;
    titleInput.value = stored || '';
    titleInput.addEventListener('input', schedulePreview);
  }
  previewElement.addEventListener('submit', function (event) { event.preventDefault(); });
  saveButton.addEventListener('click', save);
  editor.importSchema(data.document).then(function () {
    editor.on('changed', schedulePreview);
    refreshPreview();
    unsaved = false;
    say('');
  }).catch(function () {
    say('Trình soạn biểu mẫu không mở được tài liệu này; tệp vẫn nguyên trong bản nháp.', 'error');
  });
  window.onestopFormBuilder = { editor: editor, currentDocument: currentDocument };
}());
