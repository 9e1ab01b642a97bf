/* Billing Centre: small progressive enhancements. Every page works without this file. */
(function () {
  "use strict";
  var root = document.documentElement;
  root.classList.add("js");

  document.addEventListener("DOMContentLoaded", function () {
    // Narrow screens: collapse the side navigation behind the Menu button.
    var toggle = document.querySelector(".nav-toggle");
    var nav = document.getElementById("side-nav");
    if (toggle && nav) {
      toggle.hidden = false;
      toggle.addEventListener("click", function () {
        var open = nav.classList.toggle("is-open");
        toggle.setAttribute("aria-expanded", open ? "true" : "false");
      });
    }

    // Disclosure menus (user menu, table Actions menus): close on Escape or a click elsewhere.
    function closeMenus(except) {
      document.querySelectorAll("details.user-menu[open], details.actions-menu[open]").forEach(
        function (menu) {
          if (menu !== except) {
            menu.removeAttribute("open");
          }
        }
      );
    }
    document.addEventListener("click", function (event) {
      var inside = event.target.closest("details.user-menu, details.actions-menu");
      closeMenus(inside);
    });
    // An error summary (role="alert") takes the focus, so keyboard and screen-reader users
    // start at the list of what to correct; each entry links to its field.
    var errorSummary = document.querySelector("[data-error-summary], #form-errors");
    if (errorSummary && document.activeElement === document.body) {
      errorSummary.focus();
    }
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape") {
        var open = document.querySelector("details.user-menu[open], details.actions-menu[open]");
        if (open) {
          open.removeAttribute("open");
          var summary = open.querySelector("summary");
          if (summary) {
            summary.focus();
          }
        }
      }
    });
  });
})();
