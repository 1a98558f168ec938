/* BHasile — behaviour of the FAB widgets (lists, filters, actions, forms) under the DSFR.
   No framework: confirmations in the DSFR dialog #bh-confirm (window.confirm when the page has
   none), "select all" for bulk actions, the filter rows of the list pages, focus on a form's
   error summary. Loaded on every page; each part does nothing when its markup is absent. */
(function () {
  "use strict";

  /* ---- confirmation of delete and action forms (data-bh-confirm) ---- */
  var pending = null;
  var pendingSubmitter = null;
  var opener = null;

  function confirmationOf(form, submitter) {
    if (submitter && submitter.hasAttribute("data-bh-confirm")) {
      return submitter.getAttribute("data-bh-confirm");  // a row's delete button names its row
    }
    var select = form.querySelector("select[name=action]");
    if (select && select.selectedIndex >= 0) {
      return select.options[select.selectedIndex].getAttribute("data-bh-confirm");
    }
    return form.getAttribute("data-bh-confirm");
  }

  function noRowSelected(form) {
    if (!form.hasAttribute("data-bh-actions")) return false;
    var checked = document.querySelectorAll('input[data-bh-row-check][form="' + form.id + '"]:checked');
    var message = form.querySelector("[data-bh-actions-message]");
    if (checked.length) {
      if (message) message.remove();
      return false;
    }
    if (!message) {
      message = document.createElement("p");
      message.className = "fr-error-text";
      message.setAttribute("role", "alert");
      message.setAttribute("data-bh-actions-message", "");
      form.appendChild(message);
    }
    message.textContent = form.getAttribute("data-bh-none-selected");
    return true;
  }

  function send(form, submitter) {
    // form.submit() ignores the button's formaction: the rows' shared form takes it here
    if (submitter && submitter.hasAttribute("formaction")) form.action = submitter.formAction;
    form.setAttribute("data-bh-confirmed", "");
    form.submit();
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (noRowSelected(form)) {
      event.preventDefault();
      return;
    }
    var submitter = event.submitter || null;
    var text = confirmationOf(form, submitter);
    if (!text || form.hasAttribute("data-bh-confirmed")) return;
    event.preventDefault();
    var dialog = document.getElementById("bh-confirm");
    if (!dialog || !window.dsfr) {
      if (window.confirm(text)) send(form, submitter);
      return;
    }
    pending = form;
    pendingSubmitter = submitter;
    opener = submitter || document.activeElement;
    dialog.querySelector("[data-bh-confirm-text]").textContent = text;
    window.dsfr(dialog).modal.disclose();
  });

  // back to the list from the browser's cache: the next delete asks again
  window.addEventListener("pageshow", function () {
    Array.prototype.forEach.call(document.querySelectorAll("form[data-bh-confirmed]"), function (form) {
      form.removeAttribute("data-bh-confirmed");
    });
  });

  document.addEventListener("click", function (event) {
    var ok = event.target.closest("[data-bh-confirm-ok]");
    if (!ok || !pending) return;
    var form = pending;
    pending = null;
    window.dsfr(document.getElementById("bh-confirm")).modal.conceal();
    send(form, pendingSubmitter);
  });

  document.addEventListener("dsfr.conceal", function (event) {
    if (event.target.id !== "bh-confirm") return;
    if (pending && opener && opener.focus) opener.focus();  // cancelled: back to the button
    pending = null;
  });

  /* ---- bulk actions: "select all rows" ---- */
  document.addEventListener("change", function (event) {
    var all = event.target.closest("[data-bh-check-all]");
    if (!all) return;
    var boxes = document.querySelectorAll('input[data-bh-row-check][form="' + all.getAttribute("data-bh-check-all") + '"]');
    Array.prototype.forEach.call(boxes, function (box) { box.checked = all.checked; });
  });

  /* ---- filter rows of the list pages (FAB query string: _flt_<condition>_<column>) ---- */
  function initFilters(form) {
    var list = form.querySelector("[data-bh-filter-list]");
    var empty = form.querySelector("[data-bh-filter-empty]");
    var addButton = form.querySelector("[data-bh-filter-add]");
    var rowTemplate = form.querySelector("template[data-bh-filter-template]");
    var ops = JSON.parse(form.querySelector("[data-bh-filter-ops]").textContent);
    var count = list.querySelectorAll("[data-bh-filter-row]").length;

    function valueTemplate(column) {
      var templates = form.querySelectorAll("template[data-bh-filter-value-template]");
      for (var i = 0; i < templates.length; i++) {
        if (templates[i].getAttribute("data-bh-filter-value-template") === column) return templates[i];
      }
      return null;
    }

    // an active filter on a long list came with its chosen option only: the others back
    function fill(select) {
      var row = select.closest("[data-bh-filter-row]");
      var template = valueTemplate(row.querySelector("[data-bh-filter-col]").value);
      var full = template && template.content.querySelector("select");
      if (!full) return;
      var chosen = {};
      Array.prototype.forEach.call(select.selectedOptions, function (o) { chosen[o.value] = true; });
      select.innerHTML = full.innerHTML;
      Array.prototype.forEach.call(select.options, function (o) { o.selected = !!chosen[o.value]; });
      select.removeAttribute("data-bh-filter-fill");
    }
    Array.prototype.forEach.call(list.querySelectorAll("select[data-bh-filter-fill]"), fill);

    function rename(row) {
      var column = row.querySelector("[data-bh-filter-col]").value;
      var op = row.querySelector("[data-bh-filter-op]").value;
      var value = row.querySelector("[data-bh-filter-val]");
      if (value) value.name = "_flt_" + op + "_" + column;
    }

    function setColumn(row, id) {
      var column = row.querySelector("[data-bh-filter-col]").value;
      var opSelect = row.querySelector("[data-bh-filter-op]");
      opSelect.innerHTML = "";
      (ops[column] || []).forEach(function (name, index) {
        opSelect.add(new Option(name, String(index)));
      });
      var holder = row.querySelector("[data-bh-filter-value]");
      var old = holder.querySelector("[data-bh-filter-val]");
      var fresh = valueTemplate(column).content.firstElementChild.cloneNode(true);
      fresh.id = old ? old.id : id;
      if (old) old.replaceWith(fresh); else holder.appendChild(fresh);
      rename(row);
    }

    function refreshEmpty() {
      if (empty) empty.hidden = list.querySelector("[data-bh-filter-row]") !== null;
    }

    addButton.addEventListener("click", function () {
      count += 1;
      var holder = document.createElement("div");
      holder.innerHTML = rowTemplate.innerHTML.split("__N__").join(String(count));
      var row = holder.querySelector("[data-bh-filter-row]");
      list.appendChild(row);
      setColumn(row, form.id + "-" + count + "-val");
      refreshEmpty();
      row.querySelector("[data-bh-filter-col]").focus();
    });

    list.addEventListener("change", function (event) {
      var row = event.target.closest("[data-bh-filter-row]");
      if (!row) return;
      if (event.target.matches("[data-bh-filter-col]")) setColumn(row);
      else if (event.target.matches("[data-bh-filter-op]")) rename(row);
    });

    list.addEventListener("click", function (event) {
      var remove = event.target.closest("[data-bh-filter-remove]");
      if (!remove) return;
      remove.closest("[data-bh-filter-row]").remove();
      refreshEmpty();
      addButton.focus();
    });

    form.addEventListener("submit", function () {
      Array.prototype.forEach.call(list.querySelectorAll("[data-bh-filter-row]"), function (row) {
        rename(row);
        var value = row.querySelector("[data-bh-filter-val]");
        // an empty value is no filter (FAB would compare with "")
        if (value && value.type !== "checkbox" && (value.value === "" || value.value === "__None")) {
          value.disabled = true;
        }
      });
    });

    window.addEventListener("pageshow", function () {
      Array.prototype.forEach.call(list.querySelectorAll("[data-bh-filter-val]"), function (value) {
        value.disabled = false;
      });
    });
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("form[data-bh-filters]"), initFilters);
    var summary = document.querySelector("[data-bh-error-summary]");
    if (summary) summary.focus();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
