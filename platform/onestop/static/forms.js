/* Forms the GOV.UK way, as a small progressive enhancement (pages work without it):
   - the error summary drawn by the server takes the focus when the page opens, so a screen reader
     reads it and the page scrolls to it; its links move the focus to the field;
   - a file is checked for size and type as soon as it is chosen and again before sending, so a
     file that is too large is never sent: the error shows beside the field and in a summary at the
     top of the form, and nothing typed is lost. The server checks everything again. */
(function () {
  "use strict";
  var texts = document.querySelector("[data-form-messages]");

  function say(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, key) { return values[key]; });
  }

  function focusSummary(summary) {
    summary.focus();
    summary.scrollIntoView({block: "start"});
  }

  var summary = document.querySelector("[data-error-summary]");
  if (summary) { focusSummary(summary); }

  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest(".error-summary a[href^='#']");
    if (!link) { return; }
    var target = document.getElementById(link.getAttribute("href").slice(1));
    if (target) {
      event.preventDefault();
      target.focus();
      var label = document.querySelector("label[for='" + target.id + "']") || target;
      label.scrollIntoView({block: "center"});
    }
  });

  if (!texts) { return; }
  var allowed = [];

  function problem(input) {
    var limit = Number(input.getAttribute("data-max-bytes"));
    allowed = (input.getAttribute("accept") || "").toLowerCase().split(",");
    for (var i = 0; i < input.files.length; i++) {
      var file = input.files[i];
      var dot = file.name.lastIndexOf(".");
      var extension = dot >= 0 ? file.name.slice(dot).toLowerCase() : "";
      if (limit && file.size > limit) {
        return say(texts.getAttribute("data-too-large"), {name: file.name, limit: Math.floor(limit / 1048576)});
      }
      if (allowed.length && allowed[0] && allowed.indexOf(extension) < 0) {
        return say(texts.getAttribute("data-wrong-type"), {name: file.name});
      }
    }
    return "";
  }

  function show(input, message) {
    var id = input.id + "-browser-error";
    var old = document.getElementById(id);
    var described = (input.getAttribute("aria-describedby") || "").split(" ").filter(function (x) {
      return x && x !== id;
    });
    if (old) { old.parentNode.removeChild(old); }
    if (message) {
      var text = document.createElement("p");
      text.className = "error-text";
      text.id = id;
      text.textContent = message;
      input.parentNode.insertBefore(text, input);
      described.push(id);
      input.setAttribute("aria-invalid", "true");
      input.closest(".field") && input.closest(".field").classList.add("has-error");
    } else if (!document.getElementById(input.id + "-error")) {
      input.removeAttribute("aria-invalid");
    }
    if (described.length) { input.setAttribute("aria-describedby", described.join(" ")); }
    else { input.removeAttribute("aria-describedby"); }
  }

  function fileInputs(scope) {
    return Array.prototype.slice.call(scope.querySelectorAll("input[type=file][data-max-bytes]"));
  }

  fileInputs(document).forEach(function (input) {
    input.addEventListener("change", function () { show(input, problem(input)); });
  });

  Array.prototype.forEach.call(document.querySelectorAll("form"), function (form) {
    form.addEventListener("submit", function (event) {
      var submitter = event.submitter;
      if (submitter && submitter.hasAttribute("formnovalidate")) { return; }
      var wrong = [];
      fileInputs(form).forEach(function (input) {
        var message = problem(input);
        show(input, message);
        if (message) { wrong.push([input, message]); }
      });
      if (!wrong.length) { return; }
      event.preventDefault();
      var box = form.querySelector("[data-error-summary]");
      if (!box) {
        box = document.createElement("div");
        box.className = "error-summary";
        box.setAttribute("role", "alert");
        box.setAttribute("tabindex", "-1");
        box.setAttribute("data-error-summary", "");
        form.insertBefore(box, form.firstChild);
      }
      box.textContent = "";
      var title = document.createElement("h2");
      title.textContent = texts.getAttribute("data-title");
      var list = document.createElement("ul");
      wrong.forEach(function (pair) {
        var item = document.createElement("li");
        var link = document.createElement("a");
        link.href = "#" + pair[0].id;
        link.textContent = pair[1];
        item.appendChild(link);
        list.appendChild(item);
      });
      box.appendChild(title);
      box.appendChild(list);
      focusSummary(box);
    });
  });
})();
