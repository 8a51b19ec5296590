// Pages that follow something happening elsewhere (a leader's decisions awaited, a sitting at the
// counter): every few seconds ask the page's data-poll address for its version and reload the page
// when it has moved on. Cheap: one small JSON answer; no page is reloaded while nothing changes.
(function () {
  var root = document.querySelector("[data-poll]");
  if (!root || !window.fetch) { return; }
  var url = root.getAttribute("data-poll"), version = root.getAttribute("data-version");
  var every = parseInt(root.getAttribute("data-every") || "3000", 10);
  function tick() {
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (reply) { return reply.ok ? reply.json() : null; })
      .then(function (data) {
        if (data && data.version !== version) { window.location.reload(); return; }
        window.setTimeout(tick, every);
      })
      .catch(function () { window.setTimeout(tick, every * 2); });
  }
  window.setTimeout(tick, every);
})();
