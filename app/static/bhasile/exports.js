/* Progress page of a background export (templates bhasile/exports/job.html): polls the JSON
 * status, moves the <progress> bar, then shows the download link or the error.
 * Screen readers hear the status changes and every quarter, not every poll. */
(function () {
  "use strict";

  var root = document.getElementById("bh-export");
  if (!root || root.getAttribute("data-finished") === "true") {
    return;
  }
  var url = root.getAttribute("data-status-url");
  var el = function (id) { return document.getElementById(id); };
  var bar = el("bh-export-progress");
  var lastStatus = null;
  var lastQuarter = 0;

  function announce(text) {
    el("bh-export-live").textContent = text;
  }

  function show(state) {
    var total = Math.max(state.rows_total, 1);
    bar.max = total;
    bar.value = state.status === "termine" ? total : Math.min(state.rows_done, total);
    bar.textContent = state.percent + " %";
    el("bh-export-count").textContent = state.rows_done + " / " + state.rows_total + " — " + state.percent + " %";
    el("bh-export-message").textContent = state.message;
    var badge = el("bh-export-status");
    badge.textContent = state.status_label;
    badge.className = "fr-badge fr-badge--sm fr-badge--no-icon" + ({
      termine: " fr-badge--success", echec: " fr-badge--error", en_cours: " fr-badge--info",
      en_attente: " fr-badge--new"
    }[state.status] || "");
    var quarter = Math.floor(state.percent / 25);
    if (state.status !== lastStatus) {
      announce(state.message);
    } else if (quarter > lastQuarter && !state.finished) {
      announce(state.percent + " %");
    }
    lastStatus = state.status;
    lastQuarter = quarter;
    if (state.download_url) {
      el("bh-export-link").href = state.download_url;
      el("bh-export-expires").textContent = state.expires_message;
      el("bh-export-download").hidden = false;
    }
    if (state.error) {
      el("bh-export-error-text").textContent = state.error;
      el("bh-export-error").hidden = false;
    }
    return state.finished;
  }

  window.bhPoll(url, show);
}());
