/* Saved views toolbar (templates/bhasile/_vues.html): open, export, save, update, delete.
   A list's state is its query string and its columns; a grid's is window.bhasileGrid.getState()
   (the grid's interface), reapplied with applyState() when the page was opened from a view. */
(function () {
  "use strict";
  var box = document.getElementById("bh-vues");
  if (!box) { return; }
  var T = JSON.parse(document.getElementById("bh-vues-textes").textContent);
  var kind = box.getAttribute("data-kind");
  var select = document.getElementById("bh-vues-liste");
  var statusEl = document.getElementById("bh-vues-statut");
  var exportLink = document.getElementById("bh-vues-exporter");

  function t(key, values) {
    return String(T[key] || key).replace(/\{(\w+)\}/g, function (m, name) { return values && name in values ? values[name] : m; });
  }
  function say(text) { statusEl.textContent = ""; window.setTimeout(function () { statusEl.textContent = text; }, 30); }
  function chosen() { return select.options[select.selectedIndex]; }
  function optionName(opt) { return opt.textContent.replace(/\s*\(.*$/, "").trim(); }

  /* The grid exposes window.bhasileGrid = {getState, applyState} (grid.js). */
  function grid() { return window.bhasileGrid || null; }

  function gridReady(callback) {
    var table = window.bhGrid;
    if (!table || table.initialized) { callback(); return; }
    table.on("tableBuilt", function () { window.setTimeout(callback, 0); });
  }

  function listState() {
    var params = new URLSearchParams(window.location.search);
    var args = [];
    params.forEach(function (value, key) {
      if (key === "colonnes" || key === "vue" || key.indexOf("page") === 0 || value === "") { return; }
      args.push([key, value]);
    });
    var state = {args: args};
    var boxes = document.querySelectorAll("#bh-vues-colonnes-form input[data-column]");
    var shown = [];
    boxes.forEach(function (b) { if (b.checked) { shown.push(b.value); } });
    if (shown.length && shown.length < boxes.length) { state.colonnes = shown; }
    return state;
  }

  function pageState() {
    if (kind !== "grille") { return listState(); }
    var g = grid();
    if (!g) { return null; }
    var state = g.getState();
    var params = new URLSearchParams(window.location.search);
    var periode = {};
    ["annee", "debut", "fin"].forEach(function (k) { if (params.get(k)) { periode[k] = params.get(k); } });
    if (Object.keys(periode).length) { state.periode = periode; }
    return state;
  }

  function send(url, body) {
    return fetch(url, {method: "POST", credentials: "same-origin",
                       headers: {"Content-Type": "application/json", "Accept": "application/json",
                                 "X-CSRFToken": box.getAttribute("data-csrf")},
                       body: JSON.stringify(body)})
      .then(function (resp) { return resp.json().catch(function () { return {ok: false, message: String(resp.status)}; }); });
  }

  function open() {
    var opt = chosen();
    if (!opt || !opt.value) { say(t("choose")); select.focus(); return; }
    window.location.assign(opt.getAttribute("data-url"));
  }

  select.addEventListener("change", function () {
    var opt = chosen();
    if (!exportLink) { return; }
    if (opt && opt.value) { exportLink.href = opt.getAttribute("data-export"); exportLink.removeAttribute("aria-disabled"); }
    else { exportLink.href = "#"; exportLink.setAttribute("aria-disabled", "true"); }
  });
  select.addEventListener("keydown", function (e) { if (e.key === "Enter") { e.preventDefault(); open(); } });
  document.getElementById("bh-vues-ouvrir").addEventListener("click", open);
  if (exportLink) {
    exportLink.addEventListener("click", function (e) {
      if (exportLink.getAttribute("aria-disabled") === "true") { e.preventDefault(); say(t("choose")); }
    });
  }

  var form = document.getElementById("bh-vues-form");
  if (form) {
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var name = document.getElementById("bh-vues-nom");
      if (!name.value.trim()) { say(t("noName")); name.focus(); return; }
      var state = pageState();
      if (!state) { say(t("noGrid")); return; }
      var body = {page: box.getAttribute("data-page"), nom: name.value.trim(), etat: state,
                  partagee: document.getElementById("bh-vues-partager").checked};
      var role = document.getElementById("bh-vues-role");
      if (role && role.value) { body.role_defaut = role.value; }
      send(box.getAttribute("data-create"), body).then(function (res) {
        if (res.ok) { say(res.message); window.location.assign(res.vue.url); } else { say(res.message); }
      }).catch(function () { say(t("noServer")); });
    });
  }

  var update = document.getElementById("bh-vues-maj");
  if (update) {
    update.addEventListener("click", function () {
      var opt = chosen();
      if (!opt || !opt.value) { say(t("choose")); return; }
      if (!opt.getAttribute("data-mine")) { say(t("notMine")); return; }
      var state = pageState();
      if (!state) { say(t("noGrid")); return; }
      send(opt.getAttribute("data-update"), {etat: state}).then(function (res) {
        if (res.ok) { say(res.message); window.location.assign(res.vue.url); } else { say(res.message); }
      }).catch(function () { say(t("noServer")); });
    });
  }
  var remove = document.getElementById("bh-vues-supprimer");
  if (remove) {
    remove.addEventListener("click", function () {
      var opt = chosen();
      if (!opt || !opt.value) { say(t("choose")); return; }
      if (!opt.getAttribute("data-mine")) { say(t("notMine")); return; }
      if (!window.confirm(t("confirmDelete", {name: optionName(opt)}))) { return; }
      send(opt.getAttribute("data-delete"), {}).then(function (res) {
        if (res.ok) { opt.remove(); select.value = ""; select.dispatchEvent(new Event("change")); }
        say(res.message);
      }).catch(function () { say(t("noServer")); });
    });
  }

  /* a grid page opened from a view: apply its state once the grid is built */
  var stateEl = document.getElementById("bh-vues-etat");
  if (kind === "grille" && stateEl) {
    gridReady(function () {
      var g = grid();
      if (g) {
        g.applyState(JSON.parse(stateEl.textContent));
        box.setAttribute("data-applied", "oui");
        say(t("applied", {name: optionName(chosen())}));
      }
    });
  }
}());
