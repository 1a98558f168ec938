/* BHasile — the map of structures. Data from the element's data-source (JSON); tiles only when
   data-tile-url is set (no tile server: markers on a plain background). Popups and the accessible
   list under the map are built with DOM text nodes, never HTML from the data. */
(function () {
  "use strict";
  var BLEU_FRANCE = "#000091";
  var numberFr = new Intl.NumberFormat("fr-FR", { maximumFractionDigits: 1 });

  function line(parent, label, value) {
    if (value === null || value === undefined || value === "") { return; }
    var p = document.createElement("div");
    var b = document.createElement("strong");
    b.textContent = label + " : ";
    p.appendChild(b);
    p.appendChild(document.createTextNode(String(value)));
    parent.appendChild(p);
  }

  function occupation(s) {
    return s.occupation === null || s.occupation === undefined ? null : numberFr.format(s.occupation) + " %";
  }

  function popup(s, labels) {
    var box = document.createElement("div");
    var title = document.createElement("strong");
    title.textContent = s.code + " – " + s.nom;
    box.appendChild(title);
    line(box, labels.type, s.type);
    line(box, labels.operateur, s.operateur);
    line(box, labels.commune, s.commune + " (" + s.dep + ")");
    line(box, labels.places, s.places);
    line(box, labels.occupation, occupation(s));
    var a = document.createElement("a");
    a.href = s.url;
    a.textContent = labels.open;
    box.appendChild(a);
    return box;
  }

  /* The same structures as a table: the alternative for keyboard and screen-reader users. */
  function fillList(structures) {
    var body = document.getElementById("bh-map-rows");
    if (!body) { return; }
    var rows = document.createDocumentFragment();
    structures.forEach(function (s) {
      var tr = document.createElement("tr");
      var th = document.createElement("th");
      th.scope = "row";
      var a = document.createElement("a");
      a.href = s.url;
      a.textContent = s.code;
      th.appendChild(a);
      tr.appendChild(th);
      [s.nom, s.type, s.commune + " (" + s.dep + ")", s.operateur, s.places, occupation(s)].forEach(function (v, i) {
        var td = document.createElement("td");
        if (i >= 4) { td.className = "bh-num"; }
        td.textContent = v === null || v === undefined || v === "" ? "–" : String(i === 4 ? numberFr.format(v) : v);
        tr.appendChild(td);
      });
      rows.appendChild(tr);
    });
    body.textContent = "";
    body.appendChild(rows);
    var count = document.getElementById("bh-map-count");
    if (count) { count.textContent = "(" + numberFr.format(structures.length) + ")"; }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var el = document.getElementById("bh-map");
    if (!el) { return; }
    var data = fetch(el.getAttribute("data-source"), { credentials: "same-origin" }).then(function (r) { return r.json(); });
    data.then(function (d) { fillList(d.structures); });
    if (typeof L === "undefined") { return; }
    var map = L.map(el, { maxZoom: 18 }).setView([46.6, 2.4], 6);
    var tiles = el.getAttribute("data-tile-url");
    if (tiles) {
      L.tileLayer(tiles, { maxZoom: 18, attribution: el.getAttribute("data-tile-attribution") || "" }).addTo(map);
    }
    var labels = {
      places: el.getAttribute("data-label-places"), occupation: el.getAttribute("data-label-occupation"),
      operateur: el.getAttribute("data-label-operateur"), open: el.getAttribute("data-label-open"),
      type: el.getAttribute("data-label-type"), commune: el.getAttribute("data-label-commune")
    };
    data.then(function (d) {
      var cluster = L.markerClusterGroup();
      var bounds = [];
      d.structures.forEach(function (s) {
        var marker = L.circleMarker([s.lat, s.lng], { radius: 7, color: BLEU_FRANCE, weight: 2, fillOpacity: 0.6, className: "bh-marker" });
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
