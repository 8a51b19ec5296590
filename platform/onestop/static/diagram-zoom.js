// Zoom and pan for the server-drawn diagrams ([data-zoom] around a .diagram-wrap holding svg.diagram).
// Without this script the diagram is still readable (drawn at a scale where labels are 12 px) and
// pans by scrolling. With it: the buttons, the + / - / 0 keys on the focused drawing, and dragging.
(function () {
  function setup(box) {
    var wrap = box.querySelector(".diagram-wrap"), svg = wrap && wrap.querySelector("svg.diagram");
    if (!svg) return;
    var width = parseFloat(svg.getAttribute("width")), height = parseFloat(svg.getAttribute("height"));
    var zoom = 1;
    function apply(next) {
      var centreX = (wrap.scrollLeft + wrap.clientWidth / 2) / zoom, centreY = (wrap.scrollTop + wrap.clientHeight / 2) / zoom;
      zoom = Math.min(4, Math.max(0.25, next));
      svg.setAttribute("width", Math.round(width * zoom));
      svg.setAttribute("height", Math.round(height * zoom));
      wrap.scrollLeft = centreX * zoom - wrap.clientWidth / 2;
      wrap.scrollTop = centreY * zoom - wrap.clientHeight / 2;
      box.setAttribute("data-zoom", zoom.toFixed(2));
    }
    var controls = box.querySelector(".zoom-controls");
    if (controls) controls.hidden = false;
    box.addEventListener("click", function (event) {
      var button = event.target.closest("[data-zoom-by]");
      if (!button) return;
      var by = parseFloat(button.getAttribute("data-zoom-by"));
      apply(by ? zoom * by : 1);
    });
    wrap.addEventListener("keydown", function (event) {
      if (event.key === "+" || event.key === "=") apply(zoom * 1.25);
      else if (event.key === "-" || event.key === "_") apply(zoom * 0.8);
      else if (event.key === "0") apply(1);
      else return;
      event.preventDefault();
    });
    var drag = null;
    wrap.addEventListener("pointerdown", function (event) {
      if (event.pointerType !== "mouse" || event.button !== 0) return;  // touch pans by scrolling already
      drag = {x: event.clientX, y: event.clientY, left: wrap.scrollLeft, top: wrap.scrollTop};
      wrap.classList.add("dragging");
    });
    window.addEventListener("pointermove", function (event) {
      if (!drag) return;
      wrap.scrollLeft = drag.left - (event.clientX - drag.x);
      wrap.scrollTop = drag.top - (event.clientY - drag.y);
    });
    window.addEventListener("pointerup", function () { drag = null; wrap.classList.remove("dragging"); });
  }
  document.querySelectorAll("[data-zoom]").forEach(setup);
})();
