/* BHasile — choose an opérateur by typing part of its name (list and map filters): the page
   no longer embeds every opérateur of the territory (thousands nationally); the server's
   scoped endpoint (data-source) proposes the first matches. ARIA 1.2 combobox: the text
   field (role=combobox) owns a listbox; ↓/↑ move through the options, Enter or a click picks
   one (the hidden field "operateur" gets its id and a change event, so the map refilters),
   Escape closes; emptying the field clears the filter. Options are built with text nodes. */
(function () {
  "use strict";

  function setup(box) {
    var input = box.querySelector("[role=combobox]");
    var hidden = box.querySelector("input[type=hidden]");
    var list = box.querySelector("[role=listbox]");
    var status = box.querySelector("[aria-live]");
    var source = box.getAttribute("data-source");
    var timer = null, active = -1, items = [], seq = 0;

    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function highlight(index) {
      var options = list.querySelectorAll("[role=option]");
      if (!options.length) { return; }
      active = (index + options.length) % options.length;
      Array.prototype.forEach.call(options, function (o, i) { o.setAttribute("aria-selected", i === active ? "true" : "false"); });
      input.setAttribute("aria-activedescendant", options[active].id);
      options[active].scrollIntoView({ block: "nearest" });
    }

    function pick(item) {
      input.value = item.nom;
      var changed = hidden.value !== String(item.id);
      hidden.value = String(item.id);
      close();
      if (changed) { hidden.dispatchEvent(new Event("change", { bubbles: true })); }
    }

    function render(found) {
      items = found;
      list.textContent = "";
      found.forEach(function (item, i) {
        var li = document.createElement("li");
        li.id = list.id + "-" + i;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", "false");
        li.textContent = item.nom;
        li.addEventListener("mousedown", function (event) { event.preventDefault(); pick(item); });
        list.appendChild(li);
      });
      var text = found.length ? box.getAttribute("data-label-found").replace("%(n)s", String(found.length))
                              : box.getAttribute("data-label-none");
      if (status) { status.textContent = text; }
      list.hidden = !found.length;
      input.setAttribute("aria-expanded", found.length ? "true" : "false");
      active = -1;
    }

    function search() {
      var q = input.value.trim();
      var mine = ++seq;
      fetch(source + "?q=" + encodeURIComponent(q), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : { operateurs: [] }; })
        .then(function (d) { if (mine === seq && document.activeElement === input) { render(d.operateurs); } });
    }

    input.addEventListener("input", function () {
      if (!input.value.trim() && hidden.value) {
        hidden.value = "";
        hidden.dispatchEvent(new Event("change", { bubbles: true }));
      }
      clearTimeout(timer);
      timer = setTimeout(search, 200);
    });
    input.addEventListener("focus", function () { if (!input.value.trim()) { search(); } });
    input.addEventListener("keydown", function (event) {
      if (event.key === "ArrowDown") { event.preventDefault(); if (list.hidden) { search(); } else { highlight(active + 1); } }
      else if (event.key === "ArrowUp") { event.preventDefault(); highlight(active - 1); }
      else if (event.key === "Enter" && !list.hidden && active >= 0) { event.preventDefault(); pick(items[active]); }
      else if (event.key === "Escape") { close(); }
    });
    input.addEventListener("blur", function () { setTimeout(close, 150); });
    /* the text field itself is not a filter: a change on it must not refilter the map */
    input.addEventListener("change", function (event) { event.stopPropagation(); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll(".bh-autocomplete"), setup);
  });
})();
