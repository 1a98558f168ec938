/* BHasile — the map of structures. Data from the element's data-source (JSON); tiles only when
   data-tile-url is set (no tile server: markers on a plain background). Popups are built with
   DOM text nodes, never HTML from the data. */
(function () {
  "use strict";
  if (typeof L === "undefined") { return; }

  function line(parent, label, value) {
    if (value === null || value === undefined || value === "") { return; }
    var p = document.createElement("div");
    var b = document.createElement("strong");
    b.textContent = label + " : ";
    p.appendChild(b);
    p.appendChild(document.createTextNode(String(value)));
    parent.appendChild(p);
  }

  function popup(s, labels) {
    var box = document.createElement("div");
    var title = document.createElement("strong");
    title.textContent = s.code + " – " + s.nom;
    box.appendChild(title);
    line(box, "Type", s.type);
    line(box, labels.operateur, s.operateur);
    line(box, "Commune", s.commune + " (" + s.dep + ")");
    line(box, labels.places, s.places);
    line(box, labels.occupation, s.occupation === null ? null : s.occupation.toLocaleString("fr-FR") + " %");
    var a = document.createElement("a");
    a.href = s.url;
    a.textContent = labels.open;
    box.appendChild(a);
    return box;
  }

  document.addEventListener("DOMContentLoaded", function () {
    var el = document.getElementById("bh-map");
    if (!el) { return; }
    var map = L.map(el, { maxZoom: 18 }).setView([46.6, 2.4], 6);
    var tiles = el.getAttribute("data-tile-url");
    if (tiles) {
      L.tileLayer(tiles, { maxZoom: 18, attribution: el.getAttribute("data-tile-attribution") || "" }).addTo(map);
    }
    var labels = {
      places: el.getAttribute("data-label-places"), occupation: el.getAttribute("data-label-occupation"),
      operateur: el.getAttribute("data-label-operateur"), open: el.getAttribute("data-label-open")
    };
    fetch(el.getAttribute("data-source"), { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        var cluster = L.markerClusterGroup();
        var bounds = [];
        data.structures.forEach(function (s) {
          var marker = L.circleMarker([s.lat, s.lng], { radius: 7, color: "#000091", weight: 2, fillOpacity: 0.6, className: "bh-marker" });
          marker.bindPopup(popup(s, labels));
          cluster.addLayer(marker);
          bounds.push([s.lat, s.lng]);
        });
        map.addLayer(cluster);
        /* Start on mainland France when it has structures (overseas ones: zoom out). */
        var mainland = bounds.filter(function (p) { return p[0] > 41 && p[0] < 51.5 && p[1] > -5.5 && p[1] < 10; });
        var view = mainland.length ? mainland : bounds;
        if (view.length) { map.fitBounds(view, { padding: [20, 20], maxZoom: 12 }); }
      });
  });
})();
