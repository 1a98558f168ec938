/* BHasile — behaviour shared by the pages: a DSFR table wider than the screen scrolls sideways; when
   it holds nothing focusable, its scrolling box takes the focus (tabindex 0, named by the caption) so a
   keyboard user can scroll it (RGAA 7.3, axe scrollable-region-focusable). Only boxes that do scroll. */
(function () {
  "use strict";
  var FOCUSABLE = "a[href], button, input, select, textarea, [tabindex]";

  function update() {
    document.querySelectorAll(".fr-table__container").forEach(function (box) {
      var scrolls = box.scrollWidth > box.clientWidth + 1 || box.scrollHeight > box.clientHeight + 1;
      var managed = box.hasAttribute("data-bh-scroll");
      if (scrolls && !box.querySelector(FOCUSABLE)) {
        var caption = box.querySelector("caption");
        box.setAttribute("tabindex", "0");
        box.setAttribute("role", "group");
        if (caption) { box.setAttribute("aria-label", caption.textContent.trim()); }
        box.setAttribute("data-bh-scroll", "");
      } else if (managed && !scrolls) {
        ["tabindex", "role", "aria-label", "data-bh-scroll"].forEach(function (a) { box.removeAttribute(a); });
      }
    });
  }

  document.addEventListener("DOMContentLoaded", update);
  window.addEventListener("load", update);
  var timer = null;
  window.addEventListener("resize", function () { clearTimeout(timer); timer = setTimeout(update, 200); });
  document.addEventListener("toggle", update, true);  /* tables inside <details> */
})();
