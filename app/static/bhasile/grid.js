/* Saisie en grille (BHasile): a Tabulator spreadsheet driven by the sheet schema.
 * Config comes from <script type="application/json" id="bh-grid-config"> (no inline script: CSP).
 * Unsaved edits are kept per row key across pages, filters and sorts until saved or abandoned;
 * they can be undone and redone (Ctrl+Z / Ctrl+Y) level by level before the save.
 * Read-only N−1 columns never sit inside the editable block: they form a group after it, shown
 * on demand, and each N−1 value is also in its cell's tooltip. */
(function () {
  "use strict";
  var cfgEl = document.getElementById("bh-grid-config");
  if (!cfgEl || !window.Tabulator) { return; }
  var cfg = JSON.parse(cfgEl.textContent);
  /* The first page's rows come inside the HTML (no request before the first draw); taken once. */
  var firstEl = document.getElementById("bh-grid-rows");
  var firstPage = firstEl ? JSON.parse(firstEl.textContent) : null;
  var ROW_HEIGHT = 38;  // px: one line of text and the cell's padding (grid.css); no row is measured
  var T = cfg.texts || {};
  var english = /^en/.test(cfg.locale || "");
  var decimalMark = english ? "." : ",";  // as the user writes numbers
  var numberLocale = english ? "en-GB" : "fr-FR";
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
  var history = [], future = [];  // batches of unsaved changes [{k, field, before, after}]
  var applying = false;           // true while the script itself sets cells (no history entry)
  var valueFilters = {};          // field -> list of shown values (Excel-like value filter)
  var search = "";
  var showN1 = false, showTotals = false;
  var frozen = ["code_dna"];
  var order = null, widths = {}, userHidden = cfg.hidden.slice();
  var statusEl = document.getElementById("bh-grid-status");
  var alertEl = document.getElementById("bh-grid-alert");
  var listEl = document.getElementById("bh-grid-errors");
  var sumEl = document.getElementById("bh-grid-sum");
  var saveBtn = document.getElementById("bh-grid-save");
  var table;

  function norm(v) { return v === null || v === undefined ? "" : String(v).trim(); }
  function isNumber(c) { return c.editor === "number" || c.editor === "integer"; }
  function isN1(field) { return /__n1$/.test(field); }
  function say(text) { statusEl.textContent = text; }
  function warn(text) { alertEl.textContent = ""; window.setTimeout(function () { alertEl.textContent = text; }, 50); }
  function editable(field) { return !!(byField[field] && byField[field].editable); }
  function escapeHtml(s) { return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/"/g, "&quot;"); }

  /* A number as typed or loaded ("1 234,5", "12 %", "1603037,12 €"), or null. */
  function toNum(v) {
    var s = norm(v).replace(/[\s\u00a0\u202f€%]/g, "");
    if (decimalMark === ",") { s = s.replace(/\./g, "").replace(",", "."); }
    if (s === "" || !/^[-+]?\d*\.?\d+(e[-+]?\d+)?$/i.test(s)) { return null; }
    return Number(s);
  }
  var formats = {};
  function formatNumber(n, c) {
    var key = (c && c.editor) + (c && c.unit) + (c && c.group);
    if (!formats[key]) {
      formats[key] = new Intl.NumberFormat(numberLocale, {
        maximumFractionDigits: c && c.editor === "integer" ? 0 : 7,
        minimumFractionDigits: c && c.unit === "€" ? 2 : 0,
        useGrouping: !c || c.group !== false});
    }
    return formats[key].format(n) + (c && c.unit ? "\u00a0" + c.unit : "");
  }
  /* A cell's value as shown: numbers in the user's language, grouped, with € or %. */
  function display(c, value) {
    if (c && isNumber(c) && c.group !== false) {
      var n = toNum(value);
      if (n !== null) { return formatNumber(n, c); }
    }
    return norm(value);
  }
  function numberText(n) { return String(Math.round(n * 1e9) / 1e9).replace(".", decimalMark); }

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

  function rowByKey(k) {
    var found = null;
    table.rowManager.rows.some(function (r) { if (r.data._k === k) { found = r.getComponent(); } return !!found; });
    return found;
  }

  /* Set cells by row key (rows of other pages keep their edits in ``edits``); ``record``: one
     undo level. Returns the changes made. */
  function setCells(list, record) {
    var done = [], rows = {};
    applying = true;
    try {
      list.forEach(function (ch) {
        var row = rowByKey(ch.k);
        var before;
        if (row) {
          before = row.getData()[ch.field];
          if (norm(before) === norm(ch.value)) { return; }
          var upd = {}; upd[ch.field] = ch.value;
          row.update(upd);
          rows[ch.k] = row;
        } else {
          before = edits[ch.k] && ch.field in edits[ch.k] ? edits[ch.k][ch.field] : (original[ch.k] || {})[ch.field];
          edits[ch.k] = edits[ch.k] || {};
          if (norm(ch.value) === norm((original[ch.k] || {})[ch.field])) { delete edits[ch.k][ch.field]; } else { edits[ch.k][ch.field] = ch.value; }
          if (!Object.keys(edits[ch.k]).length) { delete edits[ch.k]; }
        }
        if (errors[ch.k]) { delete errors[ch.k][ch.field]; }
        done.push({k: ch.k, field: ch.field, before: before, after: ch.value});
      });
    } finally { applying = false; }
    Object.keys(rows).forEach(function (k) { sync(rows[k]); });
    countEdits();
    if (record && done.length) { history.push(done); future = []; }
    selectionStats();
    return done;
  }

  function undoEdit() {
    var batch = history.pop();
    if (!batch) { say(t("nothingToUndo")); return; }
    setCells(batch.slice().reverse().map(function (ch) { return {k: ch.k, field: ch.field, value: ch.before}; }), false);
    future.push(batch);
    say(t("undone", {n: batch.length}));
  }
  function redoEdit() {
    var batch = future.pop();
    if (!batch) { say(t("nothingToRedo")); return; }
    setCells(batch.map(function (ch) { return {k: ch.k, field: ch.field, value: ch.after}; }), false);
    history.push(batch);
    say(t("redone", {n: batch.length}));
  }

  /* --- quick formulas: "=120+15", "=B3*2", "=(A1+A2)/2", "=10%": + - * / ( ) %, numbers as the
     user writes them, references letter + row number of the page. An explicit parser (no eval). */
  function letterOf(i) {
    var s = ""; i += 1;
    while (i > 0) { var m = (i - 1) % 26; s = String.fromCharCode(65 + m) + s; i = Math.floor((i - 1) / 26); }
    return s;
  }
  function dataColumns() {
    return table.columnManager.getVisibleColumnsByIndex().filter(function (c) { return !!c.getField(); });
  }
  function refValue(ref) {
    var m = /^([A-Z]{1,2})(\d+)$/.exec(ref);
    var cols = dataColumns(), idx = -1;
    cols.forEach(function (c, i) { if (letterOf(i) === m[1]) { idx = i; } });
    var rows = table.rowManager.getDisplayRows(), r = rows[Number(m[2]) - 1];
    if (idx < 0 || !r) { throw new Error(t("formulaRef", {ref: ref})); }
    var v = r.getData()[cols[idx].getField()];
    if (norm(v) === "") { return 0; }
    var n = toNum(v);
    if (n === null) { throw new Error(t("formulaRef", {ref: ref})); }
    return n;
  }
  function evaluate(text) {
    var src = String(text).replace(/^=/, "").replace(/[\s\u00a0\u202f]/g, "").toUpperCase(), pos = 0;
    function peek() { return src.charAt(pos); }
    function fail() { throw new Error(t("formulaBad", {text: text})); }
    function primary() {
      var m, rest = src.slice(pos);
      if (peek() === "(") {
        pos += 1; var v = expr();
        if (peek() !== ")") { fail(); }
        pos += 1; return v;
      }
      if ((m = /^[A-Z]{1,2}\d+/.exec(rest))) { pos += m[0].length; return refValue(m[0]); }
      if ((m = /^\d+(?:[.,]\d+)?/.exec(rest))) { pos += m[0].length; return Number(m[0].replace(",", ".")); }
      return fail();
    }
    function factor() {
      if (peek() === "-") { pos += 1; return -factor(); }
      if (peek() === "+") { pos += 1; return factor(); }
      var v = primary();
      while (peek() === "%") { pos += 1; v = v / 100; }
      return v;
    }
    function term() {
      var v = factor();
      while (peek() === "*" || peek() === "/") {
        var op = src.charAt(pos); pos += 1;
        var w = factor();
        if (op === "/" && w === 0) { throw new Error(t("formulaZero")); }
        v = op === "*" ? v * w : v / w;
      }
      return v;
    }
    function expr() {
      var v = term();
      while (peek() === "+" || peek() === "-") {
        var op = src.charAt(pos); pos += 1;
        v = op === "+" ? v + term() : v - term();
      }
      return v;
    }
    if (!src) { fail(); }
    var value = expr();
    if (pos !== src.length || !isFinite(value)) { fail(); }
    return value;
  }
  function isFormula(v) { return typeof v === "string" && /^=/.test(v.trim()) && v.trim().length > 1; }
  /* The value a typed or pasted text stands for: a formula's result, else the text itself. */
  function resolve(value) {
    if (!isFormula(value)) { return value; }
    return numberText(evaluate(value.trim()));
  }

  function cellFormatter(cell) {
    var data = cell.getRow().getData(), field = cell.getField(), el = cell.getElement();
    var k = data._k, value = cell.getValue(), c = byField[field];
    var dirty = c.editable && norm(value) !== norm(original[k] && original[k][field]);
    var error = errors[k] && errors[k][field];
    el.classList.toggle("bh-dirty", dirty);
    el.classList.toggle("bh-error", !!error);
    el.classList.toggle("bh-readonly", !c.editable);
    var n1 = byField[field + "__n1"] ? t("previousYear", {value: display(byField[field + "__n1"], data[field + "__n1"]) || "—"}) : "";
    var tip = error || [c.reason, n1].filter(Boolean).join(" — ");
    if (error) { el.setAttribute("aria-invalid", "true"); } else { el.removeAttribute("aria-invalid"); }
    if (tip) { el.setAttribute("title", tip); el.setAttribute("aria-description", tip); } else {
      el.removeAttribute("title"); el.removeAttribute("aria-description");
    }
    if (dirty) { el.setAttribute("aria-roledescription", t("edited")); } else { el.removeAttribute("aria-roledescription"); }
    return document.createTextNode(display(c, value));  // a text node: no HTML parsed per cell
  }

  function sumCalc(values) {
    var s = 0, any = false;
    values.forEach(function (v) { var n = toNum(v); if (n !== null) { s += n; any = true; } });
    return any ? s : "";
  }

  function titleFormatter(cell) {
    var col = cell.getColumn(), field = col.getField(), c = byField[field];
    var letter = '<span class="bh-col-letter" aria-hidden="true"></span> ';
    var active = valueFilters[field] ? " bh-vf-active" : "";
    return letter + escapeHtml(c.label) + ' <button type="button" class="bh-vf-btn' + active + '" data-field="' +
      escapeHtml(field) + '" aria-label="' + escapeHtml(t("valueFilterOf", {title: c.label})) + '" title="' +
      escapeHtml(t("valueFilterOf", {title: c.label})) + '">▾</button>';
  }

  function columnDef(c) {
    var def = {title: c.label, field: c.field, headerFilter: "input", headerSort: true,
               formatter: cellFormatter, titleFormatter: titleFormatter,
               visible: c.key || (isN1(c.field) ? showN1 : userHidden.indexOf(c.field) < 0),
               headerFilterPlaceholder: t("filter"), minWidth: 80,
               cssClass: (c.companion ? "bh-companion" : "") + (isN1(c.field) ? " bh-n1" : "")};
    def.width = widths[c.field] || c.width || undefined;
    if (c.reason) { def.headerTooltip = c.label + " — " + c.reason; }
    if (frozen.indexOf(c.field) >= 0) { def.frozen = true; }
    if (isNumber(c)) {
      def.hozAlign = "right";
      if (c.group !== false) {
        def.bottomCalc = sumCalc;
        def.bottomCalcFormatter = function (cell) { var v = cell.getValue(); return v === "" ? "" : escapeHtml(formatNumber(v, c)); };
      }
    }
    if (c.editable) {
      def.editor = c.choices ? "list" : "input";
      if (c.choices) { def.editorParams = {values: [""].concat(c.choices), autocomplete: true, allowEmpty: true, listOnEmpty: true}; }
    }
    if (c.choices) { def.headerFilter = "list"; def.headerFilterParams = {values: [""].concat(c.choices)}; }
    return def;
  }

  /* Columns in the user's order; N−1 columns after every other one (never inside the block). */
  function orderedColumns() {
    var main = cfg.columns.filter(function (c) { return !isN1(c.field); });
    var n1 = cfg.columns.filter(function (c) { return isN1(c.field); });
    if (order) {
      var pos = {};
      order.forEach(function (f, i) { pos[f] = i; });
      var rank = function (c) { return pos[c.field] === undefined ? 1e6 + cfg.columns.indexOf(c) : pos[c.field]; };
      main.sort(function (a, b) { return rank(a) - rank(b); });
      n1.sort(function (a, b) { return rank(a) - rank(b); });
    }
    var cols = main.concat(n1);
    // frozen columns first, in their order (Tabulator freezes a left block only)
    return cols.filter(function (c) { return frozen.indexOf(c.field) >= 0; })
      .concat(cols.filter(function (c) { return frozen.indexOf(c.field) < 0; }));
  }

  /* Rebuild the columns from the state (order, widths, frozen, N−1 group), keeping filters and sort. */
  function rebuild() {
    var filters = table.getHeaderFilters(), sorters = table.getSorters();
    table.setColumns(orderedColumns().map(columnDef));
    filters.forEach(function (f) { if (byField[f.field]) { table.setHeaderFilterValue(f.field, f.value); } });
    if (sorters.length) { table.setSort(sorters.map(function (s) { return {column: s.field, dir: s.dir}; })); }
    nameControls();
    refreshLetters();
  }

  /* Paste a tab-separated block (Excel, LibreOffice) from the active cell onto the visible
     columns, one cell for one cell: a read-only or forbidden cell is left as it is and named. */
  function pasteParser(clipboard) {
    var range = table.modules.selectRange.activeRange;
    if (!range) { return false; }
    var text = clipboard.replace(/\r\n?/g, "\n").replace(/\n$/, "");
    return text.split("\n").map(function (line) { return line.split("\t"); });
  }

  function pasteAction(lines) {
    var range = table.modules.selectRange.activeRange, bounds = range.getBounds();
    var rows = table.rowManager.getDisplayRows(), cols = table.columnManager.getVisibleColumnsByIndex();
    var r0 = rows.indexOf(bounds.start.row._row || bounds.start.row), c0 = cols.indexOf(bounds.start.column._column || bounds.start.column);
    if (r0 < 0) { r0 = rows.map(function (r) { return r.getComponent(); }).indexOf(bounds.start.row); }
    if (c0 < 0) { c0 = cols.map(function (c) { return c.getComponent(); }).indexOf(bounds.start.column); }
    var changes = [], refused = [], beyond = 0, bad = [];
    lines.forEach(function (cells, i) {
      var row = rows[r0 + i];
      if (!row) { beyond += cells.length; return; }
      var k = row.getData()._k;
      cells.forEach(function (value, j) {
        var col = cols[c0 + j];
        if (!col || !col.getField()) { beyond += 1; return; }
        var field = col.getField();
        if (!editable(field)) { refused.push(byField[field].label + " (" + t("rowN", {n: r0 + i + 1}) + ")"); return; }
        try { changes.push({k: k, field: field, value: resolve(value)}); } catch (e) { bad.push(e.message); }
      });
    });
    var done = setCells(changes, true);
    var message = t("pasted", {cells: done.length});
    if (refused.length) { message += " " + t("pasteRefused", {n: refused.length, cells: refused.slice(0, 6).join(", ") + (refused.length > 6 ? "…" : "")}); }
    if (beyond) { message += " " + t("pasteBeyond", {n: beyond}); }
    if (bad.length) { message += " " + bad[0]; }
    say(message);
    if (refused.length || bad.length) { warn(message); }
    return [];
  }

  function activeCells() {
    var ranges = table.getRanges();
    return ranges.length ? ranges[0].getStructuredCells() : [];
  }

  function fillDown() {
    var cells = activeCells();
    if (cells.length < 2) { say(t("fillNeedsRows")); return; }
    var changes = [];
    cells.slice(1).forEach(function (line) {
      line.forEach(function (cell, j) {
        if (editable(cell.getField())) { changes.push({k: cell.getRow().getData()._k, field: cell.getField(), value: cells[0][j].getValue()}); }
      });
    });
    setCells(changes, true);
    say(t("filled"));
  }

  function clearCells() {
    var changes = [];
    activeCells().forEach(function (line) {
      line.forEach(function (cell) { if (editable(cell.getField())) { changes.push({k: cell.getRow().getData()._k, field: cell.getField(), value: ""}); } });
    });
    var done = setCells(changes, true);
    say(t("cleared", {n: done.length}));
  }

  /* --- selection: count, sum, average (as a spreadsheet's status bar) --- */
  function selectionStats() {
    if (!sumEl || !table) { return; }
    var count = 0, numbers = 0, sum = 0;
    activeCells().forEach(function (line) {
      line.forEach(function (cell) {
        var v = cell.getValue();
        if (norm(v) === "") { return; }
        count += 1;
        var c = byField[cell.getField()], n = c && isNumber(c) ? toNum(v) : null;
        if (n !== null) { numbers += 1; sum += n; }
      });
    });
    if (count < 2) { sumEl.textContent = ""; return; }
    var parts = [t("statCount", {n: count})];
    if (numbers) {
      parts.push(t("statSum", {n: formatNumber(sum)}));
      parts.push(t("statAverage", {n: formatNumber(Math.round(sum / numbers * 100) / 100)}));
    }
    sumEl.textContent = parts.join(" — ");
  }

  /* --- moving as in a spreadsheet --- */
  function position() {
    var r = table.modules.selectRange.activeRange;
    return r ? {row: r.start.row, col: r.start.col} : null;
  }
  function goTo(ri, ci) {
    var sr = table.modules.selectRange, rows = table.rowManager.getDisplayRows();
    var cols = table.columnManager.getVisibleColumnsByIndex(), first = cols[0] && !cols[0].getField() ? 1 : 0;
    ri = Math.max(0, Math.min(rows.length - 1, ri));
    ci = Math.max(first, Math.min(cols.length - 1, ci));
    if (!rows.length || !sr.activeRange) { return; }
    sr.activeRange.setStart(ri, ci);
    sr.activeRange.setEnd(ri, ci);
    rows[ri].getComponent().scrollTo(undefined, false).catch(function () {});
    if (cols[ci].getField()) { cols[ci].getComponent().scrollTo(undefined, false).catch(function () {}); }
    sr.layoutElement();
    sr.restoreFocus();
    selectionStats();
  }
  function move(dr, dc) {
    var p = position();
    if (p) { goTo(p.row + dr, p.col + dc); }
  }
  function lastCol() { return table.columnManager.getVisibleColumnsByIndex().length - 1; }

  function onKey(e) {
    if (!table.rowManager.element.contains(e.target)) { return; }  // header filters, value-filter buttons
    var editing = table.modules.edit && table.modules.edit.currentCell;
    var ctrl = e.ctrlKey || e.metaKey, key = e.key;
    if (editing) {
      var input = document.activeElement, list = byField[editing.column.getField()] && byField[editing.column.getField()].choices;
      if ((key === "Enter" && !list) || key === "Tab") {  // commit (on blur), then move at once
        e.preventDefault();
        e.stopPropagation();
        if (input && input.blur) { input.blur(); }
        if (!(table.modules.edit && table.modules.edit.currentCell)) {
          if (key === "Enter") { move(e.shiftKey ? -1 : 1, 0); } else { move(0, e.shiftKey ? -1 : 1); }
        }
      } else if (key === "Enter") {  // a list: its own Enter picks the item, then the cursor goes down
        var up = e.shiftKey;
        window.setTimeout(function () {
          if (!(table.modules.edit && table.modules.edit.currentCell)) { move(up ? -1 : 1, 0); }
        }, 0);
      }
      return;
    }
    var cells = activeCells(), p = position();
    if (!p) { return; }
    if (key === "Enter") {
      e.preventDefault(); e.stopPropagation();
      move(e.shiftKey ? -1 : 1, 0);
    } else if (key === "Tab" && !ctrl) {
      var at = p.col, last = lastCol();
      if ((!e.shiftKey && at >= last) || (e.shiftKey && at <= 1)) { return; }  // Tab leaves the grid at its edge
      e.preventDefault(); e.stopPropagation();
      move(0, e.shiftKey ? -1 : 1);
    } else if (key === "Home" || key === "End") {
      e.preventDefault(); e.stopPropagation();
      var row = ctrl ? (key === "Home" ? 0 : table.rowManager.getDisplayRows().length - 1) : p.row;
      goTo(row, key === "Home" ? 1 : lastCol());
    } else if (ctrl && !e.shiftKey && (key === "z" || key === "Z")) {
      e.preventDefault(); e.stopPropagation(); undoEdit();
    } else if (ctrl && (key === "y" || key === "Y" || (e.shiftKey && (key === "z" || key === "Z")))) {
      e.preventDefault(); e.stopPropagation(); redoEdit();
    } else if (key === "F2" && cells.length) {
      e.preventDefault();
      cells[0][0].edit();
    } else if ((key === "d" || key === "D") && ctrl) {
      e.preventDefault();
      fillDown();
    } else if (key.length === 1 && !ctrl && !e.altKey && cells.length && editable(cells[0][0].getField())) {
      e.preventDefault();  // typing replaces the cell's content, as in a spreadsheet
      cells[0][0].edit();
      var box = cells[0][0].getElement().querySelector("input");
      if (box) { box.value = key; }
    } else if ((key === "Delete" || key === "Backspace") && cells.length) {
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

  /* --- conflicts: mine and theirs side by side, chosen cell by cell --- */
  var conflictEl = document.getElementById("bh-grid-conflicts");
  function showConflicts(list) {
    if (!conflictEl) { return; }
    conflictEl.innerHTML = "";
    var cells = [];
    list.forEach(function (c) {
      Object.keys(c.fields || {}).forEach(function (f) { cells.push({k: c.k, row: c.row, field: f, info: c.fields[f], c: c}); });
    });
    if (!cells.length) { conflictEl.hidden = true; return; }
    var h = document.createElement("h2");
    h.className = "fr-h6"; h.textContent = t("conflictTitle");
    var tbl = document.createElement("table");
    tbl.className = "bh-conflict-table";
    tbl.innerHTML = "<caption class='fr-sr-only'>" + escapeHtml(t("conflictTitle")) + "</caption><thead><tr><th scope='col'>" +
      escapeHtml(t("row")) + "</th><th scope='col'>" + escapeHtml(t("column")) + "</th><th scope='col'>" + escapeHtml(t("mine")) +
      "</th><th scope='col'>" + escapeHtml(t("theirs")) + "</th></tr></thead>";
    var body = document.createElement("tbody");
    cells.forEach(function (x, i) {
      var c = byField[x.field] || {label: x.field}, mine = edits[x.k] ? edits[x.k][x.field] : "";
      var tr = document.createElement("tr");
      tr.setAttribute("data-k", x.k); tr.setAttribute("data-field", x.field);
      tr.innerHTML = "<td>" + escapeHtml(x.row) + "</td><td>" + escapeHtml(c.label) + "</td>" +
        "<td><label><input type='radio' name='bh-cf-" + i + "' value='mine' checked> " + escapeHtml(display(c, mine) || "—") + "</label></td>" +
        "<td><label><input type='radio' name='bh-cf-" + i + "' value='theirs'> " + escapeHtml(display(c, x.info.theirs) || "—") +
        (x.info.by ? " <small>(" + escapeHtml(x.info.by) + ")</small>" : "") + "</label></td>";
      body.appendChild(tr);
    });
    tbl.appendChild(body);
    var btn = document.createElement("button");
    btn.type = "button"; btn.className = "fr-btn fr-btn--sm"; btn.id = "bh-grid-conflict-apply";
    btn.textContent = t("conflictApply");
    btn.addEventListener("click", function () {
      var changes = [];
      body.querySelectorAll("tr").forEach(function (tr) {
        var k = tr.getAttribute("data-k"), f = tr.getAttribute("data-field");
        var x = cells.filter(function (y) { return y.k === k && y.field === f; })[0];
        var theirs = x.info.theirs === null || x.info.theirs === undefined ? "" : String(x.info.theirs);
        if (isNumber(byField[f] || {}) && theirs !== "") { theirs = theirs.replace(".", decimalMark); }
        original[k] = original[k] || {};
        var mine = edits[k] ? edits[k][f] : undefined;
        original[k][f] = theirs;  // the stored value is now theirs: keeping mine stays an edit
        if (tr.querySelector("input[value=theirs]").checked) { changes.push({k: k, field: f, value: theirs}); }
        else if (mine !== undefined) { changes.push({k: k, field: f, value: mine}); }
      });
      list.forEach(function (c) {  // the row is now known at its current versions
        meta[c.k] = {v: c.v === undefined ? (meta[c.k] || {}).v : c.v, pv: c.pv === undefined ? (meta[c.k] || {}).pv : c.pv};
        if (errors[c.k]) { delete errors[c.k]._row; }
      });
      setCells(changes, true);
      Object.keys(edits).forEach(function (k) {  // cells whose chosen value equals the stored one are no longer edits
        Object.keys(edits[k]).forEach(function (f) { if (norm(edits[k][f]) === norm((original[k] || {})[f])) { delete edits[k][f]; } });
        if (!Object.keys(edits[k]).length) { delete edits[k]; }
      });
      table.getRows().forEach(function (r) { sync(r); });
      conflictEl.hidden = true; conflictEl.innerHTML = "";
      alertEl.textContent = "";
      showErrors([]);
      say(t("conflictDone", {n: countEdits()}));
    });
    conflictEl.appendChild(h); conflictEl.appendChild(tbl); conflictEl.appendChild(btn);
    conflictEl.hidden = false;
  }

  function save() {
    var rows = Object.keys(edits).map(function (k) {
      return {k: k, v: meta[k] ? meta[k].v : null, pv: meta[k] ? meta[k].pv : null, values: edits[k]};
    });
    if (!rows.length) { return; }
    saveBtn.disabled = true;
    say(t("saving"));
    post(cfg.urls.save, {period: cfg.period, rows: rows}).then(function (res) {
      if (res.ok) {
        edits = {}; meta = {}; history = []; future = []; showErrors([]);
        alertEl.textContent = "";
        if (conflictEl) { conflictEl.hidden = true; conflictEl.innerHTML = ""; }
        countEdits();
        reload().then(function () { say(res.message); });
        return;
      }
      say(t("saveRefused"));
      showErrors(res.errors || []);
      if (res.status === 409 && res.conflicts) { showConflicts(res.conflicts); }
      var detail = (res.errors || []).slice(0, 5).map(function (e) {
        return e.row + " (" + (e.field && byField[e.field] ? byField[e.field].label : t("row")) + ") : " + e.message;
      }).join(" ; ");
      warn((res.message || t("badAnswer", {status: res.status})) + (detail ? " " + detail : ""));
      countEdits();
    }).catch(function () { say(t("saveRefused")); warn(t("noServer")); countEdits(); });
  }

  function queryParams() {
    var params = new URLSearchParams(cfg.period);
    table.getHeaderFilters().forEach(function (f, i) {
      params.append("filter[" + i + "][field]", f.field);
      params.append("filter[" + i + "][value]", f.value);
    });
    table.getSorters().forEach(function (s, i) {
      params.append("sort[" + i + "][field]", s.field);
      params.append("sort[" + i + "][dir]", s.dir);
    });
    if (search) { params.append("q", search); }
    if (Object.keys(valueFilters).length) { params.append("valeurs", JSON.stringify(valueFilters)); }
    return params;
  }
  function exportUrl() { return cfg.urls.export + "?" + queryParams().toString(); }

  /* --- Excel-like value filter: distinct values of a column (with counts) to tick --- */
  var popup = null;
  function closePopup() { if (popup) { popup.remove(); popup = null; } }
  function openValueFilter(button) {
    closePopup();
    var field = button.getAttribute("data-field"), c = byField[field];
    var params = queryParams(), others = {};
    Object.keys(valueFilters).forEach(function (f) { if (f !== field) { others[f] = valueFilters[f]; } });
    params.delete("valeurs");
    if (Object.keys(others).length) { params.append("valeurs", JSON.stringify(others)); }
    params.append("field", field);
    popup = document.createElement("div");
    popup.className = "bh-vf"; popup.setAttribute("role", "dialog");
    popup.setAttribute("aria-label", t("valueFilterOf", {title: c.label}));
    popup.innerHTML = "<p class='fr-text--sm fr-mb-1w'>" + escapeHtml(t("loading")) + "</p>";
    document.body.appendChild(popup);
    var box = button.getBoundingClientRect();
    popup.style.top = (window.scrollY + box.bottom + 4) + "px";
    popup.style.left = Math.max(8, window.scrollX + box.left - 200) + "px";
    fetch(cfg.urls.values + "?" + params.toString(), {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.json(); })
      .then(function (res) {
        if (!popup) { return; }
        var chosen = valueFilters[field];
        var html = "<fieldset class='bh-vf-list'><legend class='fr-text--sm'>" + escapeHtml(t("valueFilterOf", {title: c.label})) + "</legend>";
        (res.values || []).forEach(function (item, i) {
          var v = item.value === null ? "" : String(item.value);
          var shown = v === "" ? t("blank") : display(c, isNumber(c) ? v.replace(".", decimalMark) : v);
          var checked = !chosen || chosen.indexOf(v) >= 0 ? " checked" : "";
          html += "<div><input type='checkbox' id='bh-vf-" + i + "' data-value='" + escapeHtml(v) + "'" + checked + ">" +
            " <label for='bh-vf-" + i + "'>" + escapeHtml(shown) + " <span class='bh-muted'>(" + item.count + ")</span></label></div>";
        });
        html += "</fieldset>";
        if (res.more) { html += "<p class='fr-text--xs'>" + escapeHtml(t("valuesMore", {n: (res.values || []).length})) + "</p>"; }
        html += "<button type='button' class='fr-btn fr-btn--sm bh-vf-apply'>" + escapeHtml(t("apply")) + "</button> " +
          "<button type='button' class='fr-btn fr-btn--sm fr-btn--secondary bh-vf-clear'>" + escapeHtml(t("clearFilter")) + "</button>";
        popup.innerHTML = html;
        var first = popup.querySelector("input");
        if (first) { first.focus(); }
        popup.querySelector(".bh-vf-apply").addEventListener("click", function () {
          var boxes = popup.querySelectorAll("input[data-value]"), picked = [];
          boxes.forEach(function (b) { if (b.checked) { picked.push(b.getAttribute("data-value")); } });
          if (picked.length === boxes.length && !res.more) { delete valueFilters[field]; } else { valueFilters[field] = picked; }
          closePopup(); refreshTitles(); reload(); button.focus();
        });
        popup.querySelector(".bh-vf-clear").addEventListener("click", function () {
          delete valueFilters[field]; closePopup(); refreshTitles(); reload();
        });
      });
    popup.addEventListener("keydown", function (e) { if (e.key === "Escape") { closePopup(); button.focus(); } });
  }
  /* The letters formulas name the columns by (A, B, …), over the visible columns. */
  function refreshLetters() {
    dataColumns().forEach(function (col, i) {
      var span = col.getElement().querySelector(".bh-col-letter");
      if (span) { span.textContent = letterOf(i); }
    });
  }
  function refreshTitles() {
    document.querySelectorAll("#bh-grid .bh-vf-btn").forEach(function (b) {
      b.classList.toggle("bh-vf-active", !!valueFilters[b.getAttribute("data-field")]);
    });
  }

  /* --- rows: add (the form's required fields) and delete (with confirmation) --- */
  function bindRows() {
    var form = document.getElementById("bh-grid-add-form");
    if (form) {
      form.addEventListener("submit", function (e) {
        e.preventDefault();
        var values = {};
        form.querySelectorAll("[data-add]").forEach(function (input) { values[input.getAttribute("data-add")] = input.value; });
        post(cfg.urls.add, {period: cfg.period, values: values}).then(function (res) {
          var out = document.getElementById("bh-grid-add-errors");
          out.innerHTML = "";
          if (res.ok) {
            form.reset();
            reload().then(function () { say(res.message); });
            return;
          }
          (res.errors || [{message: res.message}]).forEach(function (er) {
            var li = document.createElement("li");
            li.textContent = (er.field && byField[er.field] ? byField[er.field].label + " : " : "") + er.message;
            out.appendChild(li);
          });
          warn(res.message);
        });
      });
    }
    var del = document.getElementById("bh-grid-delete");
    if (del) {
      del.addEventListener("click", function () {
        var keys = [];
        activeCells().forEach(function (line) {
          if (line.length) { var k = line[0].getRow().getData()._k; if (keys.indexOf(k) < 0) { keys.push(k); } }
        });
        if (!keys.length) { say(t("deleteNeedsRows")); return; }
        if (!window.confirm(t("confirmDelete", {n: keys.length}))) { return; }
        post(cfg.urls["delete"], {period: cfg.period, rows: keys.map(function (k) {
          return {k: k, v: meta[k] ? meta[k].v : null, pv: meta[k] ? meta[k].pv : null};
        })}).then(function (res) {
          if (res.ok) {
            keys.forEach(function (k) { delete edits[k]; });
            countEdits();
            reload().then(function () { say(res.message); });
          } else { say(t("saveRefused")); warn(res.message); }
        });
      });
    }
  }

  /* --- the grid's state, for saved views (window.bhasileGrid) --- */
  function getState() {
    var cols = table.getColumns().filter(function (c) { return !!c.getField(); });
    var filters = {};
    table.getHeaderFilters().forEach(function (f) { filters[f.field] = f.value; });
    Object.keys(valueFilters).forEach(function (f) { filters[f] = valueFilters[f].slice(); });
    return {columns: cols.map(function (c) { return {field: c.getField(), visible: c.isVisible(), width: c.getWidth()}; }),
            frozen: frozen.slice(), sort: table.getSorters().map(function (s) { return {field: s.field, dir: s.dir}; }),
            filters: filters, search: search};
  }
  function applyState(state) {
    state = state || {};
    if (Array.isArray(state.columns)) {
      order = state.columns.map(function (c) { return c.field; }).filter(function (f) { return byField[f]; });
      widths = {}; userHidden = [];
      state.columns.forEach(function (c) {
        if (!byField[c.field]) { return; }
        if (c.width) { widths[c.field] = c.width; }
        if (c.visible === false && !isN1(c.field)) { userHidden.push(c.field); }
        if (isN1(c.field) && c.visible) { showN1 = true; }
      });
    }
    if (Array.isArray(state.frozen)) { frozen = state.frozen.filter(function (f) { return byField[f]; }); }
    valueFilters = {};
    var header = [];
    Object.keys(state.filters || {}).forEach(function (f) {
      if (!byField[f]) { return; }
      if (Array.isArray(state.filters[f])) { valueFilters[f] = state.filters[f].map(String); } else { header.push({field: f, value: state.filters[f]}); }
    });
    search = String(state.search || "");
    var box = document.getElementById("bh-grid-search");
    if (box) { box.value = search; }
    var n1 = document.getElementById("bh-grid-n1");
    if (n1) { n1.checked = showN1; }
    syncFrozenSelect();
    table.blockRedraw();
    table.setColumns(orderedColumns().map(columnDef));
    table.clearHeaderFilter();
    header.forEach(function (f) { table.setHeaderFilterValue(f.field, f.value); });
    table.setSort((state.sort || []).filter(function (s) { return byField[s.field]; }).map(function (s) { return {column: s.field, dir: s.dir === "desc" ? "desc" : "asc"}; }));
    table.restoreRedraw();
    nameControls();
    refreshLetters();
    return reload();
  }

  function syncFrozenSelect() {
    var sel = document.getElementById("bh-grid-frozen");
    if (!sel) { return; }
    var cols = orderedColumns().filter(function (c) { return !isN1(c.field); }), last = 0;
    cols.forEach(function (c, i) { if (frozen.indexOf(c.field) >= 0) { last = i; } });
    sel.value = cols[last] ? cols[last].field : "code_dna";
  }

  function bindToolbar() {
    if (saveBtn) { saveBtn.addEventListener("click", save); }
    var fill = document.getElementById("bh-grid-fill");
    if (fill) { fill.addEventListener("click", fillDown); }
    var revert = document.getElementById("bh-grid-revert");
    if (revert) {
      revert.addEventListener("click", function () {
        edits = {}; history = []; future = []; showErrors([]); countEdits();
        reload().then(function () { say(t("reverted")); });
      });
    }
    var undo = document.getElementById("bh-grid-undo");
    if (undo) {
      undo.addEventListener("click", function () {
        if (countEdits() && !window.confirm(t("confirmUndo"))) { return; }
        post(cfg.urls.undo, {}).then(function (res) {
          if (res.ok) {
            edits = {}; meta = {}; history = []; future = []; showErrors([]); countEdits();
            reload().then(function () { say(res.message); });
          } else { warn(res.message); }
        });
      });
    }
    var undoEditBtn = document.getElementById("bh-grid-undo-edit");
    if (undoEditBtn) { undoEditBtn.addEventListener("click", undoEdit); }
    var redoEditBtn = document.getElementById("bh-grid-redo-edit");
    if (redoEditBtn) { redoEditBtn.addEventListener("click", redoEdit); }
    document.getElementById("bh-grid-export").addEventListener("click", function (e) {
      e.currentTarget.href = exportUrl();
    });
    var searchBox = document.getElementById("bh-grid-search"), timer = null;
    if (searchBox) {
      searchBox.addEventListener("input", function () {
        window.clearTimeout(timer);
        timer = window.setTimeout(function () { search = searchBox.value.trim(); reload(); }, 400);
      });
    }
    var n1 = document.getElementById("bh-grid-n1");
    if (n1) {
      n1.addEventListener("change", function () {
        showN1 = n1.checked;
        cfg.columns.forEach(function (c) { if (isN1(c.field)) { if (showN1) { table.showColumn(c.field); } else { table.hideColumn(c.field); } } });
        refreshLetters();
      });
    }
    var totals = document.getElementById("bh-grid-totals");
    if (totals) {
      totals.addEventListener("change", function () {
        showTotals = totals.checked;
        document.getElementById("bh-grid").classList.toggle("bh-totals", showTotals);
        table.recalc();
      });
    }
    var frozenSel = document.getElementById("bh-grid-frozen");
    if (frozenSel) {
      frozenSel.addEventListener("change", function () {
        var cols = orderedColumns().filter(function (c) { return !isN1(c.field); }), out = [];
        for (var i = 0; i < cols.length; i += 1) { out.push(cols[i].field); if (cols[i].field === frozenSel.value) { break; } }
        frozen = out;
        rebuild();
      });
    }
    document.querySelectorAll(".bh-grid-columns input[data-column]").forEach(function (box) {
      box.addEventListener("change", function () {
        var field = box.getAttribute("data-column");
        if (box.checked) { table.showColumn(field); } else { table.hideColumn(field); }
        refreshLetters();
        var hidden = [];
        document.querySelectorAll(".bh-grid-columns input[data-column]").forEach(function (b) {
          if (!b.checked) { hidden.push(b.getAttribute("data-column")); }
        });
        userHidden = hidden;
        post(cfg.urls.columns, {hidden: hidden}, true);  /* kept even if the page is left or reloaded at once */
      });
    });
    document.addEventListener("mousedown", function (e) {
      if (popup && !popup.contains(e.target) && !e.target.closest(".bh-vf-btn")) { closePopup(); }
    });
    document.getElementById("bh-grid").addEventListener("mousedown", function (e) {
      if (e.target.closest(".bh-vf-btn")) { e.stopPropagation(); }  // not a column selection
    }, true);
    document.getElementById("bh-grid").addEventListener("click", function (e) {
      var b = e.target.closest(".bh-vf-btn");
      if (b) { e.stopPropagation(); e.preventDefault(); openValueFilter(b); }
    }, true);
    bindRows();
    window.addEventListener("beforeunload", function (e) {
      if (countEdits()) { e.preventDefault(); e.returnValue = ""; }
    });
  }

  /* The DSFR's engine watches every change of the page (attributes too) and re-examines each
     changed element against its components' selectors: as a 1,000-row page scrolls, Tabulator
     changes thousands of cells, and that watch cost more than drawing them. The grid holds no
     DSFR component: its changes are kept from the engine (the rest of the page is watched as
     before). Without that engine, or if it changes shape, nothing is done. */
  function quietDsfr() {
    var stage = window.dsfr && window.dsfr.internals && window.dsfr.internals.stage;
    var box = document.getElementById("bh-grid");
    if (!stage || !stage.observer || typeof stage.mutate !== "function" || stage.bhQuiet) { return; }
    stage.observer.disconnect();
    stage.observer = new MutationObserver(function (records) {
      records = records.filter(function (r) { return !box.contains(r.target); });
      if (records.length) { stage.mutate(records); }
    });
    stage.observer.observe(document.documentElement, {childList: true, subtree: true, attributes: true});
    stage.bhQuiet = true;
  }
  document.documentElement.addEventListener("dsfr.start", function () { window.setTimeout(quietDsfr, 0); });
  window.addEventListener("load", quietDsfr);

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

  /* The first page from the HTML when the grid asks for it as it was drawn (page 1 of 100
     rows, nothing filtered or sorted); any other page from the server. */
  function request(url, config, params) {
    var page = firstPage;
    firstPage = null;
    var plain = params.page === 1 && params.size === 100 && !params.q && !params.valeurs &&
      !(params.filter || []).length && !(params.sort || []).length;
    if (page && plain) { return Promise.resolve(page); }
    return this.constructor.defaultLoaderPromise.call(this, url, config, params);
  }

  /* A fixed height (70% of the window, less for a short first page): the table's size never
     changes when rows arrive, so Tabulator draws them once, never again on a resize. */
  function tableHeight() {
    var rows = firstPage ? firstPage.rows.length : 100;
    var needed = 140 + Math.max(rows, 3) * (ROW_HEIGHT + 1);
    return needed < window.innerHeight * 0.7 ? needed + "px" : "70vh";
  }

  table = new window.Tabulator("#bh-grid", {
    height: tableHeight(), layout: "fitData", index: "_k", headerSortClickElement: "icon",
    renderVertical: "virtual", renderVerticalBuffer: 300, rowHeight: ROW_HEIGHT, columnHeaderSortMulti: true,
    ajaxURL: cfg.urls.data, ajaxRequestFunc: request,
    ajaxParams: function () {
      var p = Object.assign({}, cfg.period);
      if (search) { p.q = search; }
      if (Object.keys(valueFilters).length) { p.valeurs = JSON.stringify(valueFilters); }
      return p;
    },
    ajaxResponse: loaded,
    pagination: true, paginationMode: "remote", paginationSize: 100,
    paginationSizeSelector: [50, 100, 250, 500, 1000], paginationCounter: "rows",
    filterMode: "remote", sortMode: "remote", headerFilterLiveFilterDelay: 500,
    columns: orderedColumns().map(columnDef), columnCalcs: "table",
    columnDefaults: {resizable: "header"},  // widths change from the header: no handle in every cell
    rowHeader: {title: t("rowNumber"), resizable: false, frozen: true, width: 48, hozAlign: "center", formatter: "rownum",
                cssClass: "bh-row-header", headerSort: false, editor: false},
    selectableRange: 1, selectableRangeColumns: true, selectableRangeRows: true,
    selectableRangeClearCells: false, editTriggerEvent: "dblclick",
    clipboard: true, clipboardCopyStyled: false, clipboardCopyRowRange: "range",
    clipboardCopyConfig: {rowHeaders: false, columnHeaders: false, formatCells: false, columnCalcs: false},
    clipboardPasteParser: pasteParser, clipboardPasteAction: pasteAction,
    placeholder: t("empty"),
    locale: "bh", langs: {bh: {pagination: {first: t("first"), first_title: t("firstTitle"), last: t("last"),
      last_title: t("lastTitle"), prev: t("prev"), prev_title: t("prevTitle"), next: t("next"),
      next_title: t("nextTitle"), page_size: t("rowsPerPage"),
      counter: {showing: t("showing"), of: t("of"), rows: t("rows"), pages: t("pages")}},
      headerFilters: {"default": t("filter")}, data: {loading: t("loading"), error: t("error")}}}
  });
  table.on("cellEdited", function (cell) {
    if (applying) { return; }
    var k = cell.getRow().getData()._k, field = cell.getField(), before = cell.getOldValue(), value = cell.getValue();
    if (errors[k]) { delete errors[k][field]; }  // corrected: the mark goes until the next save
    if (isFormula(value)) {
      try { value = resolve(value); } catch (e) { value = before; warn(e.message); }
      applying = true;
      try { cell.setValue(value); } finally { applying = false; }
    }
    if (norm(before) !== norm(value)) { history.push([{k: k, field: field, before: before, after: value}]); future = []; }
    sync(cell.getRow());
    selectionStats();
  });
  table.on("rangeChanged", selectionStats);
  table.on("tableBuilt", function () {
    ariaRoles();
    table.element.addEventListener("keydown", onKey, true);
    nameControls();
    refreshLetters();
  });
  bindToolbar();
  window.bhGrid = table;
  window.bhasileGrid = {getState: getState, applyState: applyState};
}());
