/* The dialogue page while the decision's notification is generated in the background
 * (templates bhasile/dialogue/_statut.html): polls its JSON status and reloads the page once
 * the PDF is stored (its link shows) or the generation failed (its reason shows). */
(function () {
  "use strict";

  var root = document.getElementById("bh-notification");
  if (!root) {
    return;
  }
  window.bhPoll(root.getAttribute("data-status-url"), function (state) {
    if (state.statut === "en_cours") {
      return false;
    }
    window.location.reload();
    return true;
  });
}());
