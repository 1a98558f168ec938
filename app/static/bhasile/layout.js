/* BHasile — behaviour of the page layout (header, footer, flash messages); the DSFR's own
   script does the header menu, navigation and modals. No inline script anywhere (CSP). */
(function () {
  "use strict";

  // Close button of a flash message: remove the alert, give the focus to the main content.
  document.addEventListener("click", function (event) {
    var button = event.target.closest(".fr-alert .fr-btn--close");
    if (!button) return;
    var alert = button.closest(".fr-alert");
    var list = alert.parentNode;
    alert.remove();
    if (list.classList.contains("bh-flashes") && !list.querySelector(".fr-alert")) list.remove();
    var main = document.getElementById("contenu");
    if (main) main.focus();
  });
})();
