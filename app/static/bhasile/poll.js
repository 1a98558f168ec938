/* Polling of a background job's JSON status, shared by the export and import progress pages:
 * ``bhPoll(url, show)`` calls ``show(state)`` at each answer until it returns true (finished);
 * a busy or restarting server is asked again, slower (up to every 15 s). */
(function () {
  "use strict";

  window.bhPoll = function (url, show) {
    var delay = 1000;

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
          delay = Math.min(delay * 2, 15000);
          window.setTimeout(poll, delay);
        });
    }

    window.setTimeout(poll, delay);
  };
}());
