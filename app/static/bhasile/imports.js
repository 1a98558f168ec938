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
  var delay = 1000;

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

  function poll() {
    fetch(url, {credentials: "same-origin", headers: {Accept: "application/json"}, cache: "no-store"})
      .then(function (response) {
        if (!response.ok) {
          throw new Error(String(response.status));
        }
        return response.json();
      })
      .then(function (state) {
        delay = 1000;
        if (!show(state)) {
          window.setTimeout(poll, delay);
        }
      })
      .catch(function () {
        delay = Math.min(delay * 2, 15000);  // server busy or restarting: try again, slower
        window.setTimeout(poll, delay);
      });
  }

  window.setTimeout(poll, delay);
}());
