/* Saisie en grille (BHasile): a Tabulator spreadsheet driven by the sheet schema.
 * Config comes from <script type="application/json" id="bh-grid-config"> (no inline script: CSP).
 * Unsaved edits are kept per row key across pages, filters and sorts until saved or abandoned. */
(function () {
  "use strict";
  var cfgEl = document.getElementById("bh-grid-config");
  if (!cfgEl || !window.Tabulator) { return; }
  var cfg = JSON.parse(cfgEl.textContent);
  var T = cfg.texts || {};
  var decimalMark = /^en/.test(cfg.locale || "") ? "." : ",";  // as the user writes numbers
  /* A text of the user's language (from the server), its {names} filled from ``values``. */
  function t(key, values) {
    return String(T[key] || key).replace(/\{(\w+)\}/g, function (m, name) {
      return values && values[name] !== undefined ? String(values[name]) : m;
    });
  }
  var byField = {};
  cfg.columns.forEach(function (c) { byField[c.field] = c; });
  var original = {};  // row key -> field -> value as loaded
  var edits = {};     // row key -> field -> value typed, pasted or filled (unsaved)
  var meta = {};      // row key -> {v, pv}: versions the row was loaded at
  var errors = {};    // row key -> field ("_row" for the whole row) -> French message
  var statusEl = document.getElementById("bh-grid-status");
  var alertEl = document.getElementById("bh-grid-alert");
  var listEl = document.getElementById("bh-grid-errors");
  var saveBtn = document.getElementById("bh-grid-save");
  var table;

  function norm(v) { return v === null || v === undefined ? "" : String(v).trim(); }
  function isNumber(c) { return c.editor === "number" || c.editor === "integer"; }
  function say(text) { statusEl.textContent = text; }
  function warn(text) { alertEl.textContent = ""; window.setTimeout(function () { alertEl.textContent = text; }, 50); }
  function editable(field) { return !!(byField[field] && byField[field].editable); }

  function countEdits() {
    var n = 0;
    Object.keys(edits).forEach(function (k) { n += Object.keys(edits[k]).length; });
    if (saveBtn) {
      saveBtn.disabled = n === 0;
      document.getElementById("bh-grid-count").textContent = String(n);
    }
    return n;
  }

  /* Compare a row with what was loaded: remember its changed cells, redraw their marks. */
  function sync(row) {
    var data = row.getData(), k = data._k, changed = {};
    cfg.columns.forEach(function (c) {
      if (c.editable && norm(data[c.field]) !== norm(original[k] && original[k][c.field])) {
        changed[c.field] = data[c.field] === undefined ? null : data[c.field];
      }
    });
    if (Object.keys(changed).length) { edits[k] = changed; } else { delete edits[k]; }
    row.reformat();
    countEdits();
  }

  function cellFormatter(cell) {
    var data = cell.getRow().getData(), field = cell.getField(), el = cell.getElement();
    var k = data._k, value = cell.getValue();
    var dirty = byField[field].editable && norm(value) !== norm(original[k] && original[k][field]);
    var error = errors[k] && errors[k][field];
    el.classList.toggle("bh-dirty", dirty);
    el.classList.toggle("bh-error", !!error);
    el.classList.toggle("bh-readonly", !byField[field].editable);
    if (error) {
      el.setAttribute("aria-invalid", "true");
      el.setAttribute("title", error);
      el.setAttribute("aria-description", error);
    } else if (byField[field].reason) {  // why this cell cannot be changed (État, rôle, calcul)
      el.removeAttribute("aria-invalid");
      el.setAttribute("title", byField[field].reason);
      el.setAttribute("aria-description", byField[field].reason);
    } else {
      el.removeAttribute("aria-invalid");
      el.removeAttribute("title");
      el.removeAttribute("aria-description");
    }
    if (dirty) { el.setAttribute("aria-roledescription", t("edited")); } else { el.removeAttribute("aria-roledescription"); }
    return norm(value).replace(/&/g, "&amp;").replace(/</g, "&lt;");
  }

  function columnDef(c) {
    var def = {title: c.label, field: c.field, headerFilter: "input", headerSort: true,
               formatter: cellFormatter, visible: cfg.hidden.indexOf(c.field) < 0 || c.key,
               headerFilterPlaceholder: t("filter"), minWidth: 80, cssClass: c.companion ? "bh-companion" : ""};
    if (c.reason) { def.headerTooltip = c.label + " — " + c.reason; }
    if (c.key) { def.frozen = true; }
    if (isNumber(c)) { def.hozAlign = "right"; }
    if (c.editable) {
      def.editor = c.choices ? "list" : "input";
      if (c.choices) { def.editorParams = {values: [""].concat(c.choices), autocomplete: true, allowEmpty: true, listOnEmpty: true}; }
    }
    if (c.choices) { def.headerFilter = "list"; def.headerFilterParams = {values: [""].concat(c.choices)}; }
    return def;
  }

  /* Paste a tab-separated block (Excel, LibreOffice) from the active cell, editable cells only. */
  function pasteParser(clipboard) {
    var range = table.modules.selectRange.activeRange;
    if (!range) { return false; }
    var text = clipboard.replace(/\r\n?/g, "\n").replace(/\n$/, "");
    return text.split("\n").map(function (line) { return line.split("\t"); });
  }

  function pasteAction(lines) {
    var range = table.modules.selectRange.activeRange, bounds = range.getBounds();
    var rows = table.rowManager.activeRows, cols = table.columnManager.getVisibleColumnsByIndex();
    var r0 = rows.indexOf(bounds.start.row), c0 = cols.indexOf(bounds.start.column);
    var touched = [], skipped = 0;
    lines.forEach(function (cells, i) {
      var row = rows[r0 + i], update = {};
      if (!row) { skipped += cells.length; return; }
      cells.forEach(function (value, j) {
        var col = cols[c0 + j];
        if (col && editable(col.getField())) { update[col.getField()] = value; } else { skipped += 1; }
      });
      row.updateData(update);
      touched.push(row.getComponent());
    });
    touched.forEach(sync);
    say(t(skipped ? "pastedSkipped" : "pasted", {rows: touched.length, cells: skipped}));
    return touched;
  }

  function activeCells() {
    var ranges = table.getRanges();
    return ranges.length ? ranges[0].getStructuredCells() : [];
  }

  function fillDown() {
    var cells = activeCells();
    if (cells.length < 2) { say(t("fillNeedsRows")); return; }
    cells.slice(1).forEach(function (line) {
      line.forEach(function (cell, j) {
        if (editable(cell.getField())) { cell.setValue(cells[0][j].getValue()); }
      });
      sync(line[0].getRow());
    });
    say(t("filled"));
  }

  function clearCells() {
    activeCells().forEach(function (line) {
      line.forEach(function (cell) { if (editable(cell.getField())) { cell.setValue(""); } });
      if (line.length) { sync(line[0].getRow()); }
    });
  }

  function onKey(e) {
    var editing = table.modules.edit && table.modules.edit.currentCell;
    if (editing) { return; }
    var cells = activeCells();
    if (e.key === "F2" && cells.length) {
      e.preventDefault();
      cells[0][0].edit();
    } else if ((e.key === "d" || e.key === "D") && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      fillDown();
    } else if (e.key.length === 1 && !e.ctrlKey && !e.metaKey && !e.altKey && cells.length
               && editable(cells[0][0].getField())) {
      e.preventDefault();  // typing replaces the cell's content, as in a spreadsheet
      cells[0][0].edit();
      var input = cells[0][0].getElement().querySelector("input");
      if (input) { input.value = e.key; }
    } else if ((e.key === "Delete" || e.key === "Backspace") && cells.length) {
      e.preventDefault();
      clearCells();
    }
  }

  function loaded(url, params, response) {
    var fields = response.fields || [];
    response.data = (response.rows || []).map(function (values) {
      var row = {};
      fields.forEach(function (f, i) { row[f] = values[i]; });
      return row;
    });
    response.data.forEach(function (row) {
      cfg.columns.forEach(function (c) {
        if (isNumber(c) && typeof row[c.field] === "number") { row[c.field] = String(row[c.field]).replace(".", decimalMark); }
      });
      var k = row._k, snap = {};
      cfg.columns.forEach(function (c) { snap[c.field] = row[c.field]; });
      original[k] = snap;
      if (!edits[k]) { meta[k] = {v: row._v, pv: row._pv}; }
      Object.keys(edits[k] || {}).forEach(function (f) { row[f] = edits[k][f]; });
    });
    say(t("page", {page: response.page, pages: response.last_page, rows: response.last_row}));
    return response;
  }

  function showErrors(list) {
    errors = {};
    listEl.innerHTML = "";
    list.forEach(function (e) {
      errors[e.k] = errors[e.k] || {};
      errors[e.k][e.field || "_row"] = e.message;
      var li = document.createElement("li");
      var label = e.field && byField[e.field] ? byField[e.field].label : t("row");
      li.textContent = e.row + " — " + label + " : " + e.message;
      listEl.appendChild(li);
    });
    table.getRows().forEach(function (row) { row.reformat(); });
  }

  function post(url, body, keepalive) {
    return fetch(url, {method: "POST", credentials: "same-origin", keepalive: !!keepalive,
                       headers: {"Content-Type": "application/json", "X-CSRFToken": cfg.csrf, "Accept": "application/json"},
                       body: JSON.stringify(body)})
      .then(function (resp) {
        return resp.json().catch(function () { return {message: t("badAnswer", {status: resp.status})}; })
          .then(function (data) { data.status = resp.status; return data; });
      });
  }

  function reload() { return table.setData(); }

  function save() {
    var rows = Object.keys(edits).map(function (k) {
      return {k: k, v: meta[k] ? meta[k].v : null, pv: meta[k] ? meta[k].pv : null, values: edits[k]};
    });
    if (!rows.length) { return; }
    saveBtn.disabled = true;
    say(t("saving"));
    post(cfg.urls.save, {period: cfg.period, rows: rows}).then(function (res) {
      if (res.ok) {
        edits = {}; meta = {}; showErrors([]);
        alertEl.textContent = "";
        countEdits();
        reload().then(function () { say(res.message); });
        return;
      }
      showErrors(res.errors || []);
      var detail = (res.errors || []).slice(0, 5).map(function (e) {
        return e.row + " (" + (e.field && byField[e.field] ? byField[e.field].label : t("row")) + ") : " + e.message;
      }).join(" ; ");
      warn(res.message + (detail ? " " + detail : ""));
      countEdits();
    }).catch(function () { warn(t("noServer")); countEdits(); });
  }

  function exportUrl() {
    var params = new URLSearchParams(cfg.period);
    table.getHeaderFilters().forEach(function (f, i) {
      params.append("filter[" + i + "][field]", f.field);
      params.append("filter[" + i + "][value]", f.value);
    });
    table.getSorters().forEach(function (s, i) {
      params.append("sort[" + i + "][field]", s.field);
      params.append("sort[" + i + "][dir]", s.dir);
    });
    return cfg.urls.export + "?" + params.toString();
  }

  function bindToolbar() {
    if (saveBtn) { saveBtn.addEventListener("click", save); }
    var fill = document.getElementById("bh-grid-fill");
    if (fill) { fill.addEventListener("click", fillDown); }
    var revert = document.getElementById("bh-grid-revert");
    if (revert) {
      revert.addEventListener("click", function () {
        edits = {}; showErrors([]); countEdits();
        reload().then(function () { say(t("reverted")); });
      });
    }
    var undo = document.getElementById("bh-grid-undo");
    if (undo) {
      undo.addEventListener("click", function () {
        if (countEdits() && !window.confirm(t("confirmUndo"))) { return; }
        post(cfg.urls.undo, {}).then(function (res) {
          if (res.ok) {
            edits = {}; meta = {}; showErrors([]); countEdits();
            reload().then(function () { say(res.message); });
          } else { warn(res.message); }
        });
      });
    }
    document.getElementById("bh-grid-export").addEventListener("click", function (e) {
      e.currentTarget.href = exportUrl();
    });
    document.querySelectorAll(".bh-grid-columns input[data-column]").forEach(function (box) {
      box.addEventListener("change", function () {
        var field = box.getAttribute("data-column");
        if (box.checked) { table.showColumn(field); } else { table.hideColumn(field); }
        var hidden = [];
        document.querySelectorAll(".bh-grid-columns input[data-column]").forEach(function (b) {
          if (!b.checked) { hidden.push(b.getAttribute("data-column")); }
        });
        post(cfg.urls.columns, {hidden: hidden}, true);  /* kept even if the page is left or reloaded at once */
      });
    });
    window.addEventListener("beforeunload", function (e) {
      if (countEdits()) { e.preventDefault(); e.returnValue = ""; }
    });
  }

  /* ARIA: Tabulator makes its whole box the grid, footer buttons and page-size selector included,
     which a grid may not contain. The box becomes a named region; the focusable row holder is the
     grid, owning the header row group first, then the body: only rows inside the grid. */
  function ariaRoles() {
    var box = table.element;
    var holder = table.rowManager.element;
    var header = box.querySelector(".tabulator-header");
    var body = holder.querySelector(".tabulator-table");
    header.id = header.id || "bh-grid-header";
    body.id = body.id || "bh-grid-body";
    box.setAttribute("role", "region");
    box.removeAttribute("aria-owns");
    box.removeAttribute("aria-describedby");
    holder.setAttribute("role", "grid");
    holder.setAttribute("tabindex", "0");
    holder.setAttribute("aria-label", box.getAttribute("aria-label"));
    holder.setAttribute("aria-describedby", "bh-grid-help");
    holder.setAttribute("aria-owns", header.id + " " + body.id);
  }

  /* Header filters and the page-size selector carry no <label>: give each control its name. */
  function nameControls() {
    table.getColumns().forEach(function (col) {
      var title = col.getDefinition().title;
      var input = col.getElement().querySelector(".tabulator-header-filter input, .tabulator-header-filter select");
      if (input && title) { input.setAttribute("aria-label", t("filterOf", {title: title})); }
    });
    var size = document.querySelector("#bh-grid .tabulator-page-size");
    if (size) { size.setAttribute("aria-label", t("rowsPerPage")); }
  }

  table = new window.Tabulator("#bh-grid", {
    maxHeight: "70vh", layout: "fitDataFill", index: "_k", headerSortClickElement: "icon",
    ajaxURL: cfg.urls.data, ajaxParams: cfg.period, ajaxResponse: loaded,
    pagination: true, paginationMode: "remote", paginationSize: 100,
    paginationSizeSelector: [50, 100, 250, 500, 1000], paginationCounter: "rows",
    filterMode: "remote", sortMode: "remote", headerFilterLiveFilterDelay: 500,
    columns: cfg.columns.map(columnDef),
    rowHeader: {title: t("rowNumber"), resizable: false, frozen: true, width: 48, hozAlign: "center", formatter: "rownum",
                cssClass: "bh-row-header", headerSort: false, editor: false},
    selectableRange: 1, selectableRangeColumns: true, selectableRangeRows: true,
    selectableRangeClearCells: false, editTriggerEvent: "dblclick",
    clipboard: true, clipboardCopyStyled: false, clipboardCopyRowRange: "range",
    clipboardCopyConfig: {rowHeaders: false, columnHeaders: false, formatCells: false},
    clipboardPasteParser: pasteParser, clipboardPasteAction: pasteAction,
    placeholder: t("empty"),
    locale: "bh", langs: {bh: {pagination: {first: t("first"), first_title: t("firstTitle"), last: t("last"),
      last_title: t("lastTitle"), prev: t("prev"), prev_title: t("prevTitle"), next: t("next"),
      next_title: t("nextTitle"), page_size: t("rowsPerPage"),
      counter: {showing: t("showing"), of: t("of"), rows: t("rows"), pages: t("pages")}},
      headerFilters: {"default": t("filter")}, data: {loading: t("loading"), error: t("error")}}}
  });
  table.on("cellEdited", function (cell) {
    var k = cell.getRow().getData()._k;
    if (errors[k]) { delete errors[k][cell.getField()]; }  // corrected: the mark goes until the next save
    sync(cell.getRow());
  });
  table.on("tableBuilt", function () {
    ariaRoles();
    table.rowManager.element.addEventListener("keydown", onKey);
    nameControls();
  });
  bindToolbar();
  window.bhGrid = table;
}());
