/* The coverage of a draft on the bpmn-js viewer: the elements its test runs reached are marked
   "covered", the others "never". Without JavaScript (or if the viewer cannot draw the model) the
   page keeps the server-drawn diagram, coloured the same way. */
(function () {
  'use strict';
  var holder = document.getElementById('coverage-viewer');
  if (!holder || typeof window.BpmnJS !== 'function' || !window.fetch) {
    return;
  }
  function ids(text) {
    return (text || '').split(' ').filter(function (id) { return id; });
  }
  fetch(holder.getAttribute('data-bpmn'), { credentials: 'same-origin' })
    .then(function (reply) { return reply.ok ? reply.text() : Promise.reject(reply.status); })
    .then(function (xml) {
      holder.hidden = false;
      var viewer = new window.BpmnJS({ container: holder });
      return viewer.importXML(xml).then(function () {
        var canvas = viewer.get('canvas');
        var registry = viewer.get('elementRegistry');
        ids(holder.getAttribute('data-covered')).forEach(function (id) {
          if (registry.get(id)) { canvas.addMarker(id, 'covered'); }
        });
        ids(holder.getAttribute('data-never')).forEach(function (id) {
          if (registry.get(id)) { canvas.addMarker(id, 'never'); }
        });
        canvas.zoom('fit-viewport');
        document.getElementById('coverage-svg').hidden = true;
        holder.setAttribute('data-ready', 'true');
      });
    })
    .catch(function () {
      holder.hidden = true;
    });
}());
