// Dialogue budgétaire, agent's screen: the totals and the coût journalier with the proposals
// update as the agent types (a blank proposal keeps the amount asked).
(function () {
  "use strict";
  var form = document.getElementById("form-agent");
  if (!form || !form.querySelector("[data-propose]")) { return; }
  function read(text) {
    var clean = String(text || "").replace(/[\s\u00a0\u202f€]/g, "").replace(",", ".");
    if (clean === "") { return null; }
    var n = Number(clean);
    return isFinite(n) ? n : null;
  }
  function money(n) {
    return n.toLocaleString("fr-FR", {minimumFractionDigits: 2, maximumFractionDigits: 2}) + " €";
  }
  function update() {
    var sums = {charges: 0, produits: 0}, dotation = null, places = null;
    form.querySelectorAll("tr[data-code]").forEach(function (row) {
      var input = row.querySelector("[data-propose]");
      var value = input ? read(input.value) : null;
      if (value === null) { value = read(row.dataset.demande); }
      if (row.dataset.groupe in sums && value !== null) { sums[row.dataset.groupe] += value; }
      if (row.dataset.code === "produits_1") { dotation = value; }
      if (row.dataset.code === "places") { places = value; }
    });
    Object.keys(sums).forEach(function (g) {
      var cell = form.querySelector('[data-total-propose="' + g + '"]');
      if (cell) { cell.textContent = money(sums[g]); }
    });
    places = places || Number(form.dataset.jours) || null;
    var year = Number(form.dataset.annee);
    var days = (year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)) ? 366 : 365;
    var out = document.querySelector("[data-cout-propose]");
    if (out && dotation !== null && places) {
      out.textContent = (dotation / (places * days)).toLocaleString("fr-FR", {minimumFractionDigits: 2, maximumFractionDigits: 2});
    }
  }
  form.addEventListener("input", update);
  update();
})();
