/* BHasile — the map of structures. For its view (zoom and frame) the map asks the server
   (data-source, /carte/clusters.json) what to draw: clusters counted on the zoom's grid, the
   single structures, and the first structures of the view for the list under the map; again
   after each move and with the filters of the form above the map (type, région, département,
   opérateur: the server filters, within the user's scope). The départements' outline (vendored
   GeoJSON) is drawn under the markers, over the tiles when data-tile-url is set, alone
   otherwise. Markers are coloured by type (the legend under the map). Popups and the
   accessible list are built with DOM text nodes, never HTML from the data. */
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

  /* The first structures of the view as a table: the alternative for keyboard and screen-reader
     users (the full list, with the same filters, is the structure list linked under it). */
  function fillList(structures, inView) {
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
    if (count) { count.textContent = "(" + numberFr.format(inView) + ")"; }
    var more = document.getElementById("bh-map-more");
    if (more) {
      more.hidden = inView <= structures.length;
      var n = document.getElementById("bh-map-more-n");
      if (n) { n.textContent = numberFr.format(inView - structures.length); }
    }
  }

  /* A cluster counted by the server: the markercluster look (vendored CSS), the number as
     text, a click (or Enter) zooms on its structures. */
  function clusterMarker(c, map, label) {
    var size = c.count < 10 ? "small" : c.count < 100 ? "medium" : "large";
    var icon = L.divIcon({ html: "<div><span></span></div>", className: "marker-cluster marker-cluster-" + size,
                           iconSize: L.point(40, 40) });
    var marker = L.marker([c.lat, c.lng], { icon: icon, keyboard: true, title: label.replace("%(n)s", numberFr.format(c.count)),
                                            alt: label.replace("%(n)s", numberFr.format(c.count)) });
    marker.on("add", function () {
      var span = marker.getElement() && marker.getElement().querySelector("span");
      if (span) { span.textContent = numberFr.format(c.count); }
    });
    marker.on("click", function () {
      var b = L.latLngBounds(c.bounds);
      if (b.getNorthEast().equals(b.getSouthWest())) { map.setView(b.getCenter(), Math.min(map.getZoom() + 3, 18)); }
      else { map.fitBounds(b, { padding: [30, 30], maxZoom: 18 }); }
    });
    return marker;
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

  function clamp(v, low, high) { return Math.max(low, Math.min(high, v)); }

  document.addEventListener("DOMContentLoaded", function () {
    var el = document.getElementById("bh-map");
    if (!el) { return; }
    var source = el.getAttribute("data-source").split("?")[0];
    var form = document.getElementById("bh-map-filters");
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
      type: el.getAttribute("data-label-type"), commune: el.getAttribute("data-label-commune"),
      cluster: el.getAttribute("data-label-cluster") || "%(n)s"
    };
    var layer = L.layerGroup().addTo(map);
    var state = { map: map, layer: layer, markers: [], clusters: [], liste: [], total: null };
    window.bhMap = state;  /* for the browser tests */
    var filters = (el.getAttribute("data-source").split("?")[1] || "");
    var seq = 0;

    function view() {
      var b = map.getBounds();
      return "zoom=" + Math.floor(map.getZoom()) + "&bbox=" + [
        clamp(b.getWest(), -180, 180), clamp(b.getSouth(), -90, 90),
        clamp(b.getEast(), -180, 180), clamp(b.getNorth(), -90, 90)
      ].map(function (v) { return v.toFixed(5); }).join(",");
    }

    function show(d) {
      layer.clearLayers();
      state.clusters = d.clusters.map(function (c) { return clusterMarker(c, map, labels.cluster).addTo(layer); });
      state.markers = d.structures.map(function (s) {
        var colour = TYPE_COLOURS[s.type] || "#000091";
        var marker = L.circleMarker([s.lat, s.lng], {
          radius: 7, color: "#ffffff", weight: 1.5, fillColor: colour, fillOpacity: 0.9,
          className: "bh-marker bh-marker-" + s.type
        });
        marker.bindPopup(popup(s, labels));
        marker.structure = s;
        return marker.addTo(layer);
      });
      if (d.liste) {
        state.liste = d.liste;
        fillList(d.liste, d.in_view);
      }
      el.setAttribute("data-in-view", String(d.in_view));
    }

    /* The view's clusters and structures; ``fit``: frame the filtered structures first. */
    var fitPending = 0;  /* a filter's framing request: a move meanwhile must not discard it */
    function load(fit) {
      if (!fit && fitPending) { return Promise.resolve(); }  /* the framing loads the view itself */
      var mine = ++seq;
      if (fit) { fitPending = mine; }
      el.setAttribute("aria-busy", "true");  /* until the latest view is drawn */
      var url = source + "?" + (filters ? filters + "&" : "") + view() + (fit ? "&fit=1" : "") +
        (details && details.open ? "&liste=1" : "");
      var done = function () { if (fitPending === mine) { fitPending = 0; } };
      return fetch(url, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (d) {
        done();
        if (mine !== seq) { return; }  /* a later filter answered instead */
        if (d.total !== undefined) {  /* the filters' count (asked with fit) */
          state.total = d.total;
          el.setAttribute("data-markers", String(d.total));
        }
        if (fit && d.extent) {
          var before = view();
          map.fitBounds(d.extent, { padding: [20, 20], maxZoom: 12 });
          if (view() !== before) { return; }  /* moveend loads the framed view */
        }
        show(d);
        el.removeAttribute("aria-busy");
      }, function () { done(); if (mine === seq) { el.removeAttribute("aria-busy"); } });
    }
    /* the list under the map is asked for only while it is open */
    var details = document.querySelector("#bh-map-list details");
    if (details) { details.addEventListener("toggle", function () { if (details.open) { load(false); } }); }
    map.on("moveend", function () { load(false); });
    load(true);

    if (form) {
      var refresh = function () {
        filters = query(form);
        if (window.history && window.history.replaceState) {
          window.history.replaceState(null, "", window.location.pathname + (filters ? "?" + filters : ""));
        }
        var link = document.getElementById("bh-map-list-link");
        if (link) { link.href = link.getAttribute("href").split("?")[0] + (filters ? "?" + filters : ""); }
        load(true);
      };
      form.addEventListener("change", refresh);
      form.addEventListener("submit", function (event) { event.preventDefault(); refresh(); });
    }
  });
})();
