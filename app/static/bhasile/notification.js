/* The dialogue page while the decision's notification is generated in the background
 * (templates bhasile/dialogue/_statut.html): polls its JSON status and, once the PDF is stored,
 * puts its link in place of the waiting words — or says that the generation failed. The page is
 * not reloaded: what the agent or the opérateur is typing in the page's forms stays. */
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
    if (state.url) {
      var link = document.createElement("a");
      link.className = "fr-link";
      link.href = state.url;
      link.textContent = root.getAttribute("data-label-pdf");
      root.replaceChildren(link);
    } else {
      root.textContent = root.getAttribute("data-label-echec");
    }
    return true;
  });
}());
