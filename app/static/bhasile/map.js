/* BHasile — the map of structures. Data from the element's data-source (JSON), refetched with the
   filters of the form above the map (type, région, département, opérateur: the server filters,
   within the user's scope); the départements' outline (vendored GeoJSON) is drawn under the
   markers, over the tiles when data-tile-url is set, alone otherwise. Markers are coloured by
   type (the legend under the map). Popups and the accessible list under the map are built with
   DOM text nodes, never HTML from the data. */
(function () {
  "use strict";
  /* DSFR illustrative colours, one per type (the legend's .bh-type-* in pages.css). */
  var TYPE_COLOURS = { CADA: "#000091", HUDA: "#C3992A", CPH: "#18753C", CAES: "#A558A0", PRAHDA: "#CE614A" };
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

  function outline(map, el, tiles) {
    var url = el.getAttribute("data-outline");
    if (!url) { return; }
    map.createPane("bh-departements");  /* under the markers (overlay pane: z-index 400) */
    map.getPane("bh-departements").style.zIndex = 350;
    fetch(url, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (geo) {
      L.geoJSON(geo, {
        pane: "bh-departements", interactive: false, attribution: el.getAttribute("data-outline-attribution") || "",
        style: { color: "#7b7b7b", weight: 1, fill: !tiles, fillColor: "#ffffff", fillOpacity: 1, className: "bh-departement" }
      }).addTo(map);
    });
  }

  function query(form) {
    var params = new URLSearchParams();
    Array.prototype.forEach.call(form.elements, function (field) {
      if (field.name && field.value) { params.append(field.name, field.value); }
    });
    return params.toString();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var el = document.getElementById("bh-map");
    if (!el) { return; }
    var source = el.getAttribute("data-source").split("?")[0];
    var form = document.getElementById("bh-map-filters");
    var load = function (url) {
      return fetch(url, { credentials: "same-origin" }).then(function (r) { return r.json(); });
    };
    var data = load(el.getAttribute("data-source"));
    data.then(function (d) { fillList(d.structures); });
    if (typeof L === "undefined") { return; }
    var map = L.map(el, { maxZoom: 18, zoomSnap: 0.25 }).setView([46.6, 2.4], 6);
    var tiles = el.getAttribute("data-tile-url");
    if (tiles) {
      L.tileLayer(tiles, { maxZoom: 18, attribution: el.getAttribute("data-tile-attribution") || "" }).addTo(map);
    }
    outline(map, el, tiles);
    var labels = {
      places: el.getAttribute("data-label-places"), occupation: el.getAttribute("data-label-occupation"),
      operateur: el.getAttribute("data-label-operateur"), open: el.getAttribute("data-label-open"),
      type: el.getAttribute("data-label-type"), commune: el.getAttribute("data-label-commune")
    };
    var cluster = L.markerClusterGroup();
    map.addLayer(cluster);
    var state = { map: map, cluster: cluster, markers: [] };
    window.bhMap = state;  /* for the browser tests */

    function show(d) {
      cluster.clearLayers();
      var bounds = [];
      state.markers = d.structures.map(function (s) {
        var colour = TYPE_COLOURS[s.type] || "#000091";
        var marker = L.circleMarker([s.lat, s.lng], {
          radius: 7, color: "#ffffff", weight: 1.5, fillColor: colour, fillOpacity: 0.9,
          className: "bh-marker bh-marker-" + s.type
        });
        marker.bindPopup(popup(s, labels));
        bounds.push([s.lat, s.lng]);
        return marker;
      });
      cluster.addLayers(state.markers);
      el.setAttribute("data-markers", String(state.markers.length));
      /* Start on mainland France when it has structures (overseas ones: zoom out). */
      var mainland = bounds.filter(function (p) { return p[0] > 41 && p[0] < 51.5 && p[1] > -5.5 && p[1] < 10; });
      var view = mainland.length ? mainland : bounds;
      if (view.length) { map.fitBounds(view, { padding: [20, 20], maxZoom: 12 }); }
    }
    data.then(show);

    if (form) {
      var refresh = function () {
        var q = query(form);
        if (window.history && window.history.replaceState) {
          window.history.replaceState(null, "", window.location.pathname + (q ? "?" + q : ""));
        }
        load(source + (q ? "?" + q : "")).then(function (d) { show(d); fillList(d.structures); });
      };
      form.addEventListener("change", refresh);
      form.addEventListener("submit", function (event) { event.preventDefault(); refresh(); });
    }
  });
})();
