/* The queue's live pages, plain ES5 for TV and old phone browsers: the hall screen and the ticket
   page poll a small JSON answer with If-None-Match (304 while nothing was called). The screen
   speaks each new call in Vietnamese where the browser has speechSynthesis. */
(function () {
  "use strict";

  function poll(url, seconds, etag, onChange) {
    var request = new XMLHttpRequest();
    request.open("GET", url, true);
    if (etag) { request.setRequestHeader("If-None-Match", etag); }
    request.onreadystatechange = function () {
      if (request.readyState !== 4) { return; }
      var next = etag;
      if (request.status === 200) {
        next = request.getResponseHeader("ETag") || etag;
        try { onChange(JSON.parse(request.responseText)); } catch (e) { /* a bad answer: try again */ }
      }
      window.setTimeout(function () { poll(url, seconds, next, onChange); }, seconds * 1000);
    };
    request.send();
  }

  function spoken(label, counter) {
    /* "A001" as "A, 0, 0, 1": a Vietnamese voice reads each character (A không không một). */
    return "Xin mời số " + label.split("").join(" ") + ", đến quầy số " + counter;
  }

  var speechAllowed = false;
  function speak(text) {
    if (!("speechSynthesis" in window) || typeof SpeechSynthesisUtterance === "undefined") { return; }
    var utterance = new SpeechSynthesisUtterance(text);
    utterance.lang = "vi-VN";
    utterance.rate = 0.9;
    window.speechSynthesis.speak(utterance);
  }

  function cell(text, name) {
    var td = document.createElement("td");
    td.className = name;
    td.appendChild(document.createTextNode(text));
    return td;
  }

  function hallScreen(root) {
    var body = document.getElementById("calls");
    var first = body.querySelector("tr[data-id]");
    var latest = first ? first.getAttribute("data-id") + "/" + first.getAttribute("data-calls") : "";
    var note = document.getElementById("speech-note");
    if (note && "speechSynthesis" in window) {
      note.hidden = false;
      document.addEventListener("click", function () { speechAllowed = true; note.hidden = true; speak(""); });
    }
    poll(root.getAttribute("data-poll"), parseFloat(root.getAttribute("data-seconds")), '"v' + root.getAttribute("data-version") + '"',
      function (board) {
        if (!board.calls.length) { return; }
        while (body.firstChild) { body.removeChild(body.firstChild); }
        for (var i = 0; i < board.calls.length; i++) {
          var call = board.calls[i], row = document.createElement("tr");
          row.setAttribute("data-id", call.id);
          row.setAttribute("data-calls", call.calls);
          if (i === 0) { row.className = "latest"; }
          row.appendChild(cell(call.label, "number"));
          row.appendChild(cell(call.counter, "counter"));
          body.appendChild(row);
        }
        var top = board.calls[0], key = top.id + "/" + top.calls;
        if (key !== latest) {
          latest = key;
          root.setAttribute("data-version", board.version);
          speak(spoken(top.label, top.counter));
        }
      });
  }

  function paragraph(parts) {
    var p = document.createElement("p");
    for (var i = 0; i < parts.length; i++) {
      if (parts[i].strong !== undefined) {
        var strong = document.createElement("strong");
        strong.id = parts[i].id;
        strong.appendChild(document.createTextNode(String(parts[i].strong)));
        p.appendChild(strong);
      } else {
        p.appendChild(document.createTextNode(parts[i]));
      }
    }
    return p;
  }

  function ticketPage(root) {
    var state = document.getElementById("ticket-state");
    var texts = document.getElementById("ticket-texts");
    var last = "";
    poll(root.getAttribute("data-poll"), parseFloat(root.getAttribute("data-seconds")), null, function (ticket) {
      var key = ticket.state + "/" + ticket.ahead + "/" + ticket.wait_minutes + "/" + ticket.counter + "/" + ticket.calls;
      if (key === last) { return; }
      last = key;
      while (state.firstChild) { state.removeChild(state.firstChild); }
      if (ticket.state === "waiting") {
        state.appendChild(paragraph([texts.getAttribute("data-ahead") + ": ", {strong: ticket.ahead, id: "ticket-ahead"}]));
        state.appendChild(paragraph([texts.getAttribute("data-wait") + ": ", {strong: ticket.wait_minutes, id: "ticket-wait"},
          " " + texts.getAttribute("data-minutes")]));
      } else if (ticket.state === "called" || ticket.state === "serving") {
        var called = paragraph([texts.getAttribute("data-go") + " ", {strong: ticket.counter, id: "ticket-counter"}]);
        called.className = "called";
        state.appendChild(called);
        if (navigator.vibrate) { navigator.vibrate([300, 100, 300]); }
      } else {
        state.appendChild(paragraph([texts.getAttribute(ticket.state === "skipped" ? "data-skipped" : "data-done")]));
      }
    });
  }

  var screen = document.getElementById("screen");
  if (screen) { hallScreen(screen); }
  var ticket = document.getElementById("ticket");
  if (ticket) { ticketPage(ticket); }
}());
