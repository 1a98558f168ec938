/* Progress page of a large import (templates bhasile/imports/progress.html): polls the JSON
 * status, moves the <progress> bar and tells the stage, then reloads the batch page, which
 * shows the preview or the outcome. Screen readers hear each new stage, not every poll. */
(function () {
  "use strict";

  var root = document.getElementById("bh-import");
  if (!root || root.getAttribute("data-finished") === "true") {
    return;
  }
  var url = root.getAttribute("data-status-url");
  var el = function (id) { return document.getElementById(id); };
  var bar = el("bh-import-progress");
  var lastStage = null;

  function show(state) {
    if (state.finished) {
      window.location.assign(state.page_url);
      return true;
    }
    bar.max = Math.max(state.rows_total, 1);
    bar.value = Math.min(state.rows_done, bar.max);
    bar.textContent = state.percent + " %";
    el("bh-import-count").textContent = state.percent + " %";
    el("bh-import-message").textContent = state.message;
    if (state.stage !== lastStage) {
      el("bh-import-live").textContent = state.message;
      lastStage = state.stage;
    }
    return false;
  }

  window.bhPoll(url, show);
}());
