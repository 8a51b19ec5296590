// The slip's "Print" link: the only script on the site; the page works without it (Ctrl+P).
document.addEventListener("click", function (event) {
  if (event.target.closest("[data-print]")) { event.preventDefault(); window.print(); }
});
